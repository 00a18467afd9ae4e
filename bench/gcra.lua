-- The common GCRA rate-limit script (as in redis-gcra, go-redis/redis_rate):
-- one GET of the theoretical arrival time (TAT), one SET with PX expiry, and
-- the time from redis.call('TIME'). Used by bench/compare.sh as the baseline.
--
-- KEYS[1]  the limited key
-- ARGV[1]  burst (capacity, units)      ARGV[2]  rate (units per period)
-- ARGV[3]  period in seconds            ARGV[4]  cost (units, default 1)
-- Returns {allowed (1/0), remaining, retry_after_ms, reset_after_ms}.
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local cost = tonumber(ARGV[4] or '1')

local emission_interval = period / rate
local increment = emission_interval * cost
local burst_offset = emission_interval * burst

local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000

local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
  tat = now
end

local new_tat = tat + increment
local allow_at = new_tat - burst_offset
local diff = now - allow_at
local remaining = math.floor(diff / emission_interval)

if remaining < 0 then
  return {0, 0, math.ceil(-diff * 1000), math.ceil((tat - now) * 1000)}
end

local reset_after = new_tat - now
if reset_after > 0 then
  redis.call('SET', KEYS[1], string.format('%.6f', new_tat), 'PX', math.ceil(reset_after * 1000))
end
return {1, remaining, 0, math.ceil(reset_after * 1000)}
