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

local now_text = string.format('%.0f', now)  -- every score and counter time written

local prefixes = {}
for prefix in string.gmatch(prefix_list, '%S+') do
  prefixes[#prefixes + 1] = prefix
end

-- As fraud_start.lua reads and writes them (the prelude's counters_at, counters_text).
local raws = redis.call('HMGET', ranges_key, unpack(prefixes))
local decayed = counters_at(now, tau, tau_long)
local values, touched = {}, {}
for i = 1, #prefixes do
  local s, a, S, A, u = decayed(raws[i])
  values[#values + 1] = prefixes[i]
  values[#values + 1] = counters_text(s, a + 1, S, A + 1, now_text, u)
  touched[#touched + 1] = now_text
  touched[#touched + 1] = prefixes[i]
end
redis.call('HSET', ranges_key, unpack(values))
redis.call('ZADD', lru_key, unpack(touched))
redis.call('PEXPIRE', ranges_key, ttl)
redis.call('PEXPIRE', lru_key, ttl)
return {'ok'}
