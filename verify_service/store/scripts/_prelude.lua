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

-- A free `c:` field for a code expiring at `expiry` (ms): two codes of one millisecond
-- (parallel resends) must not overwrite each other, so the later one lasts 1 ms longer.
local function code_field(taken, expiry)
  while taken['c:' .. expiry] do expiry = expiry + 1 end
  return 'c:' .. expiry
end

-- Rewrite a verification of the first format (up to wave 2: long field names, one `codes`
-- field of `<expires_at_ms> <hash>` lines, or `<hash>` from before codes had their own
-- expiry, and one `sends` field of JSON lines) in the current one, in place, keeping its
-- TTL, so that pending verifications written before an upgrade keep working. Callers
-- check first (`old` below: the first format has `service`, the current one `sv`).
local function upgrade(vkey)
  local renamed = {service = 'sv', to = 'to', channel = 'ch', status = 'st',
    token_type = 'tt', token_length = 'tl', created_at = 'ca', updated_at = 'ua',
    expires_at = 'ea', check_attempts = 'ck', max_check_attempts = 'mc',
    max_send_attempts = 'ms', send_count = 'sc', last_send_at = 'ls', metadata = 'md',
    workflow_step = 'wf'}
  local flat = redis.call('HGETALL', vkey)
  local old = {}
  for i = 1, #flat, 2 do old[flat[i]] = flat[i + 1] end
  local fields, taken = {}, {}
  for name, short in pairs(renamed) do
    local value = old[name]
    if value and not (name == 'metadata' and (value == '{}' or value == '')) then
      fields[#fields + 1] = short
      fields[#fields + 1] = value
    end
  end
  for line in string.gmatch(old['codes'] or '', '[^\n]+') do
    local expiry, hash = string.match(line, '^(%d+) (.+)$')
    if not expiry then expiry, hash = old['expires_at'], line end
    local name = code_field(taken, tonumber(expiry))
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

-- HMGET of `vkey`'s fields `...`, the first of which every verification has (`sv` or
-- `st`): when it is missing, the key is gone or of the first format, which is upgraded
-- first (so a current verification costs no extra read).
local function fields_of(vkey, ...)
  local f = redis.call('HMGET', vkey, ...)
  if not f[1] and redis.call('HEXISTS', vkey, 'service') == 1 then
    upgrade(vkey)
    f = redis.call('HMGET', vkey, ...)
  end
  return f
end

-- The code fields of `vkey` ({expires_at_ms, field} each) and how many send attempts
-- it holds (its `s:` fields), from the field names alone.
local function codes_and_sends(vkey)
  local codes, sends = {}, 0
  for _, name in ipairs(redis.call('HKEYS', vkey)) do
    local kind = string.sub(name, 1, 2)
    if kind == 'c:' then
      codes[#codes + 1] = {tonumber(string.sub(name, 3)), name}
    elseif kind == 's:' then
      sends = sends + 1
    end
  end
  return codes, sends
end

local function drop_codes(vkey)
  local names = {}
  for _, code in ipairs((codes_and_sends(vkey))) do names[#names + 1] = code[2] end
  if #names > 0 then redis.call('HDEL', vkey, unpack(names)) end
end

-- What deciding on a verification needs: {service, status, expires_at, check_attempts,
-- max_check_attempts}; nil when `vkey` is not `service`'s (another service's ids are not
-- found, never refused, so that nothing is learnt about them).
local function owned_fields(vkey, service)
  local f = fields_of(vkey, 'sv', 'st', 'ea', 'ck', 'mc')
  if not f[1] or f[1] ~= service then
    return nil
  end
  return f
end

-- The reply of a script that hands back the verification: the outcome word, the server
-- time it was judged at, then the id and the hash (StoredVerification.from_reply).
local function with_record(outcome, now, vkey)
  local id = string.match(vkey, ':v:(.+)$')
  return {outcome, tostring(now), 'id', id, unpack(redis.call('HGETALL', vkey))}
end

-- End a verification in `status`: its code hashes go (no later check can approve), and
-- it is kept `retention_s` from now for reads, reports and audits.
local function end_verification(vkey, status, now, retention_s)
  redis.call('HSET', vkey, 'st', status, 'ua', now)
  drop_codes(vkey)
  redis.call('PEXPIRE', vkey, tonumber(retention_s) * 1000)
end

-- Record the expiry of a pending verification found past expires_at.
local function expire_now(vkey, now, retention_s)
  end_verification(vkey, 'expired', now, retention_s)
end

-- The fields of a pending, unexpired verification of `service` (as owned_fields gives
-- them), with check attempts left when `need_attempts`; else nil and the reply that
-- refuses it: 'not_found', 'not_pending', or 'expired' (recorded here, once).
local function pending_fields(vkey, service, now, retention_s, need_attempts)
  local f = owned_fields(vkey, service)
  if not f then
    return nil, {'not_found'}
  end
  if f[2] ~= 'pending' then
    return nil, with_record('not_pending', now, vkey)
  end
  if now >= tonumber(f[3]) then
    expire_now(vkey, now, retention_s)
    return nil, with_record('expired', now, vkey)
  end
  if need_attempts and tonumber(f[4]) >= tonumber(f[5]) then
    return nil, with_record('not_pending', now, vkey)
  end
  return f, nil
end
