#include "persist/redis/redis_scripts.h"

namespace tollgate::persist::scripts {
namespace {

// Appends one ledger entry unless its id is already there.
constexpr const char* kAppend = R"lua(
local function append(ledger, seqkey, id, lot, entry)
  if redis.call('HEXISTS', ledger, id) == 1 then return end
  local seq = redis.call('INCR', seqkey)
  redis.call('HSET', ledger, id, seq .. '|' .. lot .. '|' .. entry)
end
)lua";

}  // namespace

const std::string& ledger() {
  static const std::string s = std::string(kAppend) + R"lua(
for i = 1, #ARGV, 3 do append(KEYS[1], KEYS[2], ARGV[i], ARGV[i + 1], ARGV[i + 2]) end
return #ARGV / 3
)lua";
  return s;
}

const std::string& counters() {
  static const std::string s = R"lua(
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], 2592000000)
local now = tonumber(ARGV[2])
local a = 4
for k = 2, #KEYS do
  local key = KEYS[k]
  local n = tonumber(ARGV[a])
  local ttl = ARGV[a + 1]
  a = a + 2
  for i = 1, n do
    local op, f, v = ARGV[a], ARGV[a + 1], ARGV[a + 2]
    a = a + 3
    if op == 'i' then
      redis.call('HINCRBY', key, f, v)
    elseif op == 't' then
      local cur = tonumber(redis.call('HGET', key, f) or '0') or 0
      if cur < now then cur = now end
      redis.call('HSET', key, f, string.format('%.0f', cur + tonumber(v)))
    else
      local keep = tonumber(v)
      for _, name in ipairs(redis.call('HKEYS', key)) do
        if string.sub(name, 1, #f) == f then
          local num = tonumber(string.match(string.sub(name, #f + 1), '^%d+'))
          if num ~= nil and num < keep then redis.call('HDEL', key, name) end
        end
      end
    end
  end
  redis.call('PEXPIRE', key, ttl)
end
return 1
)lua";
  return s;
}

const std::string& recharge() {
  static const std::string s = std::string(kAppend) + R"lua(
local known = redis.call('HGET', KEYS[7], ARGV[1])
if known then
  local expect = ARGV[4] .. '|' .. ARGV[8] .. '|'
  if string.sub(known, 1, #expect) == expect then return {tonumber(string.sub(known, #expect + 1)), 1} end
  return redis.error_reply('payment id ' .. ARGV[1] .. ' was already used for another contract or amount')
end
local lot = redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[2], lot, ARGV[3])
redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[7], ARGV[1], ARGV[4] .. '|' .. ARGV[8] .. '|' .. lot)
append(KEYS[5], KEYS[6], ARGV[6], lot, ARGV[7])
return {lot, 0}
)lua";
  return s;
}

const std::string& status() {
  static const std::string s = std::string(kAppend) + R"lua(
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
append(KEYS[2], KEYS[3], ARGV[3], -1, ARGV[4])
return 1
)lua";
  return s;
}

const std::string& action() {
  static const std::string s = std::string(kAppend) + R"lua(
if ARGV[2] == '' then
  local expect = ARGV[5] or ''
  if expect ~= '' and redis.call('HGET', KEYS[1], ARGV[1]) ~= expect then return 0 end
  if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
append(KEYS[2], KEYS[3], ARGV[3], -1, ARGV[4])
return 1
)lua";
  return s;
}

const std::string& reset() {
  static const std::string s = std::string(kAppend) + R"lua(
if ARGV[1] == '' then
  redis.call('DEL', KEYS[1])
else
  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(f, 1, #ARGV[1]) == ARGV[1] then redis.call('HDEL', KEYS[1], f) end
  end
end
if #KEYS >= 3 then append(KEYS[2], KEYS[3], ARGV[2], -1, ARGV[3]) end
return 1
)lua";
  return s;
}

}  // namespace tollgate::persist::scripts
