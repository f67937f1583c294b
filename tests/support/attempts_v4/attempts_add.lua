-- The previous version's attempts_add.lua (wave 4, main at b1cdd5a), kept as it was:
-- what a service wrote before the upgrade (test_attempts_rollups.py).
-- Append records to a service's attempt log and its number index, then drop what is past
-- the retention (on Redis's clock) or beyond the most records kept. Both keys carry the
-- service's attempts hash tag (keys.attempts_log_key / attempts_numbers_key): one slot.
-- The number index is one hash per service (a key per number would cost more than the
-- record): field = the number's tag (its first 10 hex digits), value = "<ms>:<first 8 hex
-- digits of the record's random part>" entries, oldest first.
-- The same call counts the records in the service's hourly roll-ups (below).
local log_key = KEYS[1]           -- keys.attempts_log_key(service)
local numbers_key = KEYS[2]       -- keys.attempts_numbers_key(service)
local since_key = KEYS[3]         -- keys.attempts_since_key(service)
-- from index 4 of record_keys: keys.attempts_hour_key(service, hour) of each record
local record_keys = KEYS
local clock_offset_ms = ARGV[1]
local retention_ms = tonumber(ARGV[2]) * 1000
local max_records = tonumber(ARGV[3])
local max_per_number = tonumber(ARGV[4])
local tag = ARGV[5]               -- the number's index field (store/attempts.py)
local scores = ARGV[6]            -- the records' times (ms), space-separated
local records = ARGV[7]           -- packed records (store/attempts.py), newline-separated
local created = ARGV[8]           -- '1': the first delivery of its verification (a start)
local buckets = ARGV[9]           -- per record: its latency bucket index, or '-'

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

-- a few other numbers per write: those whose newest entry is past the retention go (read
-- with their values: one command, not one per field)
local sample = redis.call('HRANDFIELD', numbers_key, 2, 'WITHVALUES')
for j = 1, #sample, 2 do
  if sample[j] ~= tag and #live(sample[j + 1]) == 0 then
    redis.call('HDEL', numbers_key, sample[j])
  end
end
-- Roll-ups (store/attempts.py ROLL-UPS): per service-hour, counters of what the console's
-- Overview and Providers pages show, so that they read 168 small hashes, not a week of
-- records. A start counts once, at its first record, in that record's hour (its approval
-- is counted there too, by attempts_convert.lua). Records made before the roll-ups began
-- (since_key, set by the first call) stay in the log only.
local since = tonumber(redis.call('GET', since_key))
if not since then
  since = tonumber(times[1])
  for _, t in ipairs(times) do since = math.min(since, tonumber(t)) end
  redis.call('SET', since_key, since)
end
local latency = {}
for b in string.gmatch(buckets or '', '%S+') do
  table.insert(latency, b)
end
local first = 1
for j = 2, #times do
  if tonumber(times[j]) < tonumber(times[first]) then first = j end
end
i = 0
for record in string.gmatch(records, '[^\n]+') do
  i = i + 1
  local at = tonumber(times[i])
  if at >= oldest and at >= since then
    local hour_key = record_keys[3 + i]
    local status, provider, country = string.match(record,
      '^[^|]*|[^|]*|([^|]*)|[^|]*|[^|]*|([^|]*)|([^|]*)|')
    if status == 'r' then
      redis.call('HINCRBY', hour_key, 'r:' .. country, 1)
    else
      if created == '1' and i == first then
        redis.call('HINCRBY', hour_key, 's:' .. country, 1)
      end
      redis.call('HINCRBY', hour_key, 'n:' .. provider, 1)
      if status ~= 'f' then
        redis.call('HINCRBY', hour_key, 'k:' .. provider, 1)
      end
      if latency[i] and latency[i] ~= '-' then
        redis.call('HINCRBY', hour_key, 'l:' .. provider .. ':' .. latency[i], 1)
      end
    end
    -- kept as long as the hour's last records
    redis.call('PEXPIRE', hour_key, math.floor(at / 3600000) * 3600000 + 3600000 - oldest)
  end
end

redis.call('ZREMRANGEBYSCORE', log_key, '-inf', '(' .. oldest)
redis.call('ZREMRANGEBYRANK', log_key, 0, -(max_records + 1))
-- The service's keys go only after a retention without writes, when every record they
-- date is gone too (the since key with them). Their TTL is set to a retention and an hour
-- whenever less than a retention is left: about once an hour, one PTTL on the other
-- writes instead of three PEXPIRE (docs/performance.md, "Wave 4: Redis work per flow").
if redis.call('PTTL', log_key) < retention_ms then
  redis.call('PEXPIRE', log_key, retention_ms + 3600000)
  redis.call('PEXPIRE', numbers_key, retention_ms + 3600000)
  redis.call('PEXPIRE', since_key, retention_ms + 3600000)
end
return 'ok'
