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
local code_expires_at_text = ARGV[7]  -- ms, Redis time: the code's own end
local full = ARGV[8]            -- 1: reply with every field

local now = now_ms(clock_offset_ms)
local vkey = verification_key(prefix, id)
-- One read (HGETALL, record_of) for the decision, the codes and attempts it holds, and the
-- reply, which is then what the hash holds after the writes below: no read after them.
local flat, at = record_of(vkey)
if not at.st then
  return {'not_found'}
end
local now_text = string.format('%d', now)
local status, ea = flat[at.st], flat[at.ea]
local pending = status == 'pending'
-- The reply lists every attempt (the old ones as read, in any order: the caller sorts
-- them) and every code left after the writes; the codes as {expires_at_ms, field, hash}.
local reply, codes, n = {'ok', now_text}, {}, 0
for i = 1, #flat, 2 do
  local name = flat[i]
  if string.byte(name, 2) == 58 then  -- ':'
    local kind = string.byte(name, 1)
    if kind == 99 then  -- 'c'
      codes[#codes + 1] = {tonumber(string.sub(name, 3)), name, flat[i + 1]}
    elseif kind == 115 then  -- 's'
      n = n + 1
      reply[#reply + 1] = name
      reply[#reply + 1] = flat[i + 1]
    end
  end
end
local set = {'ua', now_text}  -- the fields written
for line in string.gmatch(attempts, '[^\n]+') do
  n = n + 1
  local name = 's:' .. string.format('%d', n)
  set[#set + 1] = name
  set[#set + 1] = line
  reply[#reply + 1] = name
  reply[#reply + 1] = line
end
if sent == '1' and code_hash ~= '' and pending then
  local expired, taken, latest = {}, {}, 0
  for _, code in ipairs(codes) do
    if code[1] > now then
      latest = math.max(latest, code[1])
      taken[code[2]] = true
      reply[#reply + 1] = code[2]
      reply[#reply + 1] = code[3]
    else
      expired[#expired + 1] = code[2]
    end
  end
  if #expired > 0 then redis.call('HDEL', vkey, unpack(expired)) end
  -- the code's field as the caller wrote its expiry, unless a live code has it already
  local name = 'c:' .. code_expires_at_text
  if taken[name] then name = code_field(taken, tonumber(code_expires_at_text)) end
  local expiry = tonumber(string.sub(name, 3))
  ea = expiry >= latest and string.sub(name, 3) or string.format('%d', latest)
  set[#set + 1] = name
  set[#set + 1] = code_hash
  set[#set + 1] = 'ea'
  set[#set + 1] = ea
  reply[#reply + 1] = name
  reply[#reply + 1] = code_hash
  redis.call('HSET', vkey, unpack(set))
else
  redis.call('HSET', vkey, unpack(set))
  for _, code in ipairs(codes) do
    reply[#reply + 1] = code[2]
    reply[#reply + 1] = code[3]
  end
  if sent == '0' and #codes == 0 and pending then
    end_verification(vkey, 'failed', now, retention_s, {})
    status = 'failed'
  end
end
if full == '1' then
  return with_record('ok', now, vkey)
end
-- the scalars a send can move, as they now are
local scalars = {'st', status, 'ua', now_text, 'ea', ea, 'ck', flat[at.ck], 'sc', flat[at.sc]}
for i = 1, 9, 2 do
  if scalars[i + 1] then
    reply[#reply + 1] = scalars[i]
    reply[#reply + 1] = scalars[i + 1]
  end
end
return reply
