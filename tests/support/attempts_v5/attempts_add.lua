-- The previous version's attempts_add.lua (wave 5, main at 18c1aa1), kept as it was:
-- what a service wrote before the upgrade (test_attempts_rollups.py, test_attempts_store.py).
-- Append records to a service's attempt log and its number index, then drop what is past
-- the retention (on Redis's clock) or beyond the most records kept. Both keys carry the
-- service's attempts hash tag (keys.attempts_log_key / attempts_numbers_key): one slot.
-- The number index is one hash per service (a key per number would cost more than the
-- record): field = the number's tag (its first 10 hex digits), value = "<ms>:<first 8 hex
-- digits of the record's random part>" entries, oldest first.
-- The same call counts the records in the service's hourly roll-ups (below).
-- Redis work per call (docs/performance.md, "Wave 5: the attempt log's write"): besides
-- TIME, the ZADD of each record and the index's HGET and HSET, one HRANDFIELD, a GET, the
-- trims, a PTTL, and one HINCRBY per record (two for a start's first record); an index
-- value is parsed only when its oldest entry is past the retention or it is full.
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

local times, rows, latency
if not string.find(records, '\n', 1, true) then
  -- one record (most calls): no splitting
  times, rows, latency = {scores}, {records}, {buckets ~= '' and buckets or nil}
else
  times, rows, latency = {}, {}, {}
  for score in string.gmatch(scores, '%S+') do
    times[#times + 1] = score
  end
  for record in string.gmatch(records, '[^\n]+') do
    rows[#rows + 1] = record
  end
  for b in string.gmatch(buckets or '', '%S+') do
    latency[#latency + 1] = b
  end
end

local added = {}
for i, record in ipairs(rows) do
  redis.call('ZADD', log_key, times[i], record)
  added[i] = times[i] .. ':' .. string.sub(record, 1, 8)
end
-- The number's entries: appended to as they are, unless the oldest is past the retention
-- or there may be more than max_per_number (an entry is 22 bytes and a space with times
-- of 13 digits), then parsed, the dead dropped and the newest kept.
local value = redis.call('HGET', numbers_key, tag)
local first_ms = value and tonumber(string.match(value, '^(%d+):'))
if value and first_ms and first_ms >= oldest
    and #value + 1 <= 23 * (max_per_number - #added) then
  value = value .. ' ' .. table.concat(added, ' ')
else
  local entries = live(value)
  for _, entry in ipairs(added) do
    entries[#entries + 1] = entry
  end
  local from = math.max(1, #entries - max_per_number + 1)
  value = table.concat(entries, ' ', from)
end
redis.call('HSET', numbers_key, tag, value)

-- Other numbers whose newest entry is past the retention go: about one call in 16 (the
-- first hex digit of its first record's random part is 0) looks at the next 32 or so
-- fields of the index (HSCAN, its cursor kept in the index's `~` field), two per write
-- on average, each field in turn: every stale number goes within a pass over the index
-- (docs/performance.md, "Wave 5: the attempt log's write"). A value is parsed only when
-- its last entry, the newest as written, is past the retention (or not of 13 digits).
local function stale(entries)
  local last = tonumber(string.sub(entries, -22, -10))
  return not (last and last >= oldest) and #live(entries) == 0
end
if string.sub(rows[1], 1, 1) == '0' then
  local scan = redis.call('HSCAN', numbers_key, redis.call('HGET', numbers_key, '~') or '0',
    'COUNT', 32)
  local found = scan[2]
  for j = 1, #found, 2 do
    if found[j] ~= tag and found[j] ~= '~' and stale(found[j + 1]) then
      redis.call('HDEL', numbers_key, found[j])
    end
  end
  redis.call('HSET', numbers_key, '~', scan[1])
end
-- Roll-ups (store/attempts.py ROLL-UPS): per service-hour, counters of what the console's
-- Overview and Providers pages show, so that they read 168 small hashes, not a week of
-- records. A start counts once, at its first record, in that record's hour (its approval
-- is counted there too, by attempts_convert.lua). Records made before the roll-ups began
-- (since_key, set by the first call) stay in the log only. A send is one HINCRBY: its
-- provider's counter of its outcome (A accepted, F failed) and latency bucket; the
-- pages' counters are sums of these (store/attempts.py).
local since = tonumber(redis.call('GET', since_key))
if not since then
  since = tonumber(times[1])
  for _, t in ipairs(times) do since = math.min(since, tonumber(t)) end
  redis.call('SET', since_key, since)
end
local first = 1
for j = 2, #times do
  if tonumber(times[j]) < tonumber(times[first]) then first = j end
end
for i, record in ipairs(rows) do
  local at = tonumber(times[i])
  if at >= oldest and at >= since then
    local hour_key = record_keys[3 + i]
    local status, provider, country = string.match(record,
      '^[^|]*|[^|]*|([^|]*)|[^|]*|[^|]*|([^|]*)|([^|]*)|')
    local new
    if status == 'r' then
      new = redis.call('HINCRBY', hour_key, 'r:' .. country, 1) == 1
    else
      if created == '1' and i == first then
        new = redis.call('HINCRBY', hour_key, 's:' .. country, 1) == 1
      end
      local field = (status == 'f' and 'F:' or 'A:') .. provider .. ':' .. (latency[i] or '-')
      new = redis.call('HINCRBY', hour_key, field, 1) == 1 or new
    end
    -- kept as long as the hour's last records: a date fixed by the hour, so set when the
    -- hash gains a field (its first among them), not on every record
    if new then
      redis.call('PEXPIRE', hour_key, math.floor(at / 3600000) * 3600000 + 3600000 - oldest)
    end
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
