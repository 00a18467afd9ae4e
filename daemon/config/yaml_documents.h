// Reads YAML text as one document, counting the documents without
// yaml-cpp's YAML::LoadAll: in yaml-cpp 0.7 (Debian 12) LoadAll never
// returns on some malformed streams — a lone "," is enough — because the
// parser keeps handing out empty documents without consuming input, one
// allocation per turn, until memory runs out (jbeder/yaml-cpp#1040, fixed
// upstream by #1319). Here the parser must advance between documents, and
// reading stops at the second one. Thread-safe (no shared state).
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string_view>

namespace tollgate {

struct YamlDocuments {
  YAML::Node first;                // the first document (null when there is none)
  std::optional<int> second_line;  // 1-based line where a second document starts, if any
};

// Throws YAML::Exception on a syntax error, as YAML::Load does; a stream the
// parser cannot advance in is a syntax error at the place it is stuck.
[[nodiscard]] YamlDocuments load_yaml_documents(std::string_view text);

}  // namespace tollgate
