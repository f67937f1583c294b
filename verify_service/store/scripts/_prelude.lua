-- Shared prelude: store/scripts.py puts this in front of every script, so each one is
-- this text plus its own (one SHA, one EVALSHA). Only definitions here, nothing runs.
-- Key names: KEYS[1] of a verification script is keys.prefix(tag) = "vs:{<tag>}"; the keys
-- built from it mirror keys.last_key / keys.verification_key and share its hash tag.

-- Redis's clock in ms (docs/architecture.md §3, one clock for every expiry), moved by the store's
-- test offset (0 in production).
local function now_ms(clock_offset_ms)
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(clock_offset_ms)
end

local function last_key(prefix)
  return prefix .. ':last'
end

local function verification_key(prefix, id)
  return prefix .. ':v:' .. id
end

-- The verification hash (store/records.py reads the same; keys.py documents it). Short
-- field names and values of at most 64 bytes keep it a listpack under Redis's default
-- `hash-max-listpack-value` (docs/performance.md, "Redis memory per pending verification"):
--   sv service, to E.164 or email, ch channel, st status, tt token type, tl token length,
--   ca created_at, ua updated_at, ea expires_at (ms), ck check attempts, mc / ms the most
--   check attempts / sends, sc sends reserved, ls last send (ms), md metadata (JSON, only
--   when not empty), wf the workflow step taken; one field per code, `c:<expires_at_ms>`
--   = its hash (CodeHasher's stored form, or a delegation marker), while pending; one per
--   send attempt, `s:<n>` = the attempt packed (records.pack_attempt; a JSON object in
--   records upgraded from the first format). The id is the key's own (not stored).
-- Fields the caller of a state change already has (record_send, finish reply the rest).
local STATIC = {sv = true, to = true, ch = true, tt = true, tl = true, ca = true, mc = true,
  ms = true, md = true}

-- The first format (up to wave 2): long field names, one `codes` field (lines
-- `<expires_at_ms> <hash>`, or `<hash>` from before codes had their own expiry) and one
-- `sends` field (JSON lines). Old name -> new.
local RENAMED = {service = 'sv', to = 'to', channel = 'ch', status = 'st', token_type = 'tt',
  token_length = 'tl', created_at = 'ca', updated_at = 'ua', expires_at = 'ea',
  check_attempts = 'ck', max_check_attempts = 'mc', max_send_attempts = 'ms',
  send_count = 'sc', last_send_at = 'ls', metadata = 'md', workflow_step = 'wf'}

-- A free `c:` field for a code expiring at `expiry` (ms): two codes of one millisecond
-- (parallel resends) must not overwrite each other, so the later one lasts 1 ms longer.
local function code_field(exists, expiry)
  while exists('c:' .. expiry) do expiry = expiry + 1 end
  return 'c:' .. expiry
end

-- Rewrite a verification of the first format in the current one, in place, keeping its
-- TTL (pending verifications written before an upgrade keep working: every script that
-- reads a verification calls this first). A no-op (one HEXISTS) on a current one.
local function upgrade(vkey)
  if redis.call('HEXISTS', vkey, 'service') == 0 then
    return
  end
  local flat = redis.call('HGETALL', vkey)
  local old = {}
  for i = 1, #flat, 2 do old[flat[i]] = flat[i + 1] end
  local fields, taken = {}, {}
  for name, short in pairs(RENAMED) do
    local value = old[name]
    if value and not (name == 'metadata' and (value == '{}' or value == '')) then
      fields[#fields + 1] = short
      fields[#fields + 1] = value
    end
  end
  for line in string.gmatch(old['codes'] or '', '[^\n]+') do
    local expiry, hash = string.match(line, '^(%d+) (.+)$')
    if not expiry then expiry, hash = old['expires_at'], line end
    local name = code_field(function(n) return taken[n] end, tonumber(expiry))
    taken[name] = true
    fields[#fields + 1] = name
    fields[#fields + 1] = hash
  end
  local n = 0
  for line in string.gmatch(old['sends'] or '', '[^\n]+') do
    n = n + 1
    fields[#fields + 1] = 's:' .. n
    fields[#fields + 1] = line
  end
  local ttl = redis.call('PTTL', vkey)
  redis.call('DEL', vkey)
  redis.call('HSET', vkey, unpack(fields))
  if ttl > 0 then redis.call('PEXPIRE', vkey, ttl) end
end

-- The verification as a Lua table (field -> value), upgraded first; nil when there is none.
local function read_verification(vkey)
  upgrade(vkey)
  local flat = redis.call('HGETALL', vkey)
  if #flat == 0 then return nil end
  local h = {}
  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  return h
end

-- A field's text: integers (ms times, counts) as digits, never in exponent form.
local function text(value)
  if type(value) == 'number' then return string.format('%d', value) end
  return value
end

-- Set fields of the verification `vkey` and of its table `h` alike (name, value, ...).
local function set_fields(vkey, h, ...)
  local args = {...}
  for i = 2, #args, 2 do
    args[i] = text(args[i])
    h[args[i - 1]] = args[i]
  end
  redis.call('HSET', vkey, unpack(args))
end

-- The codes of `h`, {expires_at_ms, hash, field} each.
local function codes_of(h)
  local list = {}
  for name, value in pairs(h) do
    local expiry = string.match(name, '^c:(%d+)$')
    if expiry then list[#list + 1] = {tonumber(expiry), value, name} end
  end
  return list
end

-- Delete the fields `names` from the verification and its table.
local function delete_fields(vkey, h, names)
  if #names == 0 then return end
  for _, name in ipairs(names) do h[name] = nil end
  redis.call('HDEL', vkey, unpack(names))
end

local function drop_codes(vkey, h)
  local names = {}
  for _, code in ipairs(codes_of(h)) do names[#names + 1] = code[3] end
  delete_fields(vkey, h, names)
end

-- What deciding on a verification needs, as a table (read_verification); nil when `vkey`
-- is not `service`'s (another service's ids are not found, never refused, so that
-- nothing is learnt about them).
local function owned(vkey, service)
  local h = read_verification(vkey)
  if not h or h['sv'] ~= service then
    return nil
  end
  return h
end

local function id_of(vkey)
  return string.match(vkey, ':v:(.+)$')
end

-- The reply of a script that hands back the verification: the outcome word, the server
-- time it was judged at, then its fields, the id first (StoredVerification.from_reply).
local function reply_all(outcome, now, vkey, h)
  local out = {outcome, tostring(now), 'id', id_of(vkey)}
  for name, value in pairs(h) do
    out[#out + 1] = name
    out[#out + 1] = value
  end
  return out
end

-- The same with only the fields a state change can move (not STATIC): the caller merges
-- them into the record it had (StoredVerification.updated).
local function reply_changes(outcome, now, h)
  local out = {outcome, tostring(now)}
  for name, value in pairs(h) do
    if not STATIC[name] then
      out[#out + 1] = name
      out[#out + 1] = value
    end
  end
  return out
end

-- End a verification in `status`: its code hashes go (no later check can approve), and
-- it is kept `retention_s` from now for reads, reports and audits.
local function end_verification(vkey, h, status, now, retention_s)
  set_fields(vkey, h, 'st', status, 'ua', now)
  drop_codes(vkey, h)
  redis.call('PEXPIRE', vkey, tonumber(retention_s) * 1000)
end

-- The table of a pending, unexpired verification of `service`, with check attempts left
-- when `need_attempts`; else nil and the reply that refuses it: 'not_found',
-- 'not_pending', or 'expired' (recorded here, once).
local function pending_fields(vkey, service, now, retention_s, need_attempts)
  local h = owned(vkey, service)
  if not h then
    return nil, {'not_found'}
  end
  if h['st'] ~= 'pending' then
    return nil, reply_all('not_pending', now, vkey, h)
  end
  if now >= tonumber(h['ea']) then
    end_verification(vkey, h, 'expired', now, retention_s)
    return nil, reply_all('expired', now, vkey, h)
  end
  if need_attempts and tonumber(h['ck']) >= tonumber(h['mc']) then
    return nil, reply_all('not_pending', now, vkey, h)
  end
  return h, nil
end
