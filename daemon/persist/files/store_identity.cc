#include "persist/files/store_identity.h"

#include <sys/random.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

namespace tollgate::files {
namespace {

constexpr std::string_view kIdentityMagic = "tollgate-store ";
constexpr std::string_view kCheck = "check ";
constexpr size_t kMaxIdentityBytes = 4096;

std::string hex64(uint64_t v) {
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(v));
  return out;
}

template <typename T>
bool parse_number(std::string_view text, T& out, int base = 10) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return ec == std::errc() && end == text.data() + text.size();
}

// The value of the line "<key> <value>" that starts at `pos`; advances `pos`.
bool take_line(std::string_view text, size_t& pos, std::string_view key, std::string_view& value) {
  const size_t end = text.find('\n', pos);
  if (end == std::string_view::npos) return false;
  std::string_view line = text.substr(pos, end - pos);
  if (!line.starts_with(key) || line.size() <= key.size() || line[key.size()] != ' ') return false;
  value = line.substr(key.size() + 1);
  pos = end + 1;
  return true;
}

bool is_hex_id(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

StoreIdentity new_store_identity(int64_t now_ms) {
  unsigned char bytes[16] = {};
  size_t have = 0;
  while (have < sizeof bytes) {
    ssize_t got = ::getrandom(bytes + have, sizeof bytes - have, 0);
    if (got > 0) have += static_cast<size_t>(got);
    else if (errno != EINTR) break;
  }
  if (have < sizeof bytes) {
    // No entropy source: the id only names the store, so a hash of the time
    // and pid still tells stores apart in practice.
    uint64_t seed[2] = {static_cast<uint64_t>(now_ms), static_cast<uint64_t>(::getpid())};
    XXH128_hash_t h = XXH3_128bits(seed, sizeof seed);
    std::memcpy(bytes, &h, sizeof bytes);
  }
  StoreIdentity identity;
  for (unsigned char b : bytes) {
    char two[3];
    std::snprintf(two, sizeof two, "%02x", b);
    identity.id += two;
  }
  identity.created_ms = now_ms;
  return identity;
}

std::string encode_identity(const StoreIdentity& identity) {
  std::string text = std::string(kIdentityMagic) + std::to_string(identity.format) + "\n";
  text += "id " + identity.id + "\n";
  text += "created_ms " + std::to_string(identity.created_ms) + "\n";
  text += "durable_seq " + std::to_string(identity.durable_seq) + "\n";
  text += std::string(kCheck) + hex64(XXH3_64bits(text.data(), text.size())) + "\n";
  return text;
}

std::expected<StoreIdentity, std::string> decode_identity(std::string_view text) {
  const size_t check_at = text.rfind(kCheck);
  if (check_at == std::string_view::npos || (check_at != 0 && text[check_at - 1] != '\n'))
    return std::unexpected("no check line");
  uint64_t check = 0;
  std::string_view check_text = text.substr(check_at + kCheck.size());
  if (!check_text.ends_with('\n') || !parse_number(check_text.substr(0, check_text.size() - 1), check, 16))
    return std::unexpected("malformed check line");
  if (XXH3_64bits(text.data(), check_at) != check) return std::unexpected("checksum mismatch (the file is damaged)");
  const std::string_view body = text.substr(0, check_at);
  StoreIdentity identity;
  size_t pos = 0;
  std::string_view value;
  if (!body.starts_with(kIdentityMagic)) return std::unexpected("not a tollgate store identity");
  const size_t first_end = body.find('\n');
  if (!parse_number(body.substr(kIdentityMagic.size(), first_end - kIdentityMagic.size()), identity.format))
    return std::unexpected("malformed format line");
  if (identity.format != kIdentityFormat)
    return std::unexpected("format " + std::to_string(identity.format) + ", this tollgated reads format " +
                           std::to_string(kIdentityFormat) + " (written by another version)");
  pos = first_end + 1;
  if (!take_line(body, pos, "id", value) || !is_hex_id(value)) return std::unexpected("malformed id line");
  identity.id = std::string(value);
  if (!take_line(body, pos, "created_ms", value) || !parse_number(value, identity.created_ms))
    return std::unexpected("malformed created_ms line");
  if (!take_line(body, pos, "durable_seq", value) || !parse_number(value, identity.durable_seq))
    return std::unexpected("malformed durable_seq line");
  if (pos != body.size()) return std::unexpected("unexpected lines");
  return identity;
}

Result<IdentityRead> read_identity(FileSystem& fs, const std::string& dir) {
  const std::string path = join_path(dir, kIdentityFileName);
  IdentityRead out;
  auto opened = fs.open(path, O_RDONLY);
  if (!opened) {
    if (opened.error().error_number == ENOENT) return out;
    return std::unexpected(std::move(opened.error()));
  }
  ScopedFile file(fs, std::move(*opened));
  std::string text(kMaxIdentityBytes + 1, '\0');
  auto got = read_full_at(fs, file.get(), text.data(), text.size(), 0);
  if (!got) return std::unexpected(std::move(got.error()));
  text.resize(*got);
  out.state = IdentityRead::State::kUnreadable;
  if (text.size() > kMaxIdentityBytes) {
    out.problem = "larger than " + std::to_string(kMaxIdentityBytes) + " bytes";
    return out;
  }
  auto decoded = decode_identity(text);
  if (!decoded) {
    out.problem = decoded.error();
    return out;
  }
  out.state = IdentityRead::State::kValid;
  out.identity = std::move(*decoded);
  return out;
}

Result<void> write_identity(FileSystem& fs, const std::string& dir, const StoreIdentity& identity) {
  const std::string path = join_path(dir, kIdentityFileName);
  const std::string tmp = path + ".tmp";
  {
    auto opened = fs.open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!opened) return std::unexpected(std::move(opened.error()));
    ScopedFile file(fs, std::move(*opened));
    if (auto w = write_all_at(fs, file.get(), encode_identity(identity), 0); !w) return w;
    if (auto s = fs.fsync(file.get()); !s) return s;
    if (auto c = file.close(); !c) return c;
  }
  if (auto r = fs.rename(tmp, path); !r) return r;
  return fsync_directory(fs, dir);
}

}  // namespace tollgate::files
