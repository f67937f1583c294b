-- Append records to a service's attempt log and to its number's index, then drop what is
-- past the retention (on Redis's clock) or beyond the most records kept. Both keys carry
-- the service's attempts hash tag (keys.attempts_log_key / attempts_number_key): one slot.
local log_key = KEYS[1]           -- keys.attempts_log_key(service)
local number_key = KEYS[2]        -- keys.attempts_number_key(service, tag)
local clock_offset_ms = ARGV[1]
local retention_ms = tonumber(ARGV[2]) * 1000
local max_records = tonumber(ARGV[3])
local max_per_number = tonumber(ARGV[4])
local scores = ARGV[5]            -- the records' times (ms), space-separated
local records = ARGV[6]           -- packed records (store/attempts.py), newline-separated

local oldest = now_ms(clock_offset_ms) - retention_ms
local times = {}
for score in string.gmatch(scores, '%S+') do
  table.insert(times, score)
end
local i = 0
for record in string.gmatch(records, '[^\n]+') do
  i = i + 1
  redis.call('ZADD', log_key, times[i], record)
  -- the index keeps the record's random part; with the score it finds the record
  redis.call('ZADD', number_key, times[i], string.sub(record, 1, 20))
end
for _, key in ipairs({log_key, number_key}) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. oldest)
  redis.call('PEXPIRE', key, retention_ms)
end
redis.call('ZREMRANGEBYRANK', log_key, 0, -(max_records + 1))
redis.call('ZREMRANGEBYRANK', number_key, 0, -(max_per_number + 1))
return 'ok'
