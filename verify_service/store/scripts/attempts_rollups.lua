-- Read a service's roll-ups (attempts_add.lua): when they began, the time of the oldest
-- record in the log, then each hour's hash.
-- Reply: {since ms or '', oldest ms or '', {field, value, ...} of each hour key, in
-- order}; an hour without records (or past the retention) is an empty list.
local log_key = KEYS[1]           -- keys.attempts_log_key(service)
local since_key = KEYS[2]         -- keys.attempts_since_key(service)
local hour_keys = KEYS            -- from index 3: keys.attempts_hour_key(service, hour)
local oldest = redis.call('ZRANGE', log_key, 0, 0, 'WITHSCORES')
local reply = {redis.call('GET', since_key) or '', oldest[2] or ''}
for i = 3, #hour_keys do
  table.insert(reply, redis.call('HGETALL', hour_keys[i]))
end
return reply
