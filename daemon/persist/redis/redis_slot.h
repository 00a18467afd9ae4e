// Redis Cluster key-to-slot mapping, per the cluster specification: the slot
// of a key is CRC16(key) mod 16384, where CRC16 is the XMODEM variant
// (polynomial 0x1021, initial value 0, no reflection) and only the part
// between the first '{' and the next '}' is hashed when that part is
// non-empty (a "hash tag": keys sharing one land in one slot). Pure
// functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tollgate::persist {

inline constexpr int kClusterSlots = 16384;

// CRC16/XMODEM of `data` ("123456789" -> 0x31C3).
uint16_t crc16_xmodem(std::string_view data);
// The part of `key` Redis Cluster hashes: the hash tag when it has a
// non-empty one, else the whole key.
std::string_view hash_tag(std::string_view key);
// The cluster slot of `key` (0 .. 16383).
int key_slot(std::string_view key);
// A short string whose slot is `slot` (0 .. 16383), for making a key land in
// a chosen slot as "{<tag>}...". Computed once, on first use.
const std::string& tag_for_slot(int slot);

}  // namespace tollgate::persist
