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

-- The pumping guard's counters of one range (fraud_start.lua, fraud_approve.lua): the text
-- "s a S A t u", counts rounded to 6 significant digits, t and u in ms. Written as
-- "DDDDDDe-KK" per count (digits and exponent as integers: no float formatting, which is
-- most of what these scripts cost in Redis), with `t` of 13 digits, and read back by the
-- positions of that shape; any text of the first shape ('%.6g') is read with a pattern.
-- Both shapes are numbers tonumber reads, to the same values (scripts of either version
-- read either; tests/unit/abuse/test_fraud_lua.py holds the two to every reply).
-- x rounded as tonumber(string.format('%.6g', x)) rounds it: an integer r < 10^6 and k
-- with the value r * 10^k; nil where x is too near a tie or out of the range of exactly
-- representable powers of ten (the caller then formats with '%.6g').
local function round6(x)
  if x == 0 then
    return 0, 0
  end
  if not (x >= 1e-17 and x < 1e26) then
    return nil
  end
  local e = math.log10(x)
  local j = 5 - (e - e % 1)  -- x * 10^j has 6 digits before the point
  local m
  if j >= 0 then m = x * 10 ^ j else m = x / 10 ^ -j end
  if m >= 1000000 or m < 100000 then  -- log10 may be off by one next to a power of ten
    if m >= 1000000 then j = j - 1 else j = j + 1 end
    if j >= 0 then m = x * 10 ^ j else m = x / 10 ^ -j end
  end
  -- one rounding of x * 10^j (10^j is exact up to 10^22), so m is within 2^-33 of the
  -- exact digits: a fraction this far from one half rounds as the exact value does
  local f = m % 1
  if f > 0.499999999 and f < 0.500000001 then
    return nil
  end
  m = m - f
  if f > 0.5 then
    m = m + 1
  end
  if m >= 1000000 then
    return 100000, 1 - j
  end
  return m, -j
end

-- The text of counters s, a, S, A, written at `t_text` (13 digits), suspect until u (ms).
local function counters_text(s, a, S, A, t_text, u)
  local u_text = '0'
  if u ~= 0 then
    u_text = string.format('%.0f', u)
  end
  local r1, k1 = round6(s)
  local r2, k2 = round6(a)
  local r3, k3 = round6(S)
  local r4, k4 = round6(A)
  if r1 and r2 and r3 and r4 and #t_text == 13 then
    return string.format('%06de%+03d %06de%+03d %06de%+03d %06de%+03d %s %s',
      r1, k1, r2, k2, r3, k3, r4, k4, t_text, u_text)
  end
  return string.format('%.6g %.6g %.6g %.6g %s %s', s, a, S, A, t_text, u_text)
end

-- The counters of a range's text: s, a, S, A, t (ms, a number) and u (ms).
local function counters_of(raw)
  local byte = string.byte
  if #raw >= 59 and byte(raw, 7) == 101 and byte(raw, 2) ~= 46 and byte(raw, 58) == 32 then
    local a1, a2, a3, a4, a5, a6, _, as, ak1, ak2, _,
          b1, b2, b3, b4, b5, b6, _, bs, bk1, bk2, _,
          c1, c2, c3, c4, c5, c6, _, cs, ck1, ck2, _,
          d1, d2, d3, d4, d5, d6, _, ds, dk1, dk2, _,
          t1, t2, t3, t4, t5, t6, t7, t8, t9, t10, t11, t12, t13 = byte(raw, 1, 57)
    -- each digit is its character's code less 48 ('0'); 43 is '+'
    local r = a1 * 100000 + a2 * 10000 + a3 * 1000 + a4 * 100 + a5 * 10 + a6 - 5333328
    local k = ak1 * 10 + ak2 - 528
    local s, a, S, A
    if as == 43 then s = r * 10 ^ k else s = r / 10 ^ k end
    r = b1 * 100000 + b2 * 10000 + b3 * 1000 + b4 * 100 + b5 * 10 + b6 - 5333328
    k = bk1 * 10 + bk2 - 528
    if bs == 43 then a = r * 10 ^ k else a = r / 10 ^ k end
    r = c1 * 100000 + c2 * 10000 + c3 * 1000 + c4 * 100 + c5 * 10 + c6 - 5333328
    k = ck1 * 10 + ck2 - 528
    if cs == 43 then S = r * 10 ^ k else S = r / 10 ^ k end
    r = d1 * 100000 + d2 * 10000 + d3 * 1000 + d4 * 100 + d5 * 10 + d6 - 5333328
    k = dk1 * 10 + dk2 - 528
    if ds == 43 then A = r * 10 ^ k else A = r / 10 ^ k end
    local t = ((((t1 * 1000 + t2 * 100 + t3 * 10 + t4) * 1000 + t5 * 100 + t6 * 10 + t7) * 1000
      + t8 * 100 + t9 * 10 + t10) * 1000 + t11 * 100 + t12 * 10 + t13) - 53333333333328
    local u = 0
    if #raw > 59 then
      u = tonumber(string.sub(raw, 59))
    end
    return s, a, S, A, t, u
  end
  local s, a, S, A, t, u = string.match(raw, '^(%S+) (%S+) (%S+) (%S+) (%S+) ?(%S*)$')
  return tonumber(s), tonumber(a), tonumber(S), tonumber(A), tonumber(t), tonumber(u) or 0
end
