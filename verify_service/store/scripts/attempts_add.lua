-- Append records to a service's attempt log and its number index, then drop what is past
-- the retention (on Redis's clock) or beyond the most records kept. Both keys carry the
-- service's attempts hash tag (keys.attempts_log_key / attempts_numbers_key): one slot.
-- The number index is one hash per service (a key per number would cost more than the
-- record): field = the number's tag (its first 10 hex digits), value = "<ms>:<first 8 hex
-- digits of the record's random part>" entries, oldest first.
-- The same call counts the records in the service's hourly roll-ups (below).
-- Redis work per call (docs/performance.md, "Wave 6: the attempt log's upkeep"): besides
-- TIME, one ZADD of the records, the index's HMGET and HSET, and one HINCRBY per record
-- (two for a start's first record). The upkeep (the trim to the retention, the keys' TTL,
-- the since key) runs when the index's `@` field says it is due, about once an hour; the
-- trim to max_records with the sweep of stale numbers, about one call in 16. An index
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

local now = now_ms(clock_offset_ms)
local oldest = now - retention_ms

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

-- the records (`rows`), their times and latency buckets; their index entries,
-- space-separated (`added`)
local times, rows, latency, added
if not string.find(records, '\n', 1, true) then
  -- one record (most calls): no splitting, one ZADD of it
  times, rows, latency = {scores}, {records}, {buckets ~= '' and buckets or nil}
  redis.call('ZADD', log_key, scores, records)
  added = scores .. ':' .. string.sub(records, 1, 8)
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
  -- the records, in one ZADD
  local members, entries = {}, {}
  for i, record in ipairs(rows) do
    members[2 * i - 1] = times[i]
    members[2 * i] = record
    entries[i] = times[i] .. ':' .. string.sub(record, 1, 8)
  end
  redis.call('ZADD', log_key, unpack(members))
  added = table.concat(entries, ' ')
end

-- The number's entries, and the index's `@` field: "<due ms>:<since ms>", when the next
-- upkeep is due (on Redis's clock with the offset) and the roll-ups' since (a copy of
-- since_key, which never changes once set), so that a write reads neither the since key
-- nor a TTL. `@` reads as a live index entry to the wave-5 sweep, which keeps it.
local got = redis.call('HMGET', numbers_key, tag, '@')
local value, upkeep = got[1], got[2]
local due, since_text, since
if upkeep then
  local colon = string.find(upkeep, ':', 1, true)
  if colon then
    due, since_text = tonumber(string.sub(upkeep, 1, colon - 1)), string.sub(upkeep, colon + 1)
    since = tonumber(since_text)
  end
end
-- the index's fields written with the number's (one HSET)
local extra = {}
local trim = false
local refresh = nil
if not (due and since and now < due) then
  -- The upkeep. Records past the retention go (the reads skip them until then: at most an
  -- hour more in memory). The service's keys go only after a retention without writes,
  -- when every record they date is gone too (the since key with them): their TTL is set
  -- to a retention and an hour whenever less than a retention is left, so the next upkeep
  -- is due when that happens (an hour after a refresh), not on every write; an hour from
  -- now at most (a retention made shorter trims within the hour).
  since_text = redis.call('GET', since_key)
  if not since_text then
    since_text = times[1]
    for _, t in ipairs(times) do
      if tonumber(t) < tonumber(since_text) then since_text = t end
    end
    redis.call('SET', since_key, since_text)
  end
  since = tonumber(since_text)
  redis.call('ZREMRANGEBYSCORE', log_key, '-inf', '(' .. oldest)
  trim = true
  local ttl = redis.call('PTTL', log_key)
  if ttl < retention_ms then
    ttl = retention_ms + 3600000
    refresh = ttl  -- after the index's HSET, which may make its key
  end
  extra[#extra + 1] = '@'
  extra[#extra + 1] = string.format('%d:%s', now + math.min(ttl - retention_ms, 3600000),
    since_text)
end

-- Appended to as they are, unless the oldest is past the retention or there may be more
-- than max_per_number (an entry is 22 bytes and a space with times of 13 digits), then
-- parsed, the dead dropped and the newest kept.
local first_ms = value and tonumber(string.sub(value, 1, 13))  -- nil unless 13 digits
if not value and #rows <= max_per_number then
  value = added  -- a number new to the index (or gone from it)
elseif first_ms and first_ms >= oldest and #value + 1 <= 23 * (max_per_number - #rows) then
  value = value .. ' ' .. added
else
  local entries = live(value)
  for entry in string.gmatch(added, '[^ ]+') do
    entries[#entries + 1] = entry
  end
  local from = math.max(1, #entries - max_per_number + 1)
  value = table.concat(entries, ' ', from)
end

-- Other numbers whose newest entry is past the retention go: about one call in 16 (the
-- first hex digit of its first record's random part is 0) looks at the next 32 or so
-- fields of the index (HSCAN, its cursor kept in the index's `~` field), two per write
-- on average, each field in turn: every stale number goes within a pass over the index
-- (docs/performance.md, "Wave 5: the attempt log's write"). A value is parsed only when
-- its last entry, the newest as written, is past the retention (or not of 13 digits).
-- The same calls trim the log to max_records: between them it holds a few more (one
-- call in 16: over a hundred calls without one come about once in 600).
local function stale(entries)
  local last = tonumber(string.sub(entries, -22, -10))
  return not (last and last >= oldest) and #live(entries) == 0
end
if string.sub(rows[1], 1, 1) == '0' then
  local scan = redis.call('HSCAN', numbers_key, redis.call('HGET', numbers_key, '~') or '0',
    'COUNT', '32')
  local found = scan[2]
  for j = 1, #found, 2 do
    local name = found[j]
    if name ~= tag and name ~= '~' and name ~= '@' and stale(found[j + 1]) then
      redis.call('HDEL', numbers_key, name)
    end
  end
  extra[#extra + 1] = '~'
  extra[#extra + 1] = scan[1]
  trim = true
end
redis.call('HSET', numbers_key, tag, value, unpack(extra))
if trim then
  redis.call('ZREMRANGEBYRANK', log_key, 0, -(max_records + 1))
end
if refresh then
  redis.call('PEXPIRE', log_key, refresh)
  redis.call('PEXPIRE', numbers_key, refresh)
  redis.call('PEXPIRE', since_key, refresh)
end

-- Roll-ups (store/attempts.py ROLL-UPS): per service-hour, counters of what the console's
-- Overview and Providers pages show, so that they read 168 small hashes, not a week of
-- records. A start counts once, at its first record, in that record's hour (its approval
-- is counted there too, by attempts_convert.lua). Records made before the roll-ups began
-- (since_key, set by the first call) stay in the log only. A send is one HINCRBY: its
-- provider's counter of its outcome (A accepted, F failed) and latency bucket; the
-- pages' counters are sums of these (store/attempts.py).
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
      new = redis.call('HINCRBY', hour_key, 'r:' .. country, '1') == 1
    else
      if created == '1' and i == first then
        new = redis.call('HINCRBY', hour_key, 's:' .. country, '1') == 1
      end
      local field = (status == 'f' and 'F:' or 'A:') .. provider .. ':' .. (latency[i] or '-')
      new = redis.call('HINCRBY', hour_key, field, '1') == 1 or new
    end
    -- kept as long as the hour's last records: a date fixed by the hour, so set when the
    -- hash gains a field (its first among them), not on every record
    if new then
      redis.call('PEXPIRE', hour_key, math.floor(at / 3600000) * 3600000 + 3600000 - oldest)
    end
  end
end
return 'ok'
