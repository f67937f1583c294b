-- End a pending verification after a verified check: 'approved' (right code) or
-- 'max_attempts_reached' (the last reserved attempt was wrong). Only a pending verification
-- changes, so two parallel right checks approve exactly once.
-- KEYS[1] = "vs:{tag}" prefix
-- ARGV: clock_offset_ms, id, new_status, retention_s
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local vkey = KEYS[1] .. ':v:' .. ARGV[2]
local status = redis.call('HGET', vkey, 'status')
if not status then
  return {'not_found'}
end
if status ~= 'pending' then
  return {'unchanged', tostring(now), unpack(redis.call('HGETALL', vkey))}
end
if ARGV[3] == 'max_attempts_reached' then
  local f = redis.call('HMGET', vkey, 'check_attempts', 'max_check_attempts')
  if tonumber(f[1]) < tonumber(f[2]) then
    return {'unchanged', tostring(now), unpack(redis.call('HGETALL', vkey))}
  end
end
redis.call('HSET', vkey, 'status', ARGV[3], 'updated_at', now)
redis.call('HDEL', vkey, 'codes')
redis.call('PEXPIRE', vkey, tonumber(ARGV[4]) * 1000)
return {'changed', tostring(now), unpack(redis.call('HGETALL', vkey))}
