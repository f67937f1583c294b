-- Fraud guard, on a start to one number of one service (docs/fraud.md, store/fraud.py).
-- In one call: refuse while a range of the number is blocked (unless a narrower range of
-- it has a healthy record of its own, or the number is allow-listed); else judge every
-- range with this start counted, block the narrowest one whose recent conversion is
-- significantly below its country's baseline, or count the start. Unconverted repeats into
-- 10k-blocks without a record are counted service-wide: beyond an allowance they alert the
-- service and such a block is judged on its second start (a spread attack).
-- Every key is one service's (same hash tag, one slot):
local ranges_key = KEYS[1]  -- hash: prefix -> "s a S A t u" (see decayed)
local lru_key = KEYS[2]     -- zset: prefix -> last touched (ms); memory bound
-- (blocks_key also holds prefix..'#r' -> the starts that block refused)
local blocks_key = KEYS[3]  -- hash: prefix -> block record (see parse_block)
local allow_key = KEYS[4]   -- hash: prefix -> "<at ms> <actor>"
local seen_key = KEYS[5]    -- zset: number digest -> its last counted start (ms)
local clock_offset_ms = ARGV[1]
local tau = tonumber(ARGV[2])             -- ms: time constant of the recent counters
local tau_long = tonumber(ARGV[3])        -- ms: time constant of the baseline counters
local ratio = tonumber(ARGV[4])           -- anomalous below ratio x baseline conversion
local min_starts = tonumber(ARGV[5])      -- recent starts before a range is judged
local repeat_min_starts = tonumber(ARGV[6])  -- the same, for a range blocked before
local min_conversion = tonumber(ARGV[7])  -- fixed floor judged the same way; 0 = none
local prior = tonumber(ARGV[8])           -- conversion assumed for a service without history
local prior_weight = tonumber(ARGV[9])    -- starts of history that outweigh the parent's
local new_allowance = tonumber(ARGV[10])  -- unconverted starts a new country gets
local growth = tonumber(ARGV[11])         -- and per approval more
local healthy_min = tonumber(ARGV[12])    -- approvals that make a range healthy
local cooldown = tonumber(ARGV[13])       -- ms of a first block
local max_cooldown = tonumber(ARGV[14])   -- ms
local strike_memory = tonumber(ARGV[15])  -- ms a block makes its range and those above suspect
local max_ranges = tonumber(ARGV[16])
local ttl = tonumber(ARGV[17])            -- ms every key lives after its last write
local suspect_factor = tonumber(ARGV[18])  -- z of a suspect range (below the country) x this
local alert_factor = tonumber(ARGV[19])   -- z of every range while the service is alerted x this
local fresh_allowance = tonumber(ARGV[20])  -- unconverted repeats into ranges without history
local allowed_flag = ARGV[21]      -- '1': allow-listed by the config
local prefix_list = ARGV[22]       -- the number's ranges, broadest (the service) first
local level_list = ARGV[23]        -- their levels, in the same order
local z_list = ARGV[24]            -- the confidence (normal quantile) each range is judged at
local candidate_list = ARGV[25]    -- prefixes an allow-list entry may match
local number_id = ARGV[26]         -- digest of the number (never the number itself)
local repeat_window = tonumber(ARGV[27])  -- ms: a start again to the same number counts once
local now = now_ms(clock_offset_ms)

