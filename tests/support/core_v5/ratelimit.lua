-- Rate limits: every window of every layer of one request, decided and counted in one
-- call (store/limiter.py). All or nothing: the request is counted in every window, or,
-- when one window is full, in none (a refused request uses up no budget anywhere).
--
-- Keys: one hash per (layer, subject), keys.rate_key; a field per window, named by the
-- caller after its mode, amount and period, so a changed limit starts a fresh count.
-- Arguments: clock_offset_ms, then per key: n (its windows), then n times: field, mode, limit,
-- period_ms. Modes:
--   m  moving window, exact: the field keeps the ms stamps of the requests still inside
--      the window, oldest first ("t1 t2 ..."): at most `limit` of them, so its cost and
--      size grow with the limit (store/limiter.py uses it for small limits);
--   s  sliding-window counter: "bucket count previous_count" over buckets of one period,
--      the previous bucket weighted by the share of it still inside the window;
--      constant size and cost, approximate (a uniform spread within the previous bucket);
--   f  fixed window: "bucket count"; constant, at most twice the limit across a boundary.
-- Reply: {0} allowed (and counted); {1, key_index, window_index, retry_after_ms} refused by
-- the first key with a full window (of its full windows, the one that frees up last).
local clock_offset_ms = ARGV[1]
local subjects = KEYS           -- one hash per (layer, subject), layer order
local windows = ARGV            -- from index 2: per key n, then n x (field, mode, limit, ms)

local now = now_ms(clock_offset_ms)

local function parse(value)
  local out = {}
  if value then
    for n in string.gmatch(value, '%d+') do out[#out + 1] = tonumber(n) end
  end
  return out
end

-- Decide one window: allowed?, the value to store when the request is counted, the ms
-- until the window admits one more (when refused).
local function decide(value, mode, limit, period)
  local v = parse(value)
  if mode == 'm' then
    local kept = {}
    for _, t in ipairs(v) do
      if t > now - period then kept[#kept + 1] = t end
    end
    if #kept >= limit then
      return false, nil, kept[#kept - limit + 1] + period - now
    end
    kept[#kept + 1] = now
    return true, table.concat(kept, ' '), 0
  end
  local bucket = math.floor(now / period)
  local count, previous = 0, 0
  if v[1] == bucket then
    count, previous = v[2] or 0, v[3] or 0
  elseif v[1] == bucket - 1 then
    previous = v[2] or 0
  end
  local ends = (bucket + 1) * period - now  -- ms left in this bucket
  if mode == 'f' then
    if count >= limit then return false, nil, ends end
    return true, bucket .. ' ' .. (count + 1), 0
  end
  local weight = ends / period  -- the share of the previous bucket still in the window
  if previous * weight + count + 1 > limit then
    local retry
    if count + 1 > limit then
      -- this bucket alone is full: wait for it to end, then for its weight to fall enough
      retry = ends + math.ceil(period * (1 - (limit - 1) / count))
    else
      retry = math.ceil(period * (weight - (limit - 1 - count) / previous))
    end
    return false, nil, math.max(1, retry)
  end
  return true, bucket .. ' ' .. (count + 1) .. ' ' .. previous, 0
end

local writes = {}
local arg = 2
for k = 1, #subjects do
  local n = tonumber(windows[arg])
  arg = arg + 1
  local fields, specs = {}, {}
  for w = 1, n do
    fields[w] = windows[arg]
    specs[w] = {windows[arg + 1], tonumber(windows[arg + 2]), tonumber(windows[arg + 3])}
    arg = arg + 4
  end
  local values = n > 0 and redis.call('HMGET', subjects[k], unpack(fields)) or {}
  local refused_window, refused_wait = nil, -1
  local updates, ttl = {}, 0
  for w = 1, n do
    local mode, limit, period = specs[w][1], specs[w][2], specs[w][3]
    local ok, value, wait = decide(values[w], mode, limit, period)
    if not ok then
      if wait > refused_wait then refused_window, refused_wait = w, wait end
    else
      updates[#updates + 1] = fields[w]
      updates[#updates + 1] = value
      -- counters need the previous bucket: two periods; the moving window one
      ttl = math.max(ttl, mode == 'm' and period or 2 * period)
    end
  end
  if refused_window then
    return {1, k, refused_window, refused_wait}
  end
  if n > 0 then writes[#writes + 1] = {subjects[k], updates, ttl} end
end

for _, write in ipairs(writes) do
  redis.call('HSET', write[1], unpack(write[2]))
  redis.call('PEXPIRE', write[1], write[3])
end
return {0}
