-- Fraud guard: an operator allow-lists a range (never blocked, still counted) or takes it
-- off the list (store/fraud.py). The list is bounded: beyond `max` entries it refuses.
local allow_key = KEYS[1]  -- hash: prefix -> "<at ms> <actor>"
local now = now_ms(ARGV[1])
local prefix = ARGV[2]
local actor = ARGV[3]      -- "" = take the range off the list
local max = tonumber(ARGV[4])
if actor == '' then
  return {tostring(redis.call('HDEL', allow_key, prefix))}
end
if redis.call('HEXISTS', allow_key, prefix) == 0 and redis.call('HLEN', allow_key) >= max then
  return {'full'}
end
redis.call('HSET', allow_key, prefix, string.format('%.0f %s', now, actor))
return {'ok', tostring(now)}