-- What this costs is mostly Lua, not Redis (docs/performance.md, "Wave 5: the pumping
-- guard's Lua"): the lists are split only when needed, numbers go to Redis as text made
-- once, and the counters' text is read by position, without float parsing.
local function words(text)
  local found = {}
  for word in string.gmatch(text, '%S+') do
    found[#found + 1] = word
  end
  return found
end
local allowed = allowed_flag == '1'
local prefixes, levels = words(prefix_list), words(level_list)
local zs = nil  -- words(z_list), once a range is judged
local n = #prefixes
local now_text = string.format('%.0f', now)  -- every score and counter time written

-- Counters decay exponentially: one stored value per counter and range, read at `now`.
-- s, a: recent starts and approvals; S, A: the same over the baseline horizon; u: until
-- when the range is suspect (a block in it or under it), ms. Stored as text (the
-- prelude's counters_text and counters_of), each count rounded to 6 significant digits.
local decayed = counters_at(now, tau, tau_long)

local function pack(s, a, S, A, u)
  return counters_text(s, a, S, A, now_text, u)
end

-- Wilson score upper bound of a conversion seen as x approvals of k starts, at z.
local function wilson_upper(x, k, z)
  local p = math.min(1, x / k)
  local z2 = z * z
  local centre = p + z2 / (2 * k)
  local spread = z * math.sqrt(p * (1 - p) / k + z2 / (4 * k * k))
  return (centre + spread) / (1 + z2 / k)
end

-- Block record: "<until ms> <at ms> <starts> <approvals> <baseline> <strikes> <level>".
local function parse_block(raw)
  if not raw then
    return nil
  end
  local u, at, s, a, ref, strikes = string.match(raw, '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+)')
  return {until_ms = tonumber(u), strikes = tonumber(strikes)}
end

-- FRESH: the service's decayed count of unconverted repeats into ranges without history
-- (recent, then over the baseline horizon), "f F t"; a field of the counters' hash that is
-- no range (never in the LRU index, never forgotten before the hash).
local FRESH = '#fresh'
local raws = redis.call('HMGET', ranges_key, FRESH, unpack(prefixes))
local fresh_raw = raws[1]
table.remove(raws, 1)
local s, a, S, A, u = {}, {}, {}, {}, {}
for i = 1, n do
  s[i], a[i], S[i], A[i], u[i] = decayed(raws[i])
end
-- This number's 10k-block, and whether this start is an unconverted repeat into it while
-- it has no history: a start within the last ~40 minutes, never an approval over the
-- baseline horizon (see the service's count below).
local fresh_i = nil
for i = 3, n do
  if levels[i] == 'block_10k' then
    fresh_i = i
  end
end
local fresh_repeat = fresh_i ~= nil and s[fresh_i] >= 0.5 and A[fresh_i] < 0.5
-- The service's count of them with this one (recent and over the baseline horizon), and
-- whether it is over the allowance plus what the service's history leads to expect: the
-- shape of a pumping list fed into a few blocks, before any one block can be judged.
local fresh_f, fresh_F, fresh_hot = 0, 0, false
if fresh_repeat then
  if fresh_raw then
    local rf, rF, t = string.match(fresh_raw, '^(%S+) (%S+) (%S+)$')
    local dt = math.max(0, now - tonumber(t))
    fresh_f, fresh_F = tonumber(rf) * math.exp(-dt / tau), tonumber(rF) * math.exp(-dt / tau_long)
  end
  fresh_f, fresh_F = fresh_f + 1, fresh_F + 1
  local expected = math.max(0, fresh_F - fresh_f) * tau / tau_long
  zs = words(z_list)
  fresh_hot = fresh_f > fresh_allowance + expected + tonumber(zs[1]) * math.sqrt(expected)
end

-- Baseline conversion of each range: its own history older than the recent window,
-- shrunk towards its parent's baseline while it has little (prior_weight starts' worth).
-- Every range of a number is judged against its country's: a narrower range's own
-- history is too thin, and may be the attack itself.
local base = {}
local parent = prior
for i = 1, math.min(n, 2) do
  local old_s = math.max(0, S[i] - s[i])
  local old_a = math.min(old_s, math.max(0, A[i] - a[i]))
  base[i] = (old_a + prior_weight * parent) / (old_s + prior_weight)
  parent = base[i]
end
local reference = base[math.min(n, 2)]

-- The blocks and the allow-list are usually empty (no key): an EXISTS tells, and spares
-- looking up every prefix of the number in them.
local records = {}
if redis.call('EXISTS', blocks_key) == 1 then
  records = redis.call('HMGET', blocks_key, unpack(prefixes))
end
local blocks = {}
for i = 2, n do
  local block = parse_block(records[i])
  if block and block.until_ms + strike_memory < now then
    redis.call('HDEL', blocks_key, prefixes[i], prefixes[i] .. '#r')  -- forgotten
    block = nil
  end
  blocks[i] = block
end

-- The confidence range i is judged at: its level's, lower when it is suspect (blocked
-- within the last day, or below the country and a narrower range in it was) and while
-- the service is alerted (one first cool-down after a trip).
local function confidence(i)
  zs = zs or words(z_list)
  local z = tonumber(zs[i])
  if blocks[i] or (i > 2 and u[i] > now) then
    z = z * suspect_factor
  end
  if u[1] > now then
    z = z * alert_factor
  end
  return z
end

local function anomalous(i, starts, approvals)
  local need = min_starts
  if blocks[i] or u[1] > now then
    need = repeat_min_starts
  end
  if i == fresh_i and fresh_hot then
    need = 1.5  -- a second start within ~40 min, whatever the decay left of the first
  elseif blocks[i] and A[i] < 0.5 then
    need = 1  -- blocked before and never approved since: its next start is judged
  end
  if starts < need then
    return false
  end
  local upper = wilson_upper(approvals, starts, confidence(i))
  local expected = reference
  if i == 1 then
    expected = base[1]
  end
  return upper < ratio * expected or (min_conversion > 0 and upper < min_conversion)
end

-- A range with a record of its own: enough approvals over the baseline horizon, a fair
-- share of its starts, and nothing anomalous now.
local function healthy(j)
  return A[j] >= healthy_min and A[j] >= ratio * reference * S[j]
    and not anomalous(j, s[j] + 1, a[j])
end

local function healthy_below(i)
  for j = i + 1, n do
    if healthy(j) then
      return true
    end
  end
  return false
end

local function active(i)
  return blocks[i] and blocks[i].until_ms > now
end

local candidates = {}
if not allowed and redis.call('EXISTS', allow_key) == 1 then
  candidates = words(candidate_list)
end
if #candidates > 0 then
  local hits = redis.call('HMGET', allow_key, unpack(candidates))
  for i = 1, #candidates do
    if hits[i] then
      allowed = true
    end
  end
end

if not allowed then
  for i = 2, n do
    if active(i) and not healthy_below(i) then
      redis.call('HINCRBY', blocks_key, prefixes[i] .. '#r', 1)
      return {'blocked', tostring(math.ceil((blocks[i].until_ms - now) / 1000)), prefixes[i]}
    end
  end
end

-- A start again to a number started within repeat_window (a resend, a user who tries
-- again) is no new evidence: real users do that, pumping lists move on to new numbers.
-- The per-number rate limit bounds what this lets through.
-- Starts older than the window go first: a number still there was started within it.
redis.call('ZREMRANGEBYSCORE', seen_key, '-inf', now - repeat_window)
local first_seen = redis.call('ZADD', seen_key, now_text, number_id) == 1
redis.call('ZREMRANGEBYRANK', seen_key, 0, -max_ranges - 1)  -- the oldest beyond max_ranges
redis.call('PEXPIRE', seen_key, repeat_window)
if not first_seen then
  return {'ok'}
end

-- The whole service converting far below its baseline alerts it (nothing is blocked for
-- that): pumping spread over many ranges shows there before it shows in any one range.
if not allowed and u[1] <= now and anomalous(1, s[1] + 1, a[1]) then
  u[1] = now + cooldown
end

-- A start to a 10k-block that had a start within the last ~40 minutes and never an
-- approval over the baseline horizon: real users land in a block without a record once in
-- a while, but two unconverted ones in the same block are rare; a pumping list fed into a
-- few blocks does little else. More of these than the service's allowance (plus what it
-- learnt to expect) alert the service before any one block has enough starts to be judged.
local values = {}
if not allowed and fresh_repeat then
  if fresh_hot and u[1] <= now then
    u[1] = now + cooldown
  end
  values[1] = FRESH
  values[2] = string.format('%.6g %.6g %.0f', fresh_f, fresh_F, now)
end

-- Judge: the narrowest anomalous range (a range still blocked that let this start
-- through, for a healthy range below it, is not judged again).
local trip = nil
if not allowed then
  for i = n, 2, -1 do
    if not active(i) and anomalous(i, s[i] + 1, a[i]) then
      trip = i
      break
    end
  end
  -- A country without history: its recent unconverted starts may not exceed a small
  -- allowance, which grows with its approvals over the baseline horizon.
  if not trip and n >= 2 and not active(2) and S[2] - s[2] < prior_weight
      and s[2] + 1 - a[2] > new_allowance + growth * A[2] then
    trip = 2
  end
end

local verdict = {'ok'}
if trip then
  local strikes = 1
  if blocks[trip] then
    strikes = blocks[trip].strikes + 1
  end
  local duration = math.min(max_cooldown, cooldown * 2 ^ (strikes - 1))
  local starts, approvals = s[trip] + 1, a[trip]
  redis.call('HSET', blocks_key, prefixes[trip],
    string.format('%.0f %.0f %.6g %.6g %.4f %d %s', now + duration, now, starts, approvals,
      reference, strikes, levels[trip]),
    prefixes[trip] .. '#r', 0)
  redis.call('PEXPIRE', blocks_key, math.max(ttl, duration + strike_memory))
  -- The block explains this range's traffic: take it out of the broader ranges, which
  -- are judged on the rest, but more readily for a day (suspect). The service's u is its
  -- alert: one first cool-down from the trip that raised it, whatever the block's length
  -- (a range blocked again is blocked longer, which says nothing about the service's other
  -- ranges), never a day's suspicion, and never prolonged by trips made under it: those
  -- were judged with the alert's own lower bar, and would keep it up on their own.
  for j = trip - 1, 1, -1 do
    s[j] = math.max(0, s[j] - s[trip])
    a[j] = math.max(0, a[j] - a[trip])
    S[j] = math.max(0, S[j] - S[trip])
    A[j] = math.max(0, A[j] - A[trip])
    if j > 1 then
      u[j] = math.max(u[j], now + strike_memory)
    end
  end
  if u[1] <= now then
    u[1] = now + cooldown
  end
  verdict = {'tripped', tostring(math.ceil(duration / 1000)), prefixes[trip], levels[trip],
    string.format('%.6g', starts), string.format('%.6g', approvals),
    string.format('%.4f', reference), tostring(strikes)}
  if healthy_below(trip) then
    verdict[1] = 'noted'  -- blocked, but this number's own range has a record: it passes
  else
    redis.call('HINCRBY', blocks_key, prefixes[trip] .. '#r', 1)
    for j = 1, trip - 1 do
      values[#values + 1] = prefixes[j]
      values[#values + 1] = pack(s[j], a[j], S[j], A[j], u[j])
    end
    redis.call('HSET', ranges_key, unpack(values))
    return verdict
  end
end

-- Count the start in every range.
local touched = {}
local fresh = false
for i = 1, n do
  if not raws[i] then
    fresh = true
  end
  values[#values + 1] = prefixes[i]
  values[#values + 1] = pack(s[i] + 1, a[i], S[i] + 1, A[i], u[i])
  touched[#touched + 1] = now_text
  touched[#touched + 1] = prefixes[i]
end
redis.call('HSET', ranges_key, unpack(values))
redis.call('ZADD', lru_key, unpack(touched))
if fresh then
  local excess = redis.call('ZCARD', lru_key) - max_ranges
  if excess > 0 then
    local oldest = redis.call('ZPOPMIN', lru_key, excess)
    for i = 1, #oldest, 2 do
      redis.call('HDEL', ranges_key, oldest[i])
    end
  end
end
redis.call('PEXPIRE', ranges_key, ttl)
redis.call('PEXPIRE', lru_key, ttl)
return verdict
