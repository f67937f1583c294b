-- The previous version's attempts_convert.lua (wave 5, main at 18c1aa1), kept as it was:
-- what a service wrote before the upgrade (test_attempts_rollups.py, test_attempts_store.py).
-- Mark the attempts of one verification converted (it was approved). They are found by
-- their scores, the times of the verification's send attempts, and by the verification id
-- inside each record (store/attempts.py: its own 16 hex digits at byte 26, the converted
-- flag at byte 22).
local log_key = KEYS[1]           -- keys.attempts_log_key(service)
local since_key = KEYS[2]         -- keys.attempts_since_key(service)
local hour_key = KEYS[3]          -- keys.attempts_hour_key(service, hour of the first time)
local credit_key = KEYS[4]        -- keys.attempts_hour_key(service, hour of `credit`)
local verification = ARGV[1]      -- the last 16 hex digits of the verification id
local scores = ARGV[2]            -- its send attempts' times (ms), space-separated, ascending
local credit = ARGV[3]            -- the time of its last accepted send, absent when none

local changed = 0
local first = string.match(scores, '%d+')
local start_country = nil         -- set when the verification's first record changed
local credited = nil              -- the provider of the `credit` send, when its record changed
for score in string.gmatch(scores, '%S+') do
  for _, record in ipairs(redis.call('ZRANGEBYSCORE', log_key, score, score)) do
    if string.sub(record, 22, 22) == '0' and string.sub(record, 26, 41) == verification then
      redis.call('ZREM', log_key, record)
      redis.call('ZADD', log_key, score,
        string.sub(record, 1, 21) .. '1' .. string.sub(record, 23))
      changed = changed + 1
      if score == first then
        start_country = string.match(record, '^[^|]*|[^|]*|[^|]*|[^|]*|[^|]*|[^|]*|([^|]*)|')
      end
      if score == credit and string.sub(record, 24, 24) ~= 'f' then
        credited = string.match(record, '^[^|]*|[^|]*|[^|]*|[^|]*|[^|]*|([^|]*)|')
      end
    end
  end
end
-- Roll-ups (attempts_add.lua): the approval counts in its start's hour, once (only the
-- first approval changes the record), and only for a start the roll-ups counted: in an
-- hour they keep (the prelude's count_if_kept).
if start_country or credited then
  local since = tonumber(redis.call('GET', since_key))
  if start_country and since and tonumber(first) >= since then
    count_if_kept(hour_key, 'a:' .. start_country)
  end
  -- ... and the provider of its last accepted send (`c:`), in that send's hour, once
  if credited and since and tonumber(credit) >= since then
    count_if_kept(credit_key, 'c:' .. credited)
  end
end
return changed
