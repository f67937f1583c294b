-- SMS pumping guard: count an approved verification of one (service, country).
-- KEYS[1] = "vs:pump:{digest}"
-- ARGV: clock_offset_ms, window_ms, buckets, cooldown_ms
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local size = math.max(1, math.floor(tonumber(ARGV[2]) / tonumber(ARGV[3])))
redis.call('HINCRBY', KEYS[1], 'a' .. math.floor(now / size), 1)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[4]))
return {'ok'}
