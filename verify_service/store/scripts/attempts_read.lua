-- One batch of a service's attempts, newest first: from its log, or from one number's
-- entries in the number index. Records past the retention on Redis's clock are not read,
-- trimmed or not. Paging resumes below (max, after): a record at score `max` is returned
-- only when its random part sorts below `after` ('' = from `max` itself, inclusive).
-- Reply: {done, last score, last random part, score, record, score, record, ...}; `done` is
-- 1 when nothing older is left, the last pair is where the next batch resumes.
local log_key = KEYS[1]           -- keys.attempts_log_key(service)
local numbers_key = KEYS[2]       -- keys.attempts_numbers_key(service), or absent
local clock_offset_ms = ARGV[1]
local retention_ms = tonumber(ARGV[2]) * 1000
local top = ARGV[3]               -- ms, inclusive, or '+inf'
local min = tonumber(ARGV[4])     -- ms, inclusive
local after = ARGV[5]
local count = tonumber(ARGV[6])
local tag = ARGV[7]               -- the number's index field when numbers_key is given

min = math.max(min, now_ms(clock_offset_ms) - retention_ms)
local high = tonumber(top) or math.huge
local entries = {}                -- {score, random part or record}, newest first

-- index entries name records by 8 hex digits: the cursor is compared on as many
local function below_cursor(score, random_part)
  if score > high or score < min then
    return false
  end
  return after == '' or score < high or random_part < string.sub(after, 1, 8)
end

if numbers_key then
  local index = {}
  for entry in string.gmatch(redis.call('HGET', numbers_key, tag) or '', '[^ ]+') do
    local score, random_part = string.match(entry, '^(%d+):(%x+)$')
    table.insert(index, {tonumber(score), random_part})
  end
  -- newest first, ties by random part descending (the log's order)
  table.sort(index, function(a, b)
    if a[1] ~= b[1] then return a[1] > b[1] end
    return a[2] > b[2]
  end)
  for _, entry in ipairs(index) do
    if #entries >= count then break end
    if below_cursor(entry[1], entry[2]) then
      table.insert(entries, entry)
    end
  end
elseif high >= min then
  local max = top
  if after ~= '' then
    for _, member in ipairs(redis.call('ZREVRANGEBYSCORE', log_key, top, top)) do
      if string.sub(member, 1, 20) < after and #entries < count then
        table.insert(entries, {top, member})
      end
    end
    max = '(' .. top
  end
  if #entries < count then
    local rows = redis.call('ZREVRANGEBYSCORE', log_key, max, min, 'WITHSCORES', 'LIMIT', 0,
      count - #entries)
    for i = 1, #rows, 2 do
      table.insert(entries, {rows[i + 1], rows[i]})
    end
  end
end

local reply = {#entries < count and 1 or 0, '', ''}
for _, entry in ipairs(entries) do
  local score, member = entry[1], entry[2]
  reply[2], reply[3] = tostring(score), string.sub(member, 1, 20)
  if numbers_key then
    for _, record in ipairs(redis.call('ZRANGEBYSCORE', log_key, score, score)) do
      if string.sub(record, 1, 8) == member then
        table.insert(reply, tostring(score))
        table.insert(reply, record)
      end
    end
  else
    table.insert(reply, score)
    table.insert(reply, member)
  end
end
return reply
