-- End a pending verification after a verified check: 'approved' (right code) or
-- 'max_attempts_reached' (the last reserved attempt was wrong). Only a pending verification
-- changes, so two parallel right checks approve exactly once.
local prefix = KEYS[1]          -- keys.prefix(tag)
local clock_offset_ms = ARGV[1]
local id = ARGV[2]
local new_status = ARGV[3]      -- approved | max_attempts_reached
local retention_s = ARGV[4]

local now = now_ms(clock_offset_ms)
local vkey = verification_key(prefix, id)
local status = redis.call('HGET', vkey, 'status')
if not status then
  return {'not_found'}
end
if status ~= 'pending' then
  return with_record('unchanged', now, vkey)
end
if new_status == 'max_attempts_reached' then
  local f = redis.call('HMGET', vkey, 'check_attempts', 'max_check_attempts')
  if tonumber(f[1]) < tonumber(f[2]) then
    return with_record('unchanged', now, vkey)
  end
end
end_verification(vkey, new_status, now, retention_s)
return with_record('changed', now, vkey)
