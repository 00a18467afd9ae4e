#include "commands/info_text.h"

namespace tollgate {
namespace {

bool needs_escape(unsigned char c) {
  return c < 0x20 || c >= 0x7f || c == ':' || c == ',' || c == '=' || c == '%' || c == ' ' || c == '#';
}

int info_hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string info_escape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (!needs_escape(c)) {
      out += ch;
      continue;
    }
    out += '%';
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}

std::string info_unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && info_hex_value(text[i + 1]) >= 0 && info_hex_value(text[i + 2]) >= 0) {
      out += static_cast<char>(info_hex_value(text[i + 1]) * 16 + info_hex_value(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace tollgate
