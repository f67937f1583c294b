-- Record the outcome of a send. A sent code's hash is stored here (start.lua only reserved
-- the send), while the verification is pending. A failed send stores nothing: a code that
-- never reached the person must not be usable; with no code left the verification fails.
local prefix = KEYS[1]          -- keys.prefix(tag)
local clock_offset_ms = ARGV[1]
local id = ARGV[2]
local attempts = ARGV[3]        -- newline-separated JSON lines
local sent = ARGV[4]            -- 1 | 0
local code_hash = ARGV[5]       -- the hash of the code this send carried ('' for none)
local retention_s = ARGV[6]

local now = now_ms(clock_offset_ms)
local vkey = verification_key(prefix, id)
if redis.call('EXISTS', vkey) == 0 then
  return {'not_found'}
end
local sends = redis.call('HGET', vkey, 'sends')
if sends and sends ~= '' then sends = sends .. '\n' .. attempts else sends = attempts end
redis.call('HSET', vkey, 'sends', sends, 'updated_at', now)
local codes = redis.call('HGET', vkey, 'codes')
local pending = redis.call('HGET', vkey, 'status') == 'pending'
if sent == '1' and code_hash ~= '' and pending then
  if codes and codes ~= '' then codes = codes .. '\n' .. code_hash else codes = code_hash end
  redis.call('HSET', vkey, 'codes', codes)
elseif sent == '0' and (not codes or codes == '') and pending then
  end_verification(vkey, 'failed', now, retention_s)
end
return with_record('ok', now, vkey)
