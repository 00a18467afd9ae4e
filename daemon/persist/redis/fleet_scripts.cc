#include "persist/redis/fleet_scripts.h"

namespace tollgate::persist::fleet {
namespace {

// Moves `node`'s leases out of the pool: quota units to used, credits to doubt.
constexpr const char* kReclaim = R"lua(
local function reclaim(pool, node)
  local suffix = '|n|' .. node
  local all = redis.call('HGETALL', pool)
  local moved = 0
  for i = 1, #all, 2 do
    local f = all[i]
    if #f > #suffix and string.sub(f, -#suffix) == suffix then
      local v = tonumber(all[i + 1]) or 0
      local res = string.sub(f, 1, #f - #suffix)
      if v ~= 0 then
        redis.call('HINCRBY', pool, res .. '|leased', -v)
        if res == 'cr' then redis.call('HINCRBY', pool, 'cr|doubt', v)
        else redis.call('HINCRBY', pool, res .. '|used', v) end
        moved = moved + v
      end
      redis.call('HDEL', pool, f)
    end
  end
  redis.call('HDEL', pool, 'run|' .. node, 'seq|' .. node, 'last|' .. node)
  return moved
end
)lua";


}  // namespace

std::string pool_key(std::string_view prefix, std::string_view contract) {
  return std::string(prefix) + "{c:" + std::string(contract) + "}:pool";
}
std::string monitor_key(std::string_view prefix, std::string_view contract) {
  return std::string(prefix) + "{c:" + std::string(contract) + "}:mon";
}

std::string subjects_key(std::string_view prefix, std::string_view contract, int64_t period_start_ms) {
  return std::string(prefix) + "{c:" + std::string(contract) + "}:subj:" + std::to_string(period_start_ms);
}

std::string nodes_key(std::string_view prefix) { return std::string(prefix) + "fleet:nodes"; }
std::string admin_channel(std::string_view prefix) { return std::string(prefix) + "fleet:admin"; }

const std::string& sync() {
  static const std::string s = std::string(kReclaim) + R"lua(
local pool = KEYS[1]
local node, run, seq, fresh = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4] == '1'
local live = tonumber(ARGV[5])
if live < 1 then live = 1 end
local stored_run = redis.call('HGET', pool, 'run|' .. node)
if stored_run == run then
  local stored_seq = tonumber(redis.call('HGET', pool, 'seq|' .. node) or '0')
  if seq <= stored_seq then return redis.call('HGET', pool, 'last|' .. node) or '' end
elseif fresh then
  reclaim(pool, node)
elseif not stored_run then
  -- Redis forgot this node (restarted without its data, or reclaimed it
  -- while it was cut off for lease_ttl): go on; its reports and returns
  -- settle against what the reclaim counted.
else
  return redis.error_reply('SUPERSEDED node ' .. node .. ' runs elsewhere (another run took its leases)')
end
local n = tonumber(ARGV[6])
local out = {}
for r = 0, n - 1 do
  local b = 7 + r * 7
  local res, kind = ARGV[b], ARGV[b + 1]
  local cap, spent, ret, want = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5])
  local loc = tonumber(ARGV[b + 6])
  local nf = res .. '|n|' .. node
  if spent + ret ~= 0 then
    -- a node's field of a period or slice it no longer holds goes (no field per slice left behind)
    if redis.call('HINCRBY', pool, nf, -(spent + ret)) == 0 then redis.call('HDEL', pool, nf) end
    redis.call('HINCRBY', pool, res .. '|leased', -(spent + ret))
  end
  if spent + loc ~= 0 then redis.call('HINCRBY', pool, res .. '|used', spent + loc) end
  local total = cap
  local doubt = 0
  local bucket_tat, bucket_T = nil, nil
  if kind == 't' then
    -- A token bucket: cap is "burst/interval ns". Tokens come back one per
    -- interval on Redis' clock; the bucket is empty-ahead-of-time `tat`
    -- (microseconds): free = floor((now + burst x T - max(tat, now)) / T).
    -- Returned tokens move tat back (never past a full bucket); grants move
    -- it forward, rounded up (a grant never takes less than its tokens' time).
    local burst, interval = string.match(ARGV[b + 2], '^(%d+)/(%d+)$')
    local T = tonumber(interval) / 1000
    bucket_T = T
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
    bucket_tat = tonumber(redis.call('HGET', pool, res .. '|tat') or '0')
    if ret > 0 then bucket_tat = bucket_tat - math.floor(ret * T) end
    if bucket_tat < now then bucket_tat = now end
    total = math.floor((now + tonumber(burst) * T - bucket_tat) / T)
    if total < 0 then total = 0 end
  end
  if kind == 'w' then
    -- A sliding window: res is "sw:<limit>:<slice tag>", cap "limit/sub_buckets".
    -- What the window's other slices used or have on lease counts against
    -- this one; the slices one more window back are forgotten (their leased
    -- field only once nothing is on lease there).
    local lim, nsub = string.match(ARGV[b + 2], '^(%d+)/(%d+)$')
    lim, nsub = tonumber(lim), tonumber(nsub)
    local base, tag = string.match(res, '^(.*):(%d+)$')
    tag = tonumber(tag)
    local fields = {}
    for k = 1, nsub - 1 do
      local sl = base .. ':' .. ((tag - k) % 16777216)
      fields[#fields + 1] = sl .. '|used'
      fields[#fields + 1] = sl .. '|leased'
    end
    local others = 0
    if #fields > 0 then
      local vals = redis.call('HMGET', pool, unpack(fields))
      for i = 1, #vals do others = others + (tonumber(vals[i]) or 0) end
    end
    total = lim - others
    for k = nsub, 2 * nsub - 1 do
      local sl = base .. ':' .. ((tag - k) % 16777216)
      redis.call('HDEL', pool, sl .. '|used')
      if tonumber(redis.call('HGET', pool, sl .. '|leased') or '0') == 0 then redis.call('HDEL', pool, sl .. '|leased') end
    end
  end
  if kind == 'c' then
    local known = tonumber(redis.call('HGET', pool, 'cr|in') or '0')
    if cap > known then redis.call('HSET', pool, 'cr|in', cap) else total = known end
    doubt = tonumber(redis.call('HGET', pool, 'cr|doubt') or '0')
    total = total - doubt
  end
  local used = tonumber(redis.call('HGET', pool, res .. '|used') or '0')
  local leased = tonumber(redis.call('HGET', pool, res .. '|leased') or '0')
  local free = total - used - leased
  if bucket_tat then free = total end  -- used and leased tokens already moved tat
  local grant = 0
  if want > 0 and free > 0 then
    local share = math.floor(free / (2 * live))
    if share < 1 then share = 1 end
    grant = math.min(want, share, free)
    redis.call('HINCRBY', pool, nf, grant)
    redis.call('HINCRBY', pool, res .. '|leased', grant)
    free = free - grant
    leased = leased + grant
  end
  if bucket_tat then
    bucket_tat = bucket_tat + math.ceil(grant * bucket_T)
    redis.call('HSET', pool, res .. '|tat', string.format('%d', bucket_tat))
  end
  out[#out + 1] = grant .. ',' .. free .. ',' .. used .. ',' .. leased .. ',' .. doubt
end
local answer = table.concat(out, ';')
redis.call('HSET', pool, 'run|' .. node, run, 'seq|' .. node, seq, 'last|' .. node, answer)
return answer
)lua";
  return s;
}

const std::string& reclaim() {
  static const std::string s = std::string(kReclaim) + "return reclaim(KEYS[1], ARGV[1])\n";
  return s;
}

const std::string& heartbeat() {
  static const std::string s = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[2])))
