-- Read a verification of this service, with the server's time for deriving expiry.
local prefix = KEYS[1]          -- keys.prefix(tag)
local clock_offset_ms = ARGV[1]
local service = ARGV[2]
local id = ARGV[3]

local now = now_ms(clock_offset_ms)
local vkey = verification_key(prefix, id)
local fields = redis.call('HGETALL', vkey)
if #fields == 0 or redis.call('HGET', vkey, 'service') ~= service then
  return {'not_found'}
end
return {'ok', tostring(now), unpack(fields)}
