-- Apply one delivery report to the send attempt it is about. A report can only move a
-- sent attempt to delivered or undelivered, and undelivered to delivered (reports may come
-- out of order; "delivered" is proof and final). The verification's own status and TTL do
-- not change: a report is information for the caller, not a state of the verification.
-- KEYS[1] = "vs:{tag}" prefix
-- ARGV: clock_offset_ms, id, provider, message_id, status (delivered|undelivered), detail
local vkey = KEYS[1] .. ':v:' .. ARGV[2]
local sends = redis.call('HGET', vkey, 'sends')
if not sends then
  return {'not_found'}
end
local allowed = {sent = true, undelivered = ARGV[5] == 'delivered'}
local lines = {}
local changed = 0
for line in string.gmatch(sends, '[^\n]+') do
  local attempt = cjson.decode(line)
  if attempt['provider'] == ARGV[3] and attempt['message_id'] == ARGV[4]
      and allowed[attempt['status']] then
    attempt['status'] = ARGV[5]
    if ARGV[5] == 'undelivered' and ARGV[6] ~= '' then
      attempt['error'] = ARGV[6]
    else
      attempt['error'] = cjson.null
    end
    line = cjson.encode(attempt)
    changed = changed + 1
  end
  table.insert(lines, line)
end
if changed == 0 then
  return {'unchanged'}
end
redis.call('HSET', vkey, 'sends', table.concat(lines, '\n'))
return {'changed'}
