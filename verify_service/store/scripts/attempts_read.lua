-- One batch of a service's attempts, newest first: from its log, or from one number's
-- index (the second key). Records past the retention on Redis's clock are not read,
-- trimmed or not.
-- Paging resumes below (max, after): a record at score `max` is returned only when its
-- random part sorts below `after` ('' = from `max` itself, inclusive).
-- Reply: {done, last score, last random part, score, record, score, record, ...}; `done` is
-- 1 when nothing older is left, the last pair is where the next batch resumes.
local log_key = KEYS[1]           -- keys.attempts_log_key(service)
local number_key = KEYS[2]        -- keys.attempts_number_key(service, tag), or absent
local clock_offset_ms = ARGV[1]
local retention_ms = tonumber(ARGV[2]) * 1000
local top = ARGV[3]               -- ms, inclusive, or '+inf'
local min = tonumber(ARGV[4])     -- ms, inclusive
local after = ARGV[5]
local count = tonumber(ARGV[6])

min = math.max(min, now_ms(clock_offset_ms) - retention_ms)
local index = number_key or log_key
local max = top
local entries = {}                -- {score, member} of the index, newest first
local in_range = (tonumber(top) or math.huge) >= min
if in_range and after ~= '' then
  local tied = redis.call('ZREVRANGEBYSCORE', index, max, max)
  for _, member in ipairs(tied) do
    if string.sub(member, 1, 20) < after and #entries < count then
      table.insert(entries, {max, member})
    end
  end
  max = '(' .. max
end
if in_range and #entries < count then
  local rows = redis.call('ZREVRANGEBYSCORE', index, max, min, 'WITHSCORES', 'LIMIT', 0,
    count - #entries)
  for i = 1, #rows, 2 do
    table.insert(entries, {rows[i + 1], rows[i]})
  end
end

local reply = {#entries < count and 1 or 0, '', ''}
for _, entry in ipairs(entries) do
  local score, member = entry[1], entry[2]
  reply[2], reply[3] = score, string.sub(member, 1, 20)
  if number_key then
    for _, record in ipairs(redis.call('ZRANGEBYSCORE', log_key, score, score)) do
      if string.sub(record, 1, 20) == member then
        table.insert(reply, score)
        table.insert(reply, record)
      end
    end
  else
    table.insert(reply, score)
    table.insert(reply, member)
  end
end
return reply
