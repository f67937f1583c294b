-- One batch of a service's attempts, newest first: from its log, or from one number's
-- entries in the number index. Records past the retention on Redis's clock are not read,
-- trimmed or not. Paging resumes below (max, after): a record at score `max` is returned
-- only when its random part sorts below `after` ('' = from `max` itself, inclusive).
-- With a filter (`spec`), only matching records are returned, and at most `budget`
-- records are looked at (Redis is held for a bounded time; the caller goes on from the
-- last one looked at).
-- Reply: {done, last score, last random part, records looked at, score, record, score,
-- record, ...}; `done` is 1 when nothing older is left, the last pair is where the next
-- batch resumes.
local log_key = KEYS[1]           -- keys.attempts_log_key(service)
local numbers_key = KEYS[2]       -- keys.attempts_numbers_key(service), or absent
local clock_offset_ms = ARGV[1]
local retention_ms = tonumber(ARGV[2]) * 1000
local top = ARGV[3]               -- ms, inclusive, or '+inf'
local min = tonumber(ARGV[4])     -- ms, inclusive
local after = ARGV[5]
local count = tonumber(ARGV[6])
local tag = ARGV[7]               -- the number's index field when numbers_key is given
-- "<country>\t<status letter>\t<channel>\t<provider>\t<converted 0/1>\t<number prefix
-- digits>", '' for any (store/attempts.py filter_spec); '' for no filter
local spec = ARGV[8]
local budget = tonumber(ARGV[9])  -- records looked at most (with a filter)
local want = {}
for value in string.gmatch(spec .. '\t', '([^\t]*)\t') do
  table.insert(want, value)
end
local filtered = #want == 6
local looked = 0
local last_looked = nil          -- {score, random part} of the last record looked at

-- needles for a quick look before a record is parsed: a field between its bars
local needles = {}
for _, i in ipairs({1, 3, 4}) do
  if filtered and want[i] ~= '' then
    table.insert(needles, '|' .. want[i] .. '|')
  end
end

-- does a packed record (store/attempts.py) pass the filter? The converted flag and the
-- status letter sit at bytes 22 and 24; most records fail there or on a needle, cheaply.
local function keep(record)
  if not filtered then
    return true
  end
  if (want[2] ~= '' and string.sub(record, 24, 24) ~= want[2])
      or (want[5] ~= '' and string.sub(record, 22, 22) ~= want[5]) then
    return false
  end
  for _, needle in ipairs(needles) do
    if not string.find(record, needle, 24, true) then
      return false
    end
  end
  local converted, letter, channel, provider, country, digits = string.match(record,
    '^[^|]*|([^|]*)|([^|]*)|[^|]*|([^|]*)|([^|]*)|([^|]*)|([^|]*)|')
  return (want[1] == '' or want[1] == country)
    and (want[2] == '' or want[2] == letter)
    and (want[3] == '' or want[3] == channel)
    and (want[4] == '' or want[4] == provider)
    and (want[5] == '' or want[5] == converted)
    and (want[6] == '' or string.sub(digits or '', 1, #want[6]) == want[6])
end

min = math.max(min, now_ms(clock_offset_ms) - retention_ms)
local high = tonumber(top) or math.huge
local entries = {}                -- {score, random part or record}, newest first
local looked_done = false

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
  looked = #entries
elseif high >= min then
  local max = top
  local exhausted = false
  -- look at one record: keep it when it passes; false once the batch is full or the
  -- budget spent
  -- (a filtered read takes records without their scores, which cost more to hand to
  -- Lua than the records: the few it keeps ask for theirs)
  local function look(score, member)
    looked = looked + 1
    last_looked = {score, member}
    if keep(member) then
      table.insert(entries, {score or redis.call('ZSCORE', log_key, member), member})
    end
    return #entries < count and looked < budget
  end
  local going = true
  if after ~= '' then
    for _, member in ipairs(redis.call('ZREVRANGEBYSCORE', log_key, top, top)) do
      if going and string.sub(member, 1, 20) < after then
        going = look(top, member)
      end
    end
    max = '(' .. top
  end
  -- in growing chunks: a plain read takes `count`, a filter reads on up to the budget
  local offset, chunk = 0, count
  while going do
    chunk = math.min(chunk, budget - looked)
    local rows, step
    if filtered then
      rows, step = redis.call('ZREVRANGEBYSCORE', log_key, max, min, 'LIMIT', offset, chunk), 1
    else
      rows, step = redis.call('ZREVRANGEBYSCORE', log_key, max, min, 'WITHSCORES', 'LIMIT',
        offset, chunk), 2
    end
    for i = 1, #rows, step do
      if going then
        going = look(step == 2 and rows[i + 1] or nil, rows[i])
      end
    end
    if #rows < step * chunk then
      exhausted = going
      going = false
    end
    offset = offset + #rows / step
    chunk = math.min(chunk * 4, 10000)
  end
  if not filtered then
    exhausted = #entries < count
  end
  looked_done = exhausted
end

local done
if numbers_key or high < min then
  done = #entries < count
else
  done = looked_done
end
local reply = {done and 1 or 0, '', '', looked}
if last_looked and not numbers_key then
  local score = last_looked[1] or redis.call('ZSCORE', log_key, last_looked[2])
  reply[2], reply[3] = tostring(score), string.sub(last_looked[2], 1, 20)
end
for _, entry in ipairs(entries) do
  local score, member = entry[1], entry[2]
  if numbers_key then
    reply[2], reply[3] = tostring(score), string.sub(member, 1, 20)
  end
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
