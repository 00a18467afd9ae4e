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

// Length and the case-folded first and last bytes: distinct for nearly
// every pair of command names, and cheap enough to compute per command.
size_t CommandTable::bucket_of(std::string_view name) {
  if (name.empty()) return 0;
  const auto fold = [](char c) { return static_cast<size_t>(static_cast<unsigned char>(c) & 0xDF); };
  return (name.size() * 31 + fold(name.front()) * 7 + fold(name.back())) % kBuckets;
}

void CommandTable::add(const CommandSpec& spec) {
  buckets_[bucket_of(spec.name)].push_back(static_cast<uint16_t>(specs_.size()));
  specs_.push_back(spec);
}

const CommandSpec* CommandTable::find(std::string_view name) const {
  for (uint16_t i : buckets_[bucket_of(name)])
    if (equals_ignore_case(specs_[i].name, name)) return &specs_[i];
  return nullptr;
}

}  // namespace tollgate
