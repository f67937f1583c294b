-- Read a service's roll-ups (attempts_add.lua): when they began, the time of the oldest
-- record in the log (within the retention), then each hour's hash — only the counters of
-- the kinds asked for (their first letters: Overview reads no latency buckets, Providers
-- no countries, which saves the worker most of the parsing).
-- Reply: {since ms or '', oldest ms or '', {field, value, ...} of each hour key, in
-- order}; an hour without records (or past the retention) is an empty list.
local log_key = KEYS[1]           -- keys.attempts_log_key(service)
local since_key = KEYS[2]         -- keys.attempts_since_key(service)
local hour_keys = KEYS            -- from index 3: keys.attempts_hour_key(service, hour)
local kinds = ARGV[1]             -- e.g. 'sarkdu'; '' for every counter
-- the oldest record is read within the retention (attempts_add.lua drops older ones
-- about once an hour), when these are given:
local clock_offset_ms = ARGV[2]   -- the store's clock offset (ms)
local retention = tonumber(ARGV[3])  -- the log's retention (s)
local wanted = {}
for i = 1, #kinds do
  wanted[string.byte(kinds, i)] = true
end
local oldest
if retention then
  oldest = redis.call('ZRANGEBYSCORE', log_key, now_ms(clock_offset_ms) - retention * 1000,
    '+inf', 'WITHSCORES', 'LIMIT', '0', '1')
else
  oldest = redis.call('ZRANGE', log_key, 0, 0, 'WITHSCORES')
end
local reply = {redis.call('GET', since_key) or '', oldest[2] or ''}
for i = 3, #hour_keys do
  local flat = redis.call('HGETALL', hour_keys[i])
  if kinds ~= '' then
    local kept = {}
    for j = 1, #flat, 2 do
      if wanted[string.byte(flat[j])] then
        kept[#kept + 1] = flat[j]
        kept[#kept + 1] = flat[j + 1]
      end
    end
    flat = kept
  end
  table.insert(reply, flat)
end
return reply
