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
local now_text = string.format('%d', now)
-- Numbers go to Redis as text, written once each: Redis 7.0 writes every number argument
-- with printf ('%.17g'), the same digits for these integers.
local ttl = string.format('%d', expires_in + retention)  -- a new verification's keys
-- The number's latest verification. On Redis >= 7.0 (SET's NX and GET together) the SET
-- that makes the new one the latest reads it too: it sets the pointer only when there is
-- none (the usual start: a number not seen lately) and hands back the one there is; on
-- 6.2, a GET, and the SET below.
local last, pointed
if (redis.REDIS_VERSION_NUM or 0) >= 0x070000 then
  last = redis.call('SET', last_key(prefix), new_id, 'NX', 'GET', 'PX', ttl)
  pointed = not last
else
  last = redis.call('GET', last_key(prefix))
end
if last then
  local vkey = verification_key(prefix, last)
  local f = fields_of(vkey, 'st', 'ea', 'sc', 'ls', 'ck', 'mc', 'ms')
  if f[1] == 'pending' and now < tonumber(f[2]) and tonumber(f[5]) < tonumber(f[6]) then
    local sends = tonumber(f[3])
    if sends >= tonumber(f[7]) then
      return {'max_send_attempts', '0'}
    end
    local wait = tonumber(f[4]) + cooldown - now
    if wait > 0 then
      return {'resend_too_soon', tostring(math.ceil(wait / 1000))}
    end
    -- the count read above, plus one (HINCRBY's work: this script runs alone)
    redis.call('HSET', vkey, 'ls', now_text, 'ua', now_text, 'sc', string.format('%d', sends + 1))
    -- the later of the verification's end and the reserved code's (record_send moves
    -- `ea` once that code is sent)
    local ttl = string.format('%d', math.max(tonumber(f[2]), now + expires_in) - now + retention)
    redis.call('PEXPIRE', vkey, ttl)
    redis.call('PEXPIRE', last_key(prefix), ttl)
    return with_record('resent', now, vkey)
  end
  if f[1] == 'pending' then
    -- superseded (expired or out of attempts): its hashes are of no more use to anyone
    drop_codes(vkey)
  end
end

local vkey = verification_key(prefix, new_id)
local fields = {
  'sv', service, 'to', to, 'ch', channel, 'st', 'pending', 'tt', token_type,
  'tl', token_length, 'ca', now_text, 'ua', now_text,
  'ea', string.format('%d', now + expires_in), 'ck', '0', 'mc', max_check_attempts,
  'ms', max_send_attempts, 'sc', '1', 'ls', now_text}
if metadata ~= '' then
  fields[#fields + 1] = 'md'
  fields[#fields + 1] = metadata
end
redis.call('HSET', vkey, unpack(fields))
redis.call('PEXPIRE', vkey, ttl)
if not pointed then
  redis.call('SET', last_key(prefix), new_id, 'PX', ttl)
end
return {'created', now_text}
