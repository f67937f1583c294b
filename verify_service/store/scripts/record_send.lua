-- Record the outcome of a send. A sent code's hash is stored here (start.lua only reserved
-- the send), while the verification is pending: as a `<expires_at_ms> <hash>` line with the
-- code's own expiry (the reservation's time + expires_in), next to the codes still live (the
-- expired ones go), and the verification then ends with its latest code. A failed send
-- stores nothing and moves no expiry: a code that never reached the person must not be
-- usable; with no code left the verification fails.
local prefix = KEYS[1]          -- keys.prefix(tag)
local clock_offset_ms = ARGV[1]
local id = ARGV[2]
local attempts = ARGV[3]        -- newline-separated JSON lines
local sent = ARGV[4]            -- 1 | 0
local code_hash = ARGV[5]       -- the hash of the code this send carried ('' for none)
local retention_s = ARGV[6]
local code_expires_at = tonumber(ARGV[7])  -- ms, Redis time: the code's own end

local now = now_ms(clock_offset_ms)
local vkey = verification_key(prefix, id)
if redis.call('EXISTS', vkey) == 0 then
  return {'not_found'}
end
local sends = redis.call('HGET', vkey, 'sends')
if sends and sends ~= '' then sends = sends .. '\n' .. attempts else sends = attempts end
redis.call('HSET', vkey, 'sends', sends, 'updated_at', now)
local f = redis.call('HMGET', vkey, 'codes', 'expires_at', 'status')
local pending = f[3] == 'pending'
if sent == '1' and code_hash ~= '' and pending then
  local live = {}
  for _, code in ipairs(parse_codes(f[1], f[2])) do
    if code[1] > now then table.insert(live, code) end
  end
  table.insert(live, {code_expires_at, code_hash})
  store_codes(vkey, live)
elseif sent == '0' and (not f[1] or f[1] == '') and pending then
  end_verification(vkey, 'failed', now, retention_s)
end
return with_record('ok', now, vkey)
