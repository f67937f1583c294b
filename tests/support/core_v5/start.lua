-- Start a verification, or resend on the pending one of (service, number). One round trip:
-- the cooldown and send limits are decided here, so parallel starts cannot race past them.
-- It reserves the send and stores no code: the caller hashes the code only once the send
-- is allowed (a refused start costs no argon2), and record_send.lua stores the hash with
-- the code's own expiry. So a resend moves neither the codes nor `ea` here (a failed
-- send leaves both as they were); it keeps the keys long enough for the code it reserves.
-- A resend is of the verification's own token type and length (the reply's record says
-- which): `token_type`/`token_length` only shape a new verification.
-- Replies: {'created', now} (the caller has every field: store/verifications.py builds the
-- record), {'resent', now, the verification}, {'max_send_attempts', '0'} or
-- {'resend_too_soon', seconds to wait}.
local prefix = KEYS[1]          -- keys.prefix(tag)
local clock_offset_ms = ARGV[1]
local new_id = ARGV[2]
local service = ARGV[3]
local to = ARGV[4]              -- E.164
local expires_in = tonumber(ARGV[5]) * 1000   -- ms
local max_check_attempts = ARGV[6]
local max_send_attempts = ARGV[7]
local cooldown = tonumber(ARGV[8]) * 1000     -- ms between sends
local retention = tonumber(ARGV[9]) * 1000    -- ms kept after the end
local token_type = ARGV[10]
local token_length = ARGV[11]
local channel = ARGV[12]
local metadata = ARGV[13]       -- JSON object; '' when empty (not stored)

local now = now_ms(clock_offset_ms)
local last = redis.call('GET', last_key(prefix))
if last then
  local vkey = verification_key(prefix, last)
  local f = fields_of(vkey, 'st', 'ea', 'sc', 'ls', 'ck', 'mc', 'ms')
  if f[1] == 'pending' and now < tonumber(f[2]) and tonumber(f[5]) < tonumber(f[6]) then
    if tonumber(f[3]) >= tonumber(f[7]) then
      return {'max_send_attempts', '0'}
    end
    local wait = tonumber(f[4]) + cooldown - now
    if wait > 0 then
      return {'resend_too_soon', tostring(math.ceil(wait / 1000))}
    end
    redis.call('HSET', vkey, 'ls', now, 'ua', now)
    redis.call('HINCRBY', vkey, 'sc', 1)
    -- the later of the verification's end and the reserved code's (record_send moves
    -- `ea` once that code is sent)
    local ends = math.max(tonumber(f[2]), now + expires_in)
    redis.call('PEXPIRE', vkey, ends - now + retention)
    redis.call('PEXPIRE', last_key(prefix), ends - now + retention)
    return with_record('resent', now, vkey)
  end
  if f[1] == 'pending' then
    -- superseded (expired or out of attempts): its hashes are of no more use to anyone
    drop_codes(vkey)
  end
end

local vkey = verification_key(prefix, new_id)
redis.call('HSET', vkey,
  'sv', service, 'to', to, 'ch', channel, 'st', 'pending', 'tt', token_type,
  'tl', token_length, 'ca', now, 'ua', now, 'ea', now + expires_in, 'ck', 0,
  'mc', max_check_attempts, 'ms', max_send_attempts, 'sc', 1, 'ls', now)
if metadata ~= '' then
  redis.call('HSET', vkey, 'md', metadata)
end
redis.call('PEXPIRE', vkey, expires_in + retention)
redis.call('SET', last_key(prefix), new_id, 'PX', expires_in + retention)
return {'created', tostring(now)}
