-- Cancel a pending verification of this service.
-- KEYS[1] = "vs:{tag}" prefix
-- ARGV: clock_offset_ms, service, id, retention_s
-- Replies 'expired' when this call found and recorded the expiry, 'not_pending' otherwise.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local vkey = KEYS[1] .. ':v:' .. ARGV[3]
local f = redis.call('HMGET', vkey, 'service', 'status', 'expires_at')
if not f[1] or f[1] ~= ARGV[2] then
  return {'not_found'}
end
if f[2] ~= 'pending' then
  return {'not_pending', tostring(now), unpack(redis.call('HGETALL', vkey))}
end
if now >= tonumber(f[3]) then
  redis.call('HSET', vkey, 'status', 'expired', 'updated_at', now)
  redis.call('HDEL', vkey, 'codes')
  redis.call('PEXPIRE', vkey, tonumber(ARGV[4]) * 1000)
  return {'expired', tostring(now), unpack(redis.call('HGETALL', vkey))}
end
redis.call('HSET', vkey, 'status', 'canceled', 'updated_at', now)
redis.call('HDEL', vkey, 'codes')
redis.call('PEXPIRE', vkey, tonumber(ARGV[4]) * 1000)
return {'canceled', tostring(now), unpack(redis.call('HGETALL', vkey))}
