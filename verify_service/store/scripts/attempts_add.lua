-- Append records to a service's attempt log and its number index, then drop what is past
-- the retention (on Redis's clock) or beyond the most records kept. Both keys carry the
-- service's attempts hash tag (keys.attempts_log_key / attempts_numbers_key): one slot.
-- The number index is one hash per service (a key per number would cost more than the
-- record): field = the number's tag (its first 10 hex digits), value = "<ms>:<first 8 hex
-- digits of the record's random part>" entries, oldest first.
local log_key = KEYS[1]           -- keys.attempts_log_key(service)
local numbers_key = KEYS[2]       -- keys.attempts_numbers_key(service)
local clock_offset_ms = ARGV[1]
local retention_ms = tonumber(ARGV[2]) * 1000
local max_records = tonumber(ARGV[3])
local max_per_number = tonumber(ARGV[4])
local tag = ARGV[5]               -- the number's index field (store/attempts.py)
local scores = ARGV[6]            -- the records' times (ms), space-separated
local records = ARGV[7]           -- packed records (store/attempts.py), newline-separated

local oldest = now_ms(clock_offset_ms) - retention_ms

-- the entries of an index value that are not past the retention
local function live(value)
  local kept = {}
  for entry in string.gmatch(value or '', '[^ ]+') do
    if tonumber(string.match(entry, '^(%d+):')) >= oldest then
      table.insert(kept, entry)
    end
  end
  return kept
end

local entries = live(redis.call('HGET', numbers_key, tag))
local times = {}
for score in string.gmatch(scores, '%S+') do
  table.insert(times, score)
end
local i = 0
for record in string.gmatch(records, '[^\n]+') do
  i = i + 1
  redis.call('ZADD', log_key, times[i], record)
  table.insert(entries, times[i] .. ':' .. string.sub(record, 1, 8))
end
while #entries > max_per_number do
  table.remove(entries, 1)
end
redis.call('HSET', numbers_key, tag, table.concat(entries, ' '))

-- a few other numbers per write: those whose newest entry is past the retention go
for _, field in ipairs(redis.call('HRANDFIELD', numbers_key, 2)) do
  if field ~= tag and #live(redis.call('HGET', numbers_key, field)) == 0 then
    redis.call('HDEL', numbers_key, field)
  end
end
redis.call('ZREMRANGEBYSCORE', log_key, '-inf', '(' .. oldest)
redis.call('ZREMRANGEBYRANK', log_key, 0, -(max_records + 1))
redis.call('PEXPIRE', log_key, retention_ms)
redis.call('PEXPIRE', numbers_key, retention_ms)
return 'ok'
