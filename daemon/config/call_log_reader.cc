#include "config/call_log_reader.h"

#include <charconv>
#include <limits>

#include "config/config_paths.h"

namespace tollgate {

void read_call_log(ErrorSink& errors, const MapReader& root, CallLogConfig& out, std::string_view base_dir) {
  const MapReader::Entry* section = root.find("call_log");
  if (section == nullptr) return;
  const MapReader c(errors, section->value, root.path_of("call_log"),
                    {"enabled", "dir", "sample", "max_bytes", "segment_bytes", "segment_age", "flush_interval",
                     "buffer_bytes"},
                    section->key_line);
  out.enabled = true;
  c.read_bool("enabled", out.enabled);
  c.read_string("dir", out.dir);
  if (out.dir.empty()) c.error(*c.find("dir"), "must not be empty");
  out.dir = resolve_config_path(base_dir, out.dir);
  if (const MapReader::Entry* s = c.find("sample")) {
    const std::string text = s->value.IsScalar() ? s->value.Scalar() : std::string();
    double v = -1;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || !(v > 0.0 && v <= 1.0))
      c.error(*s, "expected a fraction in (0, 1], got '" + text + "'");
    else
      out.sample = v;
  }
  const int64_t max = std::numeric_limits<int64_t>::max();
  c.read_size("max_bytes", out.max_bytes, 1 << 20, max);
  c.read_size("segment_bytes", out.segment_bytes, 64 << 10, int64_t{1} << 30);
  c.read_duration("segment_age", out.segment_age);
  c.read_duration("flush_interval", out.flush_interval);
  c.read_size("buffer_bytes", out.buffer_bytes, 64 << 10, int64_t{1} << 30);
  if (out.segment_bytes > out.max_bytes && c.find("segment_bytes") != nullptr)
    c.error(*c.find("segment_bytes"), "larger than max_bytes");
}

}  // namespace tollgate
