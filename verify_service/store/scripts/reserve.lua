-- Reserve one check attempt (docs/architecture.md §3, hard rule 1). Rejects verifications that are not
-- pending, expired or out of attempts, else counts the attempt
-- *before* the hash is verified: parallel checks cannot exceed max_check_attempts.
-- Replies 'expired' when this call is the one that found and recorded the expiry (status
-- events and metrics report it once), 'exhausted' when it is pending with every attempt
-- reserved (checks still in flight decide its end: the caller waits for it), 'final' for
-- any other refusal, 'malformed' (nothing counted) when the typed code cannot be a code
-- of this verification's type and length, so that no hash could match it. Each with the
-- whole verification (what the check compares and what its answer shows), read once
-- (HGETALL) for the decision and the reply alike.
local prefix = KEYS[1]          -- keys.prefix(tag)
local clock_offset_ms = ARGV[1]
local service = ARGV[2]
local id = ARGV[3]              -- '' = the number's latest verification
local retention_s = ARGV[4]
local code_length = ARGV[5]     -- the normalised code's length; '' = no shape check
local code_types = ARGV[6]      -- ',numeric,alphanumeric,' : the token types it fits

local now = now_ms(clock_offset_ms)
if id == '' then
  id = redis.call('GET', last_key(prefix))
  if not id then return {'not_found'} end
end
local vkey = verification_key(prefix, id)
-- one read: the fields decided on, and the whole verification every reply carries
local flat, at = record_of(vkey)
if flat[at.sv] ~= service then
  return {'not_found'}
end
if flat[at.st] == 'pending' then
  if now >= tonumber(flat[at.ea]) then
    expire_now(vkey, now, retention_s)
    return with_record('expired', now, vkey)
  end
  if tonumber(flat[at.ck]) >= tonumber(flat[at.mc]) then
    -- Refused, but not recorded here: attempts reserved earlier may still be verifying, and
    -- a right code among them must still approve. The last reserved attempt, if wrong,
    -- records max_attempts_reached (finish.lua); readers derive it meanwhile.
    return with_record('exhausted', now, vkey, flat)
  end
  if code_length ~= '' then
    if flat[at.tl] ~= code_length
        or not string.find(code_types, ',' .. flat[at.tt] .. ',', 1, true) then
      return with_record('malformed', now, vkey, flat)
    end
  end
  flat[at.ck] = string.format('%d', redis.call('HINCRBY', vkey, 'ck', 1))
  return with_record('reserved', now, vkey, flat)
end
return with_record('final', now, vkey, flat)
