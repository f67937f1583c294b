-- Apply one delivery report to the send attempt it is about. A report can only move a
-- sent attempt to delivered or undelivered, and undelivered to delivered (reports may come
-- out of order; "delivered" is proof and final). The verification's own status and TTL do
-- not change: a report is information for the caller, not a state of the verification.
local prefix = KEYS[1]          -- keys.prefix(tag)
local _clock_offset_ms = ARGV[1]  -- unused: a report judges no time
local id = ARGV[2]
local provider = ARGV[3]
local message_id = ARGV[4]
local status = ARGV[5]          -- delivered | undelivered
local detail = ARGV[6]          -- the provider's error, '' when none

local vkey = verification_key(prefix, id)
local sends = redis.call('HGET', vkey, 'sends')
if not sends then
  return {'not_found'}
end
local allowed = {sent = true, undelivered = status == 'delivered'}
local lines = {}
local changed = 0
local sent_at = ''  -- the changed attempt's `at`: where the attempt log keeps its record
for line in string.gmatch(sends, '[^\n]+') do
  local attempt = cjson.decode(line)
  if attempt['provider'] == provider and attempt['message_id'] == message_id
      and allowed[attempt['status']] then
    attempt['status'] = status
    if status == 'undelivered' and detail ~= '' then
      attempt['error'] = detail
    else
      attempt['error'] = cjson.null
    end
    line = cjson.encode(attempt)
    changed = changed + 1
    sent_at = attempt['at']
  end
  table.insert(lines, line)
end
if changed == 0 then
  return {'unchanged'}
end
redis.call('HSET', vkey, 'sends', table.concat(lines, '\n'))
return {'changed', redis.call('HGET', vkey, 'service'), sent_at}
