-- Reserve one check attempt (DESIGN §6, hard rule 1). Rejects verifications that are not
-- pending, expired or out of attempts, else counts the attempt
-- *before* the hash is verified: parallel checks cannot exceed max_check_attempts.
-- KEYS[1] = "vs:{tag}" prefix
-- ARGV: clock_offset_ms, service, id ('' = the number's latest verification), retention_s
-- Replies 'expired' when this call is the one that found and recorded the expiry (status
-- events and metrics report it once), 'final' for any other refusal.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local id = ARGV[3]
if id == '' then
  id = redis.call('GET', KEYS[1] .. ':last')
  if not id then return {'not_found'} end
end
local vkey = KEYS[1] .. ':v:' .. id
local f = redis.call('HMGET', vkey, 'service', 'status', 'expires_at', 'check_attempts',
  'max_check_attempts')
if not f[1] or f[1] ~= ARGV[2] then
  return {'not_found'}
end
if f[2] == 'pending' then
  if now >= tonumber(f[3]) then
    redis.call('HSET', vkey, 'status', 'expired', 'updated_at', now)
    redis.call('HDEL', vkey, 'codes')
    redis.call('PEXPIRE', vkey, tonumber(ARGV[4]) * 1000)
    return {'expired', tostring(now), unpack(redis.call('HGETALL', vkey))}
  end
  if tonumber(f[4]) >= tonumber(f[5]) then
    -- Refused, but not recorded here: attempts reserved earlier may still be verifying, and
    -- a right code among them must still approve. The last reserved attempt, if wrong,
    -- records max_attempts_reached (finish.lua); readers derive it meanwhile.
    return {'final', tostring(now), unpack(redis.call('HGETALL', vkey))}
  end
  redis.call('HINCRBY', vkey, 'check_attempts', 1)
  return {'reserved', tostring(now), unpack(redis.call('HGETALL', vkey))}
end
return {'final', tostring(now), unpack(redis.call('HGETALL', vkey))}
