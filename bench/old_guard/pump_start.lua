-- SMS pumping guard, on a start to one (service, country): refuse while the country is
-- blocked; block it when its conversion over the sliding window is too low; else count
-- the start. One hash per (service, country), bucketed so the window slides.
-- fields: s<bucket> starts, a<bucket> approvals, blocked_until (ms)
local key = KEYS[1]             -- keys.pump_key(service, country)
local clock_offset_ms = ARGV[1]
local window = tonumber(ARGV[2])          -- ms
local buckets = tonumber(ARGV[3])
local min_starts = tonumber(ARGV[4])
local min_conversion = tonumber(ARGV[5])  -- approvals / starts, 0..1
local cooldown = tonumber(ARGV[6])        -- ms

local now = now_ms(clock_offset_ms)
local blocked = tonumber(redis.call('HGET', key, 'blocked_until') or '0')
if blocked > now then
  return {'blocked', tostring(math.ceil((blocked - now) / 1000))}
end

local size = math.max(1, math.floor(window / buckets))
local current = math.floor(now / size)
local oldest = current - buckets + 1
local starts, approvals = 0, 0
local fields = redis.call('HGETALL', key)
for i = 1, #fields, 2 do
  local kind = string.sub(fields[i], 1, 1)
  local bucket = tonumber(string.sub(fields[i], 2))
  if bucket and (kind == 's' or kind == 'a') then
    if bucket < oldest then
      redis.call('HDEL', key, fields[i])
    elseif kind == 's' then
      starts = starts + tonumber(fields[i + 1])
    else
      approvals = approvals + tonumber(fields[i + 1])
    end
  end
end

if starts >= min_starts and approvals < starts * min_conversion then
  -- A clean slate after the cool-down: the country gets min_starts again before the next
  -- verdict, instead of being judged at once on the traffic that tripped it.
  redis.call('DEL', key)
  redis.call('HSET', key, 'blocked_until', now + cooldown)
  redis.call('PEXPIRE', key, cooldown + window)
  return {'tripped', tostring(math.ceil(cooldown / 1000)), tostring(starts), tostring(approvals)}
end

redis.call('HINCRBY', key, 's' .. current, 1)
redis.call('PEXPIRE', key, window + cooldown)
return {'ok'}
