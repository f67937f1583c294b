-- The previous version's attempts_dlr.lua (wave 5, main at 18c1aa1), kept as it was:
-- what a service wrote before the upgrade (test_attempts_rollups.py, test_attempts_store.py).
-- Delivery reports on a service's attempt log: each moves the record of one send attempt
-- to delivered (`d`) or undelivered (`u`), with the provider's error code (undelivered)
-- and when the report came, as seconds after the send, in an 11th field. A record is found
-- by its score (the send attempt's time), the verification id's own 16 hex digits and the
-- provider (store/attempts.py: the status letter at byte 24, the id at byte 26). As on the
-- verification (report.lua), only sent -> delivered / undelivered and undelivered ->
-- delivered: reports come out of order, "delivered" is proof and final.
--
-- Roll-ups (store/attempts.py ROLL-UPS): a record that changes is counted in the hash of
-- its send's hour, where attempts_add.lua counted the send, however late the report, in
-- one counter: `D:` (delivered) or `U:` (undelivered) of its provider and its report
-- time's bucket, `<provider>:<i>`. The counters follow the record's state, not the
-- reports: undelivered -> delivered moves the record from `U:` to `D:` and its time to
-- the new report's; a repeated report, or one the rules refuse, changes no record and so
-- counts nothing. Only sends the roll-ups counted (made
-- since `since_key`, their hour still kept) are counted. After an upgrade from a version
-- that did not count reports (`counting_key` says from when this one does), a record
-- reported undelivered before it is in no counter: a later "delivered" adds to `D:`
-- without taking from `U:` (and a counter never goes below 0). A send reported
-- undelivered by a version that kept `u:<provider>` and `t:<provider>:<i>` apart is taken
-- from those (store/attempts.py sums both forms).
local log_key = KEYS[1]           -- keys.attempts_log_key(service)
local since_key = KEYS[2]         -- keys.attempts_since_key(service)
local counting_key = KEYS[3]      -- keys.attempts_reports_since_key(service)
-- from index 4: keys.attempts_hour_key(service, hour of the send) of each report line
local hour_keys = KEYS
local clock_offset_ms = ARGV[1]
local reports = ARGV[2]           -- lines "<score>\t<own id>\t<provider>\t<d|u>\t<code>"
local report_bounds = ARGV[3]     -- REPORT_BOUNDS (whole seconds), space-separated
local retention_ms = tonumber(ARGV[4]) * 1000

local bounds = {}
for b in string.gmatch(report_bounds, '%d+') do
  table.insert(bounds, tonumber(b))
end

-- the report-time bucket of `seconds`: the first bound at or above it, #bounds above all
local function bucket(seconds)
  for i, b in ipairs(bounds) do
    if seconds <= b then return i - 1 end
  end
  return #bounds
end

-- take 1 from a counter above 0; one that comes to 0 goes (only counters above 0 exist);
-- whether there was one to take
local function uncount(key, field)
  local value = tonumber(redis.call('HGET', key, field))
  if value and value > 1 then
    redis.call('HINCRBY', key, field, -1)
  elseif value then
    redis.call('HDEL', key, field)
  end
  return value ~= nil
end

local now = now_ms(clock_offset_ms)
local since = tonumber(redis.call('GET', since_key))
local counting = tonumber(redis.call('GET', counting_key))
if not counting then
  counting = now
  redis.call('SET', counting_key, now)
end
-- gone only after a retention without reports, when every record it dated is gone too:
-- a retention and an hour whenever less than a retention is left (a PTTL per call)
if redis.call('PTTL', counting_key) < retention_ms then
  redis.call('PEXPIRE', counting_key, retention_ms + 3600000)
end
local changed = 0
local n = 0
for line in string.gmatch(reports, '[^\n]+') do
  n = n + 1
  local score, own, provider, letter, code = string.match(line,
    '^(%d+)\t(%x+)\t([^\t]*)\t([du])\t?([^\t]*)$')
  if score then
    for _, record in ipairs(redis.call('ZRANGEBYSCORE', log_key, score, score)) do
      local current = string.sub(record, 24, 24)
      if string.sub(record, 26, 41) == own
          and (current == 's' or (current == 'u' and letter == 'd')) then
        local fields = {}
        for field in string.gmatch(record .. '|', '([^|]*)|') do
          table.insert(fields, field)
        end
        if fields[6] == provider then
          local before = tonumber(fields[11])
          local seconds = math.max(0, math.floor((now - tonumber(score)) / 1000))
          fields[3] = letter
          if letter == 'd' then
            fields[10] = ''
          elseif code ~= '' then
            fields[10] = code
          end
          fields[11] = string.format('%d', seconds)
          redis.call('ZREM', log_key, record)
          redis.call('ZADD', log_key, score, table.concat(fields, '|', 1, 11))
          changed = changed + 1
          local hour_key = hour_keys[3 + n]
          if since and tonumber(score) >= since then
            -- the earlier report was counted when it came since `counting` (its time is
            -- kept in whole seconds: up to 1 s early)
            if current == 'u' and before
                and tonumber(score) + before * 1000 > counting - 1000 then
              local earlier = provider .. ':' .. bucket(before)
              if not uncount(hour_key, 'U:' .. earlier) then
                uncount(hour_key, 'u:' .. provider)
                uncount(hour_key, 't:' .. earlier)
              end
            end
            count_if_kept(hour_key, string.upper(letter) .. ':' .. provider .. ':' .. bucket(seconds))
          end
        end
      end
    end
  end
end
return changed
