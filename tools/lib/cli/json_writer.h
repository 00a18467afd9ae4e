// A minimal JSON writer for the CLI's --json output: objects and arrays built
// in order (keys keep the daemon's field order), strings escaped per RFC 8259.
// Not thread-safe; one writer per document.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate::cli {

// `text` as a quoted JSON string; control characters and invalid UTF-8 bytes
// are escaped (\u00XX) so the output is always valid JSON.
[[nodiscard]] std::string json_quote(std::string_view text);

class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  // Inside an object: the next value's key.
  JsonWriter& key(std::string_view name);
  JsonWriter& string(std::string_view text);
  JsonWriter& number(int64_t n);
  JsonWriter& boolean(bool b);
  JsonWriter& null();

  // The document followed by '\n'.
  std::string finish() const { return out_ + "\n"; }

 private:
  void before_value();

  std::string out_;
  std::vector<bool> first_;  // per open container: nothing written yet
  bool after_key_ = false;
};

}  // namespace tollgate::cli
