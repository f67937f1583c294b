-- Start a verification, or resend on the pending one of (service, number). One round trip:
-- the cooldown and send limits are decided here, so parallel starts cannot race past them.
-- It reserves the send and stores no code: the caller hashes the code only once the send
-- is allowed (a refused start costs no argon2), and record_send.lua stores the hash.
local prefix = KEYS[1]          -- keys.prefix(tag)
local clock_offset_ms = ARGV[1]
local new_id = ARGV[2]
local service = ARGV[3]
local to = ARGV[4]              -- E.164
local unused = ARGV[5]          -- was the code hash: record_send.lua stores it now
local expires_in = tonumber(ARGV[6]) * 1000   -- ms
local max_check_attempts = ARGV[7]
local max_send_attempts = ARGV[8]
local cooldown = tonumber(ARGV[9]) * 1000     -- ms between sends
local retention = tonumber(ARGV[10]) * 1000   -- ms kept after the end
local token_type = ARGV[11]
local token_length = ARGV[12]
local channel = ARGV[13]
local metadata = ARGV[14]       -- JSON object

local now = now_ms(clock_offset_ms)
local last = redis.call('GET', last_key(prefix))
if last then
  local vkey = verification_key(prefix, last)
  local f = redis.call('HMGET', vkey, 'status', 'expires_at', 'send_count', 'last_send_at',
    'check_attempts', 'max_check_attempts', 'max_send_attempts')
  if f[1] == 'pending' and now < tonumber(f[2]) and tonumber(f[5]) < tonumber(f[6]) then
    if tonumber(f[3]) >= tonumber(f[7]) then
      return {'max_send_attempts', '0'}
    end
    local wait = tonumber(f[4]) + cooldown - now
    if wait > 0 then
      return {'resend_too_soon', tostring(math.ceil(wait / 1000))}
    end
    redis.call('HSET', vkey, 'last_send_at', now, 'updated_at', now,
      'expires_at', now + expires_in)
    redis.call('HINCRBY', vkey, 'send_count', 1)
    redis.call('PEXPIRE', vkey, expires_in + retention)
    redis.call('PEXPIRE', last_key(prefix), expires_in + retention)
    return with_record('resent', now, vkey)
  end
  if f[1] == 'pending' then
    -- superseded (expired or out of attempts): its hashes are of no more use to anyone
    redis.call('HDEL', vkey, 'codes')
  end
end

local vkey = verification_key(prefix, new_id)
redis.call('HSET', vkey,
  'id', new_id, 'service', service, 'to', to, 'channel', channel, 'status', 'pending',
  'token_type', token_type, 'token_length', token_length, 'created_at', now,
  'updated_at', now, 'expires_at', now + expires_in, 'check_attempts', 0,
  'max_check_attempts', max_check_attempts, 'max_send_attempts', max_send_attempts,
  'send_count', 1, 'last_send_at', now, 'codes', '', 'sends', '', 'metadata', metadata)
redis.call('PEXPIRE', vkey, expires_in + retention)
redis.call('SET', last_key(prefix), new_id, 'PX', expires_in + retention)
return with_record('created', now, vkey)
