-- Fraud guard: an operator lifts the block of one range (store/fraud.py). The range's
-- recent counters start again from zero and its strikes and suspicion are forgotten, so that the
-- traffic that tripped it does not trip it again at once; new evidence still can.
local ranges_key = KEYS[1]  -- hash: prefix -> "s a S A t u"
local blocks_key = KEYS[2]  -- hash: prefix -> block record, prefix..'#r' -> refused
local lifts_key = KEYS[3]   -- list: "<at ms> <prefix> <refused> <actor>\t<block record>"
local clock_offset_ms = ARGV[1]
local prefix = ARGV[2]
local actor = ARGV[3]       -- who lifted it (no tab), for the console's recent trips
local lifts_kept = tonumber(ARGV[4])
local lifts_ttl = tonumber(ARGV[5])  -- ms
local now = now_ms(clock_offset_ms)
local record = redis.call('HGET', blocks_key, prefix)
if not record or tonumber(string.match(record, '^(%S+)')) <= now then
  return {'none'}
end
local refused = redis.call('HGET', blocks_key, prefix .. '#r') or '0'
redis.call('HDEL', blocks_key, prefix, prefix .. '#r')
local raw = redis.call('HGET', ranges_key, prefix)
if raw then
  local s, a, S, A, t = string.match(raw, '^(%S+) (%S+) (%S+) (%S+) (%S+)')
  redis.call('HSET', ranges_key, prefix, '0 0 ' .. S .. ' ' .. A .. ' ' .. t .. ' 0')
end
-- The lifted block stays visible among the recent trips (the block record is gone).
redis.call('LPUSH', lifts_key,
  string.format('%.0f %s %s %s\t%s', now, prefix, refused, actor, record))
redis.call('LTRIM', lifts_key, 0, lifts_kept - 1)
redis.call('PEXPIRE', lifts_key, lifts_ttl)
return {'lifted', tostring(now), record, refused}
