-- Start a verification, or resend on the pending one of (service, number). One round trip:
-- the cooldown and send limits are decided here, so parallel starts cannot race past them.
-- A resend adds a code with its own expiry (now + expires_in) and drops the expired ones;
-- the verification then ends with its latest code. A resend is of the verification's own
-- token type and length: when `same_shape` is 1 and the new code is of another shape, the
-- reply is {'reshape', token_type, token_length} and nothing changes (the caller draws
-- and hashes a code of that shape and starts again).
local prefix = KEYS[1]          -- keys.prefix(tag)
local clock_offset_ms = ARGV[1]
local new_id = ARGV[2]
local service = ARGV[3]
local to = ARGV[4]              -- E.164
local code_hash = ARGV[5]
local expires_in = tonumber(ARGV[6]) * 1000   -- ms
local max_check_attempts = ARGV[7]
local max_send_attempts = ARGV[8]
local cooldown = tonumber(ARGV[9]) * 1000     -- ms between sends
local retention = tonumber(ARGV[10]) * 1000   -- ms kept after the end
local token_type = ARGV[11]
local token_length = ARGV[12]
local channel = ARGV[13]
local metadata = ARGV[14]       -- JSON object
local same_shape = ARGV[15]     -- 1: refuse a resend of another type or length (see above)

local now = now_ms(clock_offset_ms)
local last = redis.call('GET', last_key(prefix))
if last then
  local vkey = verification_key(prefix, last)
  local f = redis.call('HMGET', vkey, 'status', 'expires_at', 'send_count', 'last_send_at',
    'check_attempts', 'max_check_attempts', 'max_send_attempts', 'token_type', 'token_length')
  if f[1] == 'pending' and now < tonumber(f[2]) and tonumber(f[5]) < tonumber(f[6]) then
    if tonumber(f[3]) >= tonumber(f[7]) then
      return {'max_send_attempts', '0'}
    end
    local wait = tonumber(f[4]) + cooldown - now
    if wait > 0 then
      return {'resend_too_soon', tostring(math.ceil(wait / 1000))}
    end
    if same_shape == '1' and (f[8] ~= token_type or f[9] ~= token_length) then
      return {'reshape', f[8], f[9]}
    end
    local live = {}
    for _, code in ipairs(parse_codes(redis.call('HGET', vkey, 'codes'), f[2])) do
      if code[1] > now then table.insert(live, code) end
    end
    table.insert(live, {now + expires_in, code_hash})
    local ends = store_codes(vkey, live)
    redis.call('HSET', vkey, 'last_send_at', now, 'updated_at', now)
    redis.call('HINCRBY', vkey, 'send_count', 1)
    redis.call('PEXPIRE', vkey, ends - now + retention)
    redis.call('PEXPIRE', last_key(prefix), ends - now + retention)
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
  'send_count', 1, 'last_send_at', now, 'codes', string.format('%d %s', now + expires_in,
  code_hash), 'sends', '', 'metadata', metadata)
redis.call('PEXPIRE', vkey, expires_in + retention)
redis.call('SET', last_key(prefix), new_id, 'PX', expires_in + retention)
return with_record('created', now, vkey)
