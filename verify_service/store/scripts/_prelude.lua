-- Shared prelude: store/scripts.py puts this in front of every script, so each one is
-- this text plus its own (one SHA, one EVALSHA). Only definitions here, nothing runs.
-- Key names: KEYS[1] of a verification script is keys.prefix(tag) = "vs:{<tag>}"; the keys
-- built from it mirror keys.last_key / keys.verification_key and share its hash tag.

-- Redis's clock in ms (docs/architecture.md §3, one clock for every expiry), moved by the store's
-- test offset (0 in production).
-- Numbers that scripts write or reply go out as text made with '%d': Redis 7.0 writes a
-- number argument with printf('%.17g') and tostring uses '%.14g', both the floating-point
-- path of printf, slower; the same digits for these integers (ms, counts).
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

-- Every field of `vkey` in one read: HGETALL's reply (name, value, ...) and where each
-- name's value is in it (`flat[at.st]` is the status; nil for a field it lacks), the
-- first format upgraded first; both empty when the key is gone. For the scripts that
-- decide on a few fields and then need the codes, the sends or the whole record for
-- their reply: one command where HMGET, HKEYS and HGETALL were three.
local function record_of(vkey)
  local flat = redis.call('HGETALL', vkey)
  local at = {}
  for i = 1, #flat, 2 do at[flat[i]] = i + 1 end
  if not at['st'] and at['service'] then
    upgrade(vkey)
    return record_of(vkey)
  end
  return flat, at
end

