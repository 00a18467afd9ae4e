#include "commands/command_table.h"

namespace tollgate {

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 32);
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 32);
    if (x != y) return false;
  }
  return true;
}

const CommandSpec* CommandTable::find(std::string_view name) const {
  for (const auto& spec : specs_)
    if (equals_ignore_case(spec.name, name)) return &spec;
  return nullptr;
}

}  // namespace tollgate
