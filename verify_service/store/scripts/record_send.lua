-- Record the outcome of a send. A failed send withdraws the code it carried: a code that
-- never reached the person must not stay usable; with no code left the verification fails,
-- else it ends with the latest code it still has.
local prefix = KEYS[1]          -- keys.prefix(tag)
local clock_offset_ms = ARGV[1]
local id = ARGV[2]
local attempts = ARGV[3]        -- newline-separated JSON lines
local sent = ARGV[4]            -- 1 | 0
local code_hash = ARGV[5]       -- the hash of the code this send carried
local retention_s = ARGV[6]

local now = now_ms(clock_offset_ms)
local vkey = verification_key(prefix, id)
if redis.call('EXISTS', vkey) == 0 then
  return {'not_found'}
end
local sends = redis.call('HGET', vkey, 'sends')
if sends and sends ~= '' then sends = sends .. '\n' .. attempts else sends = attempts end
redis.call('HSET', vkey, 'sends', sends, 'updated_at', now)
if sent == '0' then
  local kept = {}
  local f = redis.call('HMGET', vkey, 'codes', 'expires_at')
  for _, code in ipairs(parse_codes(f[1], f[2])) do
    if code[2] ~= code_hash then table.insert(kept, code) end
  end
  if #kept > 0 then
    store_codes(vkey, kept)
  elseif redis.call('HGET', vkey, 'status') == 'pending' then
    end_verification(vkey, 'failed', now, retention_s)
  else
    redis.call('HDEL', vkey, 'codes')
  end
end
return with_record('ok', now, vkey)
