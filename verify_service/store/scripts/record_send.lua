-- Record the outcome of a send. A sent code's hash is stored here (start.lua only reserved
-- the send), while the verification is pending: as a field `c:<expires_at_ms>` with the
-- code's own expiry (the reservation's time + expires_in), next to the codes still live (the
-- expired ones go), and the verification then ends with its latest code. A failed send
-- stores nothing and moves no expiry: a code that never reached the person must not be
-- usable; with no code left the verification fails. Each attempt is a field `s:<n>`.
-- Replies {'ok', now, the fields that can change} (the caller merges them into the record
-- it had), or the whole verification when `full` is '1'; {'not_found'}.
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
local h = read_verification(vkey)
if not h then
  return {'not_found'}
end
local n = 0
for name in pairs(h) do
  if string.sub(name, 1, 2) == 's:' then n = n + 1 end
end
local fields = {'ua', now}
for line in string.gmatch(attempts, '[^\n]+') do
  n = n + 1
  fields[#fields + 1] = 's:' .. n
  fields[#fields + 1] = line
end
set_fields(vkey, h, unpack(fields))
local pending = h['st'] == 'pending'
local codes = codes_of(h)
if sent == '1' and code_hash ~= '' and pending then
  local expired, latest = {}, 0
  for _, code in ipairs(codes) do
    if code[1] > now then
      latest = math.max(latest, code[1])
    else
      expired[#expired + 1] = code[3]
    end
  end
  delete_fields(vkey, h, expired)
  local name = code_field(function(f) return h[f] ~= nil end, code_expires_at)
  latest = math.max(latest, tonumber(string.sub(name, 3)))
  set_fields(vkey, h, name, code_hash, 'ea', latest)
elseif sent == '0' and #codes == 0 and pending then
  end_verification(vkey, h, 'failed', now, retention_s)
end
if full == '1' then
  return reply_all('ok', now, vkey, h)
end
return reply_changes('ok', now, h)
