-- Record the outcome of a send. A sent code's hash is stored here (start.lua only reserved
-- the send), while the verification is pending: as a field `c:<expires_at_ms>` with the
-- code's own expiry (the reservation's time + expires_in), next to the codes still live (the
-- expired ones go), and the verification then ends with its latest code. A failed send
-- stores nothing and moves no expiry: a code that never reached the person must not be
-- usable; with no code left the verification fails. Each attempt is a field `s:<n>`.
-- Replies {'ok', now, the fields a send can move (status, times, counts, every code and
-- attempt)} for the caller to merge into the record it had, or the whole verification
-- when `full` is '1'; {'not_found'}.
local prefix = KEYS[1]          -- keys.prefix(tag)
local clock_offset_ms = ARGV[1]
local id = ARGV[2]
local attempts = ARGV[3]        -- newline-separated, each records.pack_attempt's
local sent = ARGV[4]            -- 1 | 0
local code_hash = ARGV[5]       -- the hash of the code this send carried ('' for none)
local retention_s = ARGV[6]
local code_expires_at = tonumber(ARGV[7])  -- ms, Redis time: the code's own end
local full = ARGV[8]            -- 1: reply with every field

local now = now_ms(clock_offset_ms)
local vkey = verification_key(prefix, id)
local f = fields_of(vkey, 'st')
if not f[1] then
  return {'not_found'}
end
local pending = f[1] == 'pending'
local codes, n = codes_and_sends(vkey)
local set, names = {'ua', now}, {}
for line in string.gmatch(attempts, '[^\n]+') do
  n = n + 1
  set[#set + 1] = 's:' .. n
  set[#set + 1] = line
end
if sent == '1' and code_hash ~= '' and pending then
  local expired, taken, latest = {}, {}, 0
  for _, code in ipairs(codes) do
    if code[1] > now then
      latest = math.max(latest, code[1])
      taken[code[2]] = true
      names[#names + 1] = code[2]
    else
      expired[#expired + 1] = code[2]
    end
  end
  if #expired > 0 then redis.call('HDEL', vkey, unpack(expired)) end
  local name = code_field(taken, code_expires_at)
  names[#names + 1] = name
  set[#set + 1] = name
  set[#set + 1] = code_hash
  set[#set + 1] = 'ea'
  set[#set + 1] = math.max(latest, tonumber(string.sub(name, 3)))
  redis.call('HSET', vkey, unpack(set))
else
  redis.call('HSET', vkey, unpack(set))
  for _, code in ipairs(codes) do names[#names + 1] = code[2] end
  if sent == '0' and #codes == 0 and pending then
    end_verification(vkey, 'failed', now, retention_s)
  end
end
if full == '1' then
  return with_record('ok', now, vkey)
end
for i = 1, n do names[#names + 1] = 's:' .. i end
for _, name in ipairs({'st', 'ua', 'ea', 'ck', 'sc'}) do names[#names + 1] = name end
local values = redis.call('HMGET', vkey, unpack(names))
local reply = {'ok', tostring(now)}
for i, name in ipairs(names) do
  if values[i] then
    reply[#reply + 1] = name
    reply[#reply + 1] = values[i]
  end
end
return reply
