-- End a pending verification of this service without a code: 'canceled' (the caller
-- withdraws it) or 'approved' (the backend vouches for the person, Twilio's
-- `Status=approved`). Unlike finish.lua, which runs after reserve.lua has checked
-- ownership, expiry and attempts, this script checks all of them itself, so that the
-- decision and the change are one atomic step.
-- Replies `status` when it made the change, 'expired' when this call found and recorded
-- the expiry, 'not_pending' otherwise (each with the verification), 'not_found' for
-- another service's or no id.
local prefix = KEYS[1]          -- keys.prefix(tag)
local clock_offset_ms = ARGV[1]
local service = ARGV[2]
local id = ARGV[3]
local status = ARGV[4]          -- approved | canceled
local retention_s = ARGV[5]

if status ~= 'approved' and status ~= 'canceled' then
  return redis.error_reply('end_pending: status must be approved or canceled')
end
local now = now_ms(clock_offset_ms)
local vkey = verification_key(prefix, id)
-- Out of attempts: no approval. Readers derive max_attempts_reached; a check still in
-- flight records it. A cancel still ends it: the caller wants it gone either way.
local f, refusal = pending_fields(vkey, service, now, retention_s, status == 'approved')
if not f then
  return refusal
end
end_verification(vkey, status, now, retention_s)
return with_record(status, now, vkey)
