-- SMS pumping guard: count an approved verification of one (service, country).
local key = KEYS[1]             -- keys.pump_key(service, country)
local clock_offset_ms = ARGV[1]
local window = tonumber(ARGV[2])   -- ms
local buckets = tonumber(ARGV[3])
local cooldown = tonumber(ARGV[4]) -- ms

local now = now_ms(clock_offset_ms)
local size = math.max(1, math.floor(window / buckets))
redis.call('HINCRBY', key, 'a' .. math.floor(now / size), 1)
redis.call('PEXPIRE', key, window + cooldown)
return {'ok'}
