-- Approve a pending verification of this service without a code: the backend vouches for
-- the person (Twilio's `Status=approved` update). Unlike finish.lua, which runs after
-- reserve.lua has checked ownership, expiry and attempts, this script checks all of them
-- itself, so that the decision and the change are one atomic step.
-- KEYS[1] = "vs:{tag}" prefix
-- ARGV: clock_offset_ms, service, id, retention_s
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local vkey = KEYS[1] .. ':v:' .. ARGV[3]
local f = redis.call('HMGET', vkey, 'service', 'status', 'expires_at', 'check_attempts',
  'max_check_attempts')
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
  -- 'expired', like cancel.lua: this call recorded the expiry, so it reports the change
  return {'expired', tostring(now), unpack(redis.call('HGETALL', vkey))}
end
if tonumber(f[4]) >= tonumber(f[5]) then
  -- out of attempts: readers derive max_attempts_reached; a check still in flight records it
  return {'not_pending', tostring(now), unpack(redis.call('HGETALL', vkey))}
end
redis.call('HSET', vkey, 'status', 'approved', 'updated_at', now)
redis.call('HDEL', vkey, 'codes')
redis.call('PEXPIRE', vkey, tonumber(ARGV[4]) * 1000)
return {'approved', tostring(now), unpack(redis.call('HGETALL', vkey))}
