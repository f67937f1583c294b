-- Fraud guard, on a start to one number of one service (docs/fraud.md, store/fraud.py).
-- In one call: refuse while a range of the number is blocked (unless a narrower range of
-- it has a healthy record of its own, or the number is allow-listed); else judge every
-- range with this start counted, block the narrowest one whose recent conversion is
-- significantly below its baseline, or count the start.
-- Every key is one service's (same hash tag, one slot):
local ranges_key = KEYS[1]  -- hash: prefix -> "s a S A t" (see decayed)
local lru_key = KEYS[2]     -- zset: prefix -> last touched (ms); memory bound
local blocks_key = KEYS[3]  -- hash: prefix -> block record (see block_record);
                            --       prefix..'#r' -> starts refused by that block
local allow_key = KEYS[4]   -- hash: prefix -> "<at ms> <actor>"
local now = now_ms(ARGV[1])
local tau = tonumber(ARGV[2])             -- ms: time constant of the recent counters
local tau_long = tonumber(ARGV[3])        -- ms: time constant of the baseline counters
local z = tonumber(ARGV[4])               -- confidence of the test (standard normal quantile)
local ratio = tonumber(ARGV[5])           -- anomalous below ratio x baseline conversion
local min_starts = tonumber(ARGV[6])      -- recent starts before a range is judged
local repeat_min_starts = tonumber(ARGV[7])  -- the same, for a range blocked before
local min_conversion = tonumber(ARGV[8])  -- fixed floor judged the same way; 0 = none
local prior = tonumber(ARGV[9])           -- conversion assumed for a service without history
local prior_weight = tonumber(ARGV[10])   -- starts of history that outweigh the parent's
local new_allowance = tonumber(ARGV[11])  -- unconverted starts a new country gets
local growth = tonumber(ARGV[12])         -- and per approval more
local healthy_min = tonumber(ARGV[13])    -- approvals that make a range healthy
local cooldown = tonumber(ARGV[14])       -- ms of a first block
local max_cooldown = tonumber(ARGV[15])   -- ms
local strike_memory = tonumber(ARGV[16])  -- ms a past block makes the range suspect
local max_ranges = tonumber(ARGV[17])
local ttl = tonumber(ARGV[18])            -- ms every key lives after its last write
local allowed = ARGV[19] == '1'           -- allow-listed by the config
local n = tonumber(ARGV[20])              -- ranges, broadest (the service) first:
local prefixes, levels = {}, {}           -- ARGV[21..20+n] prefixes, then n level names,
for i = 1, n do                           -- then the allow-list candidates
  prefixes[i] = ARGV[20 + i]
  levels[i] = ARGV[20 + n + i]
end
local candidates = {}
for i = 21 + 2 * n, #ARGV do
  candidates[#candidates + 1] = ARGV[i]
end

-- Counters decay exponentially: one stored value per counter and range, read at `now`.
-- s, a: recent starts and approvals; S, A: the same over the baseline horizon.
local function decayed(raw)
  if not raw then
    return 0, 0, 0, 0
  end
  local s, a, S, A, t = string.match(raw, '^(%S+) (%S+) (%S+) (%S+) (%S+)$')
  local dt = math.max(0, now - tonumber(t))
  local f, F = math.exp(-dt / tau), math.exp(-dt / tau_long)
  return tonumber(s) * f, tonumber(a) * f, tonumber(S) * F, tonumber(A) * F
end

local function pack(s, a, S, A)
  return string.format('%.6g %.6g %.6g %.6g %.0f', s, a, S, A, now)
end

-- Wilson score upper bound of a conversion seen as x approvals of k starts.
local function wilson_upper(x, k)
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

local raws = redis.call('HMGET', ranges_key, unpack(prefixes))
local s, a, S, A = {}, {}, {}, {}
for i = 1, n do
  s[i], a[i], S[i], A[i] = decayed(raws[i])
end
-- Baseline conversion of each range: its own history older than the recent window,
-- shrunk towards its parent's baseline while it has little (prior_weight starts' worth).
local base = {}
local parent = prior
for i = 1, n do
  local old_s = math.max(0, S[i] - s[i])
  local old_a = math.min(old_s, math.max(0, A[i] - a[i]))
  base[i] = (old_a + prior_weight * parent) / (old_s + prior_weight)
  parent = base[i]
