-- Read a service's roll-ups (attempts_add.lua): when they began, then each hour's hash.
-- Reply: {since ms or '', {field, value, ...} of KEYS[2], of KEYS[3], ...}; an hour
-- without records (or past the retention) is an empty list.
local reply = {redis.call('GET', KEYS[1]) or ''}   -- keys.attempts_since_key(service)
for i = 2, #KEYS do                                 -- keys.attempts_hour_key(service, h)
  table.insert(reply, redis.call('HGETALL', KEYS[i]))
end
return reply
