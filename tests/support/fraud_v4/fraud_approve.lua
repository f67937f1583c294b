-- Fraud guard: count an approved verification in every range of its number (the counters
-- of fraud_start.lua; store/fraud.py). Ranges forgotten since the start are created again.
local ranges_key = KEYS[1]  -- hash: prefix -> "s a S A t u"
local lru_key = KEYS[2]     -- zset: prefix -> last touched (ms)
local clock_offset_ms = ARGV[1]
local tau = tonumber(ARGV[2])       -- ms
local tau_long = tonumber(ARGV[3])  -- ms
local ttl = tonumber(ARGV[4])       -- ms
local prefix_list = ARGV[5]        -- the number's ranges, space-separated
local now = now_ms(clock_offset_ms)

local prefixes = {}
for prefix in string.gmatch(prefix_list, '%S+') do
  prefixes[#prefixes + 1] = prefix
end

local raws = redis.call('HMGET', ranges_key, unpack(prefixes))
local values, touched = {}, {}
for i = 1, #prefixes do
  local s, a, S, A, u = 0, 0, 0, 0, 0
  if raws[i] then
    local rs, ra, rS, rA, t, ru = string.match(raws[i], '^(%S+) (%S+) (%S+) (%S+) (%S+) ?(%S*)$')
    local dt = math.max(0, now - tonumber(t))
    local f, F = math.exp(-dt / tau), math.exp(-dt / tau_long)
    s, a, S, A = tonumber(rs) * f, tonumber(ra) * f, tonumber(rS) * F, tonumber(rA) * F
    u = tonumber(ru) or 0
  end
  values[#values + 1] = prefixes[i]
  values[#values + 1] = string.format('%.6g %.6g %.6g %.6g %.0f %.0f', s, a + 1, S, A + 1, now, u)
  touched[#touched + 1] = now
  touched[#touched + 1] = prefixes[i]
end
redis.call('HSET', ranges_key, unpack(values))
redis.call('ZADD', lru_key, unpack(touched))
redis.call('PEXPIRE', ranges_key, ttl)
redis.call('PEXPIRE', lru_key, ttl)
return {'ok'}
