#include "persist/redis/redis_slot.h"

#include <array>
#include <vector>

namespace tollgate::persist {
namespace {

constexpr std::array<uint16_t, 256> make_table() {
  std::array<uint16_t, 256> table{};
  for (int i = 0; i < 256; ++i) {
    auto crc = static_cast<uint16_t>(i << 8);
    for (int bit = 0; bit < 8; ++bit)
      crc = static_cast<uint16_t>((crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1);
    table[static_cast<size_t>(i)] = crc;
  }
  return table;
}

constexpr std::array<uint16_t, 256> kTable = make_table();

}  // namespace

uint16_t crc16_xmodem(std::string_view data) {
  uint16_t crc = 0;
  for (unsigned char c : data) crc = static_cast<uint16_t>((crc << 8) ^ kTable[((crc >> 8) ^ c) & 0xFF]);
  return crc;
}

std::string_view hash_tag(std::string_view key) {
  const size_t open = key.find('{');
  if (open == std::string_view::npos) return key;
  const size_t close = key.find('}', open + 1);
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

int key_slot(std::string_view key) { return crc16_xmodem(hash_tag(key)) & (kClusterSlots - 1); }

const std::string& tag_for_slot(int slot) {
  // Decimal numbers cover every slot before ~100,000 (checked by the unit test).
  static const std::vector<std::string> tags = [] {
    std::vector<std::string> out(kClusterSlots);
    int missing = kClusterSlots;
    for (uint64_t n = 0; missing > 0; ++n) {
      std::string s = std::to_string(n);
      std::string& at = out[static_cast<size_t>(key_slot(s))];
      if (at.empty()) {
        at = std::move(s);
        --missing;
      }
    }
    return out;
  }();
  return tags[static_cast<size_t>(slot & (kClusterSlots - 1))];
}

}  // namespace tollgate::persist
