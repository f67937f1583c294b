-- Take workflow step `step` of a verification: reserve one more send (the expiry renewed,
-- as start.lua does for a resend; the code's hash is stored by record_send.lua once the
-- send went out), only while the verification is pending, unexpired, has checks and sends
-- left, and no worker has taken this step or a later one. This is what makes an
-- escalation happen once, however often its queue entry is claimed.
local prefix = KEYS[1]          -- keys.prefix(tag)
local clock_offset_ms = ARGV[1]
local service = ARGV[2]
local id = ARGV[3]
local step = tonumber(ARGV[4])  -- the step's index in the workflow (1 = the first fallback)
local expires_in = tonumber(ARGV[5]) * 1000   -- ms
local retention_s = ARGV[6]

local now = now_ms(clock_offset_ms)
local vkey = verification_key(prefix, id)
local f = owned_fields(vkey, service)
if not f then
  return {'not_found'}
end
if f[2] ~= 'pending' then
  return with_record('not_pending', now, vkey)
end
if now >= tonumber(f[3]) then
  expire_now(vkey, now, retention_s)
  return with_record('expired', now, vkey)
end
if tonumber(f[4]) >= tonumber(f[5]) then
  return with_record('not_pending', now, vkey)
end
local g = redis.call('HMGET', vkey, 'workflow_step', 'send_count', 'max_send_attempts')
if tonumber(g[1] or '0') >= step then
  return with_record('stale', now, vkey)
end
if tonumber(g[2]) >= tonumber(g[3]) then
  return with_record('max_send_attempts', now, vkey)
end
redis.call('HSET', vkey, 'last_send_at', now, 'updated_at', now,
  'expires_at', now + expires_in, 'workflow_step', step)
redis.call('HINCRBY', vkey, 'send_count', 1)
local ttl = expires_in + tonumber(retention_s) * 1000
redis.call('PEXPIRE', vkey, ttl)
if redis.call('GET', last_key(prefix)) == id then
  redis.call('PEXPIRE', last_key(prefix), ttl)
end
return with_record('ok', now, vkey)
