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

-- What deciding on a verification needs: {service, status, expires_at, check_attempts,
-- max_check_attempts}; nil when `vkey` is not `service`'s (another service's ids are not
-- found, never refused, so that nothing is learnt about them).
local function owned_fields(vkey, service)
  local f = redis.call('HMGET', vkey, 'service', 'status', 'expires_at', 'check_attempts',
    'max_check_attempts')
  if not f[1] or f[1] ~= service then
    return nil
  end
  return f
end

-- The reply of a script that hands back the verification: the outcome word, the server
-- time it was judged at, then the hash (StoredVerification.from_reply reads it).
local function with_record(outcome, now, vkey)
  return {outcome, tostring(now), unpack(redis.call('HGETALL', vkey))}
end

-- End a verification in `status`: its code hashes go (no later check can approve), and
-- it is kept `retention_s` from now for reads, reports and audits.
local function end_verification(vkey, status, now, retention_s)
  redis.call('HSET', vkey, 'status', status, 'updated_at', now)
  redis.call('HDEL', vkey, 'codes')
  redis.call('PEXPIRE', vkey, tonumber(retention_s) * 1000)
end

-- Record the expiry of a pending verification found past expires_at.
local function expire_now(vkey, now, retention_s)
  end_verification(vkey, 'expired', now, retention_s)
end
