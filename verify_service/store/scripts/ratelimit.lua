-- Rate limits: every window of every layer of one request, decided and counted in one
-- call (store/limiter.py). All or nothing: the request is counted in every window, or,
-- when one window is full, in none (a refused request uses up no budget anywhere).
--
-- Keys: one hash per (layer, subject), keys.rate_key; a field per window, named by the
-- caller after its mode, amount and period, so a changed limit starts a fresh count.
-- Arguments: clock_offset_ms, then per key: n (its windows), its n fields, then n times:
-- mode, limit, period_ms. Modes:
--   m  moving window, exact: the field keeps the ms stamps of the requests still inside
--      the window, oldest first ("t1 t2 ..."): at most `limit` of them, so its cost and
--      size grow with the limit (store/limiter.py uses it for small limits);
--   s  sliding-window counter: "bucket count previous_count" over buckets of one period,
--      the previous bucket weighted by the share of it still inside the window;
--      constant size and cost, approximate (a uniform spread within the previous bucket);
--   f  fixed window: "bucket count"; constant, at most twice the limit across a boundary.
-- Reply: {0} allowed (and counted); {1, key_index, window_index, retry_after_ms} refused by
-- the first key with a full window (of its full windows, the one that frees up last).
-- Numbers are kept as the text they were stored in where they go back unchanged, and
-- written with '%d' (docs/performance.md, wave 6: conversions are much of a script's cost).
local clock_offset_ms = ARGV[1]
local subjects = KEYS           -- one hash per (layer, subject), layer order
local windows = ARGV            -- from index 2: per key n, n fields, n x (mode, limit, ms)

local now = now_ms(clock_offset_ms)
local now_text = string.format('%d', now)

-- Decide one window: allowed?, the value to store when the request is counted, the ms
-- until the window admits one more (when refused), and whether the value starts a new
-- count (a moving window's every count; a counter's new bucket, or a window the hash did
-- not hold): only then does the key's TTL need setting (below).
local function decide(value, mode, limit, period)
  if mode == 'm' then
    local kept, n = {}, 0       -- the stamps still inside the window, as stored
    if value then
      local since = now - period
      for t in string.gmatch(value, '%d+') do
        if tonumber(t) > since then
          n = n + 1
          kept[n] = t
        end
      end
    end
    if n >= limit then
      return false, nil, tonumber(kept[n - limit + 1]) + period - now
    end
    kept[n + 1] = now_text
    return true, table.concat(kept, ' '), 0, true
  end
  local bucket = math.floor(now / period)
  local count, previous, stored = 0, 0, nil
  if value then  -- its first three numbers: bucket, count, previous count
    local b, c, p = string.match(value, '(%d+)%D*(%d*)%D*(%d*)')
    stored = tonumber(b)
    if stored == bucket then
      count, previous = tonumber(c) or 0, tonumber(p) or 0
    elseif stored == bucket - 1 then
      previous = tonumber(c) or 0
    end
  end
  local fresh = stored ~= bucket
  local ends = (bucket + 1) * period - now  -- ms left in this bucket
  if mode == 'f' then
    if count >= limit then return false, nil, ends end
    return true, string.format('%d %d', bucket, count + 1), 0, fresh
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
  return true, string.format('%d %d %d', bucket, count + 1, previous), 0, fresh
end

local writes = {}  -- per key to count in: {key, its fields and values, TTL (ms), fresh}
local arg = 2
for k = 1, #subjects do
  local n = tonumber(windows[arg])
  local names = arg + 1         -- windows[names + w - 1]: window w's field
  local specs = names + n       -- windows[specs + 3 * (w - 1)]: its mode, limit, period
  arg = specs + 3 * n
  if n > 0 then
    local values = redis.call('HMGET', subjects[k], unpack(windows, names, specs - 1))
    local refused_window, refused_wait = nil, -1
    local updates, ttl, fresh = {}, 0, false
    for w = 1, n do
      local s = specs + 3 * (w - 1)
      local mode, period = windows[s], tonumber(windows[s + 2])
      local ok, value, wait, starts = decide(values[w], mode, tonumber(windows[s + 1]), period)
      if not ok then
        if wait > refused_wait then refused_window, refused_wait = w, wait end
      else
        updates[#updates + 1] = windows[names + w - 1]
        updates[#updates + 1] = value
        -- counters need the previous bucket: two periods; the moving window one
        ttl = math.max(ttl, mode == 'm' and period or 2 * period)
        fresh = fresh or starts
      end
    end
    if refused_window then
      return {1, k, refused_window, refused_wait}
    end
    writes[#writes + 1] = {subjects[k], updates, ttl, fresh}
  end
end

-- The TTL keeps a key until its newest stamp (moving window) or its current bucket's
-- successor (counters) has ended. A moving window sets it on every count; a key of
-- counters only when one of them starts a bucket: set then for two periods from within
-- that bucket, it outlasts the next one already, and the bucket's further counts need
-- no PEXPIRE (the sliding-window layers count every start: one command less per layer).
-- A key's windows are its layer's, the same on every count of it.
for _, write in ipairs(writes) do
  redis.call('HSET', write[1], unpack(write[2]))
  if write[4] then
    redis.call('PEXPIRE', write[1], string.format('%d', write[3]))
  end
end
return {0}
