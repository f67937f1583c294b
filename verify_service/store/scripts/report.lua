-- Apply one delivery report to the send attempt it is about. A report can only move a
-- sent attempt to delivered or undelivered, and undelivered to delivered (reports may come
-- out of order; "delivered" is proof and final). The verification's own status and TTL do
-- not change: a report is information for the caller, not a state of the verification.
-- An attempt is a field `s:<n>`: packed (records.pack_attempt: `at|status|channel|provider|
-- message id|error`, status one letter, provider and message id escaped as the caller
-- escaped them here), or a JSON object in verifications upgraded from the first format.
-- Replies {'changed', service, the changed attempt's `at` as stored (ISO 8601, or base-36
-- ms when packed)}, {'unchanged'} or {'not_found'}.
local prefix = KEYS[1]          -- keys.prefix(tag)
local _clock_offset_ms = ARGV[1]  -- unused: a report judges no time
local id = ARGV[2]
local provider = ARGV[3]        -- as packed (records.escape)
local message_id = ARGV[4]      -- as packed (records.escape)
local status = ARGV[5]          -- delivered | undelivered
local detail = ARGV[6]          -- the provider's error, '' when none
local raw_provider = ARGV[7]    -- as given, for JSON attempts
local raw_message_id = ARGV[8]
local raw_detail = ARGV[9]

local vkey = verification_key(prefix, id)
if not fields_of(vkey, 'st')[1] then
  return {'not_found'}
end
local flat = redis.call('HGETALL', vkey)
local LETTER = {sent = 's', delivered = 'd', undelivered = 'u'}
local allowed = {s = true, u = status == 'delivered'}
local updates = {}
local sent_at = ''  -- the changed attempt's `at` as stored: where the attempt log keeps it
for i = 1, #flat, 2 do
  local name, value = flat[i], flat[i + 1]
  if string.sub(name, 1, 2) == 's:' then
    if string.sub(value, 1, 1) == '{' then
      local attempt = cjson.decode(value)
      if attempt['provider'] == raw_provider and attempt['message_id'] == raw_message_id
          and allowed[LETTER[attempt['status']] or ''] then
        attempt['status'] = status
        if status == 'undelivered' and raw_detail ~= '' then
          attempt['error'] = raw_detail
        else
          attempt['error'] = cjson.null
        end
        updates[#updates + 1] = name
        updates[#updates + 1] = cjson.encode(attempt)
        sent_at = attempt['at']
      end
    else
      local at, st, ch, prov, mid = string.match(value, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|')
      if prov == provider and mid == message_id and allowed[st] then
        local err = ''
        if status == 'undelivered' then err = detail end
        updates[#updates + 1] = name
        updates[#updates + 1] = table.concat({at, LETTER[status], ch, prov, mid, err}, '|')
        sent_at = at
      end
    end
  end
end
if #updates == 0 then
  return {'unchanged'}
end
redis.call('HSET', vkey, unpack(updates))
return {'changed', redis.call('HGET', vkey, 'sv'), sent_at}