end
-- What a range is judged against: a country against its own baseline, a narrower range
-- against its parent's (its own history may be the attack).
local function reference(i)
  if i <= 2 then
    return base[2]
  end
  return base[i - 1]
end

local function anomalous(i, starts, approvals, need)
  if starts < need then
    return false
  end
  local upper = wilson_upper(approvals, starts)
  return upper < ratio * reference(i) or (min_conversion > 0 and upper < min_conversion)
end

local function healthy(j)
  return A[j] >= healthy_min and A[j] >= ratio * reference(j) * S[j]
    and not anomalous(j, s[j] + 1, a[j], min_starts)
end

if not allowed and #candidates > 0 then
  local hits = redis.call('HMGET', allow_key, unpack(candidates))
  for i = 1, #candidates do
    if hits[i] then
      allowed = true
    end
  end
end

local records = redis.call('HMGET', blocks_key, unpack(prefixes))
local blocks = {}
for i = 2, n do
  local block = parse_block(records[i])
  if block and block.until_ms + strike_memory < now then
    redis.call('HDEL', blocks_key, prefixes[i], prefixes[i] .. '#r')  -- forgotten
    block = nil
  end
  blocks[i] = block
  if block and block.until_ms > now and not allowed then
    local exempt = false
    for j = i + 1, n do
      if healthy(j) then
        exempt = true
      end
    end
    if not exempt then
      redis.call('HINCRBY', blocks_key, prefixes[i] .. '#r', 1)
      return {'blocked', tostring(math.ceil((block.until_ms - now) / 1000)), prefixes[i]}
    end
  end
end

-- A range still blocked let this start through (a healthy narrower range): not judged again.
local function active(i)
  return blocks[i] and blocks[i].until_ms > now
end

local trip = nil
if not allowed then
  for i = n, 2, -1 do  -- narrowest first
    local need = min_starts
    if blocks[i] then
      need = repeat_min_starts
    end
    if not active(i) and anomalous(i, s[i] + 1, a[i], need) then
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

if trip then
  local strikes = 1
  if blocks[trip] then
    strikes = blocks[trip].strikes + 1
  end
  local duration = math.min(max_cooldown, cooldown * 2 ^ (strikes - 1))
  local starts, approvals = s[trip] + 1, a[trip]
  local ref = reference(trip)
  redis.call('HSET', blocks_key, prefixes[trip],
    string.format('%.0f %.0f %.6g %.6g %.4f %d %s', now + duration, now, starts, approvals,
      ref, strikes, levels[trip]),
    prefixes[trip] .. '#r', 1)
  -- The block explains this range's traffic: take it out of the broader ranges, so that
  -- they are judged (and learn their baselines) on the rest.
  local taken = {}
  for j = 1, trip - 1 do
    s[j] = math.max(0, s[j] - s[trip])
    a[j] = math.max(0, a[j] - a[trip])
    S[j] = math.max(0, S[j] - s[trip])
    A[j] = math.max(0, A[j] - a[trip])
    taken[#taken + 1] = prefixes[j]
    taken[#taken + 1] = pack(s[j], a[j], S[j], A[j])
  end
  if #taken > 0 then
    redis.call('HSET', ranges_key, unpack(taken))
  end
  redis.call('PEXPIRE', blocks_key, math.max(ttl, duration + strike_memory))
  return {'tripped', tostring(math.ceil(duration / 1000)), prefixes[trip], levels[trip],
    string.format('%.6g', starts), string.format('%.6g', approvals),
    string.format('%.4f', ref), tostring(strikes)}
end

local values, touched = {}, {}
local fresh = false
for i = 1, n do
  if not raws[i] then
    fresh = true
  end
  values[#values + 1] = prefixes[i]
  values[#values + 1] = pack(s[i] + 1, a[i], S[i] + 1, A[i])
  touched[#touched + 1] = now
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
return {'ok'}