local alive = redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[2]), '+inf')
local leader = ARGV[1]
for i = 1, #alive do if alive[i] < leader then leader = alive[i] end end
local out = {#alive, leader}
for i = 1, #dead do out[#out + 1] = dead[i] end
return out
)lua";
  return s;
}

const std::string& monitor_counts() {
  static const std::string s = R"lua(
for i = 1, #ARGV, 2 do
  if ARGV[i + 1] ~= '0' then redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
local left = -1
if KEYS[2] then
  local known = redis.call('HGET', KEYS[2], 'cr|in')
  if known then
    local used = tonumber(redis.call('HGET', KEYS[2], 'cr|used') or '0')
    local doubt = tonumber(redis.call('HGET', KEYS[2], 'cr|doubt') or '0')
    left = tonumber(known) - used - doubt
    if left < 0 then left = 0 end  -- fail: local spending reconciled past the credits: none left
  end
end
return {left, redis.call('HGETALL', KEYS[1])}
)lua";
  return s;
}

const std::string& subject_registers() {
  static const std::string s = R"lua(
local key = KEYS[1]
for i = 2, #ARGV, 2 do
  local off = tonumber(ARGV[i]) * 8
  local have = redis.call('GETRANGE', key, off, off + 7)
  local hex = ARGV[i + 1]
  local out = {}
  for k = 1, 8 do
    local b = tonumber(string.sub(hex, 2 * k - 1, 2 * k), 16) or 0
    local h = string.byte(have, k) or 0
    if h > b then b = h end
    out[k] = string.char(b)
  end
  redis.call('SETRANGE', key, off, table.concat(out))
end
-- Every read pushes the expiry on: a union expires only once no node has read it for the ttl.
redis.call('EXPIRE', key, ARGV[1])
return redis.call('GET', key) or ''
)lua";
  return s;
}

const std::string& forget() {
  static const std::string s = "return redis.call('ZREM', KEYS[1], ARGV[1])\n";
  return s;
}

const std::string& resolve() {
  static const std::string s = R"lua(
local doubt = tonumber(redis.call('HGET', KEYS[1], 'cr|doubt') or '0')
if doubt == 0 then return 0 end
redis.call('HSET', KEYS[1], 'cr|doubt', 0)
if ARGV[1] == 'spent' then redis.call('HINCRBY', KEYS[1], 'cr|used', doubt) end
return doubt
)lua";
  return s;
}

}  // namespace tollgate::persist::fleet
