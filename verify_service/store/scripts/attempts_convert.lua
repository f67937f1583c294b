-- Mark the attempts of one verification converted (it was approved). They are found by
-- their scores, the times of the verification's send attempts, and by the verification id
-- inside each record (store/attempts.py: its own 16 hex digits at byte 26, the converted
-- flag at byte 22).
local log_key = KEYS[1]           -- keys.attempts_log_key(service)
local verification = ARGV[1]      -- the last 16 hex digits of the verification id
local scores = ARGV[2]            -- its send attempts' times (ms), space-separated

local changed = 0
for score in string.gmatch(scores, '%S+') do
  for _, record in ipairs(redis.call('ZRANGEBYSCORE', log_key, score, score)) do
    if string.sub(record, 22, 22) == '0' and string.sub(record, 26, 41) == verification then
      redis.call('ZREM', log_key, record)
      redis.call('ZADD', log_key, score,
        string.sub(record, 1, 21) .. '1' .. string.sub(record, 23))
      changed = changed + 1
    end
  end
end
return changed
