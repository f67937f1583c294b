-- Start a verification, or resend on the pending one of (service, number). One round trip:
-- the cooldown and send limits are decided here, so parallel starts cannot race past them.
-- KEYS[1] = "vs:{tag}" prefix
-- ARGV: clock_offset_ms, new_id, service, to, code_hash, expires_in_s, max_check,
--       max_send, cooldown_s, retention_s, token_type, token_length, channel, metadata_json
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local prefix = KEYS[1]
local expires_in = tonumber(ARGV[6]) * 1000
local retention = tonumber(ARGV[10]) * 1000

local last = redis.call('GET', prefix .. ':last')
if last then
  local vkey = prefix .. ':v:' .. last
  local f = redis.call('HMGET', vkey, 'status', 'expires_at', 'send_count', 'last_send_at',
    'check_attempts', 'max_check_attempts', 'max_send_attempts')
  if f[1] == 'pending' and now < tonumber(f[2]) and tonumber(f[5]) < tonumber(f[6]) then
    if tonumber(f[3]) >= tonumber(f[7]) then
      return {'max_send_attempts', '0'}
    end
    local wait = tonumber(f[4]) + tonumber(ARGV[9]) * 1000 - now
    if wait > 0 then
      return {'resend_too_soon', tostring(math.ceil(wait / 1000))}
    end
    local codes = redis.call('HGET', vkey, 'codes')
    if codes and codes ~= '' then codes = codes .. '\n' .. ARGV[5] else codes = ARGV[5] end
    redis.call('HSET', vkey, 'codes', codes, 'last_send_at', now, 'updated_at', now,
      'expires_at', now + expires_in)
    redis.call('HINCRBY', vkey, 'send_count', 1)
    redis.call('PEXPIRE', vkey, expires_in + retention)
    redis.call('PEXPIRE', prefix .. ':last', expires_in + retention)
    return {'resent', tostring(now), unpack(redis.call('HGETALL', vkey))}
  end
  if f[1] == 'pending' then
    -- superseded (expired or out of attempts): its hashes are of no more use to anyone
    redis.call('HDEL', vkey, 'codes')
  end
end

local id = ARGV[2]
local vkey = prefix .. ':v:' .. id
redis.call('HSET', vkey,
  'id', id, 'service', ARGV[3], 'to', ARGV[4], 'channel', ARGV[13], 'status', 'pending',
  'token_type', ARGV[11], 'token_length', ARGV[12], 'created_at', now, 'updated_at', now,
  'expires_at', now + expires_in, 'check_attempts', 0, 'max_check_attempts', ARGV[7],
  'max_send_attempts', ARGV[8], 'send_count', 1, 'last_send_at', now, 'codes', ARGV[5],
  'sends', '', 'metadata', ARGV[14])
redis.call('PEXPIRE', vkey, expires_in + retention)
redis.call('SET', prefix .. ':last', id, 'PX', expires_in + retention)
return {'created', tostring(now), unpack(redis.call('HGETALL', vkey))}
