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
-- One read (HGETALL) for the decision, the codes and attempts it holds, and the reply,
-- which is then what the hash holds after the writes below: no read after them.
local flat, at = record_of(vkey)
if not at.st then
  return {'not_found'}
end
local status, ea = flat[at.st], flat[at.ea]
local pending = status == 'pending'
-- the codes ({expires_at_ms, field, hash} each), the attempts by field, and how many
local codes, sends, n = {}, {}, 0
for i = 1, #flat, 2 do
  local kind = string.sub(flat[i], 1, 2)
  if kind == 'c:' then
    codes[#codes + 1] = {tonumber(string.sub(flat[i], 3)), flat[i], flat[i + 1]}
  elseif kind == 's:' then
    sends[flat[i]] = flat[i + 1]
    n = n + 1
  end
end
local now_text = string.format('%d', now)
local set, kept = {'ua', now_text}, {}  -- the fields written; the codes after the writes
for line in string.gmatch(attempts, '[^\n]+') do
  n = n + 1
  set[#set + 1] = 's:' .. n
  set[#set + 1] = line
  sends['s:' .. n] = line
end
if sent == '1' and code_hash ~= '' and pending then
  local expired, taken, latest = {}, {}, 0
  for _, code in ipairs(codes) do
    if code[1] > now then
      latest = math.max(latest, code[1])
      taken[code[2]] = true
      kept[#kept + 1] = code
    else
      expired[#expired + 1] = code[2]
    end
  end
  if #expired > 0 then redis.call('HDEL', vkey, unpack(expired)) end
  local name = code_field(taken, code_expires_at)
  kept[#kept + 1] = {0, name, code_hash}
  ea = string.format('%d', math.max(latest, tonumber(string.sub(name, 3))))
  set[#set + 1] = name
  set[#set + 1] = code_hash
  set[#set + 1] = 'ea'
  set[#set + 1] = ea
  redis.call('HSET', vkey, unpack(set))
else
  redis.call('HSET', vkey, unpack(set))
  kept = codes
  if sent == '0' and #codes == 0 and pending then
    end_verification(vkey, 'failed', now, retention_s, {})
    status = 'failed'
  end
end
if full == '1' then
  return with_record('ok', now, vkey)
end
-- the fields a send can move, as they now are: the codes, every attempt, the scalars
local reply = {'ok', now_text}
for _, code in ipairs(kept) do
  reply[#reply + 1] = code[2]
  reply[#reply + 1] = code[3]
end
for i = 1, n do
  local name = 's:' .. i
  if sends[name] then
    reply[#reply + 1] = name
    reply[#reply + 1] = sends[name]
  end
end
local scalars = {st = status, ua = now_text, ea = ea, ck = flat[at.ck], sc = flat[at.sc]}
for _, name in ipairs({'st', 'ua', 'ea', 'ck', 'sc'}) do
  if scalars[name] then
    reply[#reply + 1] = name
    reply[#reply + 1] = scalars[name]
  end
end
return reply
