-- Take workflow step `step` of a verification: reserve one more send (as start.lua does
-- for a resend; the code's hash is stored by record_send.lua once the
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
local f, refusal = pending_fields(vkey, service, now, retention_s, true)
if not f then
  return refusal
end
local g = redis.call('HMGET', vkey, 'wf', 'sc', 'ms')
if tonumber(g[1] or '0') >= step then
  return with_record('stale', now, vkey)
end
if tonumber(g[2]) >= tonumber(g[3]) then
  return with_record('max_send_attempts', now, vkey)
end
-- The verification's end moves once the step's code went out (record_send.lua stores it
-- with its own expiry); the keys live until the later of the two ends, plus retention.
redis.call('HSET', vkey, 'ls', now, 'ua', now, 'wf', step)
redis.call('HINCRBY', vkey, 'sc', 1)
local ttl = math.max(tonumber(f[3]), now + expires_in) - now + tonumber(retention_s) * 1000
redis.call('PEXPIRE', vkey, ttl)
if redis.call('GET', last_key(prefix)) == id then
  redis.call('PEXPIRE', last_key(prefix), ttl)
end
return with_record('ok', now, vkey)