-- The names of the code fields (`c:`) of a record read by record_of.
local function code_names(flat)
  local names = {}
  for i = 1, #flat, 2 do
    if string.sub(flat[i], 1, 2) == 'c:' then names[#names + 1] = flat[i] end
  end
  return names
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
-- `flat`: the hash as it stands (HGETALL's reply, record_of's), read here when nil.
local function with_record(outcome, now, vkey, flat)
  local id = string.match(vkey, ':v:(.+)$')
  local now_text = string.format('%d', now)
  return {outcome, now_text, 'id', id, unpack(flat or redis.call('HGETALL', vkey))}
end

-- End a verification in `status`: its code hashes go (no later check can approve), and
-- it is kept `retention_s` from now for reads, reports and audits. `codes`: the names of
-- its code fields when the caller has read them (code_names), else they are read here.
local function end_verification(vkey, status, now, retention_s, codes)
  redis.call('HSET', vkey, 'st', status, 'ua', string.format('%d', now))
  if not codes then
    drop_codes(vkey)
  elseif #codes > 0 then
    redis.call('HDEL', vkey, unpack(codes))
  end
  redis.call('PEXPIRE', vkey, string.format('%d', tonumber(retention_s) * 1000))
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

-- Add 1 to `field` of an attempt-log roll-up hour (`key`, attempts_add.lua) the roll-ups
-- keep: an hour whose hash does not exist (past the retention, or never counted) is not
-- made; the HINCRBY that made it is taken back, cheaper than an EXISTS before every count,
-- as the hash mostly exists (attempts_convert.lua, attempts_dlr.lua).
local function count_if_kept(key, field)
  if redis.call('HINCRBY', key, field, '1') == 1 and redis.call('HLEN', key) == 1 then
    redis.call('DEL', key)
  end
end

-- The pumping guard's counters of one range (fraud_start.lua, fraud_approve.lua): the text
-- "s a S A t u", counts to 6 significant digits, t (when written) and u (suspect until)
-- in ms. Counts are written '%.5e' ("1.23456e+02": the value '%.6g' wrote before, in a
-- fixed width), t in 13 digits, and read back by position: float parsing and a pattern
-- were most of what these scripts cost in Redis. Text of any other shape (the '%.6g' of
-- wave 4, what fraud_lift.lua writes, a count beyond e+/-17) is read with the pattern;
-- every shape is numbers that tonumber reads to the same values, so scripts of either
-- version read either (tests/unit/abuse/test_fraud_lua.py holds the two to every reply).
local function counters_text(s, a, S, A, t_text, u)
  local u_text = '0'
  if u ~= 0 then
    u_text = string.format('%.0f', u)
  end
  return string.format('%.5e %.5e %.5e %.5e %s %s', s, a, S, A, t_text, u_text)
end

local function counters_matched(raw)
  local s, a, S, A, t, u = string.match(raw, '^(%S+) (%S+) (%S+) (%S+) (%S+) ?(%S*)$')
  return tonumber(s), tonumber(a), tonumber(S), tonumber(A), tonumber(t), tonumber(u) or 0
end

-- The counters of a range's text: s, a, S, A, t and u, numbers. A count "d.ddddde+XX"
-- is the integer of its digits times or over an exact power of ten (10^22 at most): one
-- correctly rounded operation, the number tonumber reads. Characters are byte codes:
-- '0' is 48, ' ' 32, '.' 46, 'e' 101, '-' 45. The four counts are read in line, not by a
-- function per count: a call costs about what the fixed width saves.
local function counters_of(raw)
  local m1, p1, n12, n13, n14, n15, n16, e1, g1, x1, y1, w1, m2, p2, n22, n23, n24, n25,
    n26, e2, g2, x2, y2, w2, m3, p3, n32, n33, n34, n35, n36, e3, g3, x3, y3, w3, m4, p4,
    n42, n43, n44, n45, n46, e4, g4, x4, y4, w4, t1, t2, t3, t4, t5, t6, t7, t8, t9, t10,
    t11, t12, t13, w5 = string.byte(raw, 1, 62)
  if not (p1 == 46 and p2 == 46 and p3 == 46 and p4 == 46 and e1 == 101 and e2 == 101
      and e3 == 101 and e4 == 101 and w1 == 32 and w2 == 32 and w3 == 32 and w4 == 32
      and w5 == 32) then
    return counters_matched(raw)
  end
  local x = x1 * 10 + y1 - 528
  if g1 == 45 then x = -x end
  if x < -17 or x > 27 then return counters_matched(raw) end
  local s = m1 * 100000 + n12 * 10000 + n13 * 1000 + n14 * 100 + n15 * 10 + n16 - 5333328
  if x >= 5 then s = s * 10 ^ (x - 5) else s = s / 10 ^ (5 - x) end
  x = x2 * 10 + y2 - 528
  if g2 == 45 then x = -x end
  if x < -17 or x > 27 then return counters_matched(raw) end
  local a = m2 * 100000 + n22 * 10000 + n23 * 1000 + n24 * 100 + n25 * 10 + n26 - 5333328
  if x >= 5 then a = a * 10 ^ (x - 5) else a = a / 10 ^ (5 - x) end
  x = x3 * 10 + y3 - 528
  if g3 == 45 then x = -x end
  if x < -17 or x > 27 then return counters_matched(raw) end
  local S = m3 * 100000 + n32 * 10000 + n33 * 1000 + n34 * 100 + n35 * 10 + n36 - 5333328
  if x >= 5 then S = S * 10 ^ (x - 5) else S = S / 10 ^ (5 - x) end
  x = x4 * 10 + y4 - 528
  if g4 == 45 then x = -x end
  if x < -17 or x > 27 then return counters_matched(raw) end
  local A = m4 * 100000 + n42 * 10000 + n43 * 1000 + n44 * 100 + n45 * 10 + n46 - 5333328
  if x >= 5 then A = A * 10 ^ (x - 5) else A = A / 10 ^ (5 - x) end
  local t = ((((t1 * 1000 + t2 * 100 + t3 * 10 + t4) * 1000 + t5 * 100 + t6 * 10 + t7) * 1000
    + t8 * 100 + t9 * 10 + t10) * 1000 + t11 * 100 + t12 * 10 + t13) - 53333333333328
  local u = 0
  if #raw > 63 then
    u = tonumber(string.sub(raw, 63))
  end
  return s, a, S, A, t, u
end

-- A reader of counters texts decayed to `now` (ms) with time constants tau and tau_long:
-- s, a, S, A, u (0s for a range without counters). The factors of one write time are
-- computed once (the service's and the country's ranges were written together).
local function counters_at(now, tau, tau_long)
  local last_t, f, F = nil, 1, 1
  return function(raw)
    if not raw then
      return 0, 0, 0, 0, 0
    end
    local s, a, S, A, t, u = counters_of(raw)
    if t ~= last_t then
      local dt = now - t
      if dt <= 0 then
        f, F = 1, 1
      else
        f, F = math.exp(-dt / tau), math.exp(-dt / tau_long)
      end
      last_t = t
    end
    return s * f, a * f, S * F, A * F, u
  end
end
