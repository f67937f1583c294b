-- Read a verification of this service, with the server's time for deriving expiry.
-- KEYS[1] = "vs:{tag}" prefix
-- ARGV: clock_offset_ms, service, id
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local vkey = KEYS[1] .. ':v:' .. ARGV[3]
local fields = redis.call('HGETALL', vkey)
if #fields == 0 or redis.call('HGET', vkey, 'service') ~= ARGV[2] then
  return {'not_found'}
end
return {'ok', tostring(now), unpack(fields)}
