-- Fraud guard: an operator lifts the block of one range (store/fraud.py). The range's
-- recent counters start again from zero and its strikes are forgotten, so that the
-- traffic that tripped it does not trip it again at once; new evidence still can.
local ranges_key = KEYS[1]  -- hash: prefix -> "s a S A t"
local blocks_key = KEYS[2]  -- hash: prefix -> block record, prefix..'#r' -> refused
local now = now_ms(ARGV[1])
local prefix = ARGV[2]
local record = redis.call('HGET', blocks_key, prefix)
if not record or tonumber(string.match(record, '^(%S+)')) <= now then
  return {'none'}
end
local refused = redis.call('HGET', blocks_key, prefix .. '#r') or '0'
redis.call('HDEL', blocks_key, prefix, prefix .. '#r')
local raw = redis.call('HGET', ranges_key, prefix)
if raw then
  local s, a, S, A, t = string.match(raw, '^(%S+) (%S+) (%S+) (%S+) (%S+)$')
  redis.call('HSET', ranges_key, prefix, '0 0 ' .. S .. ' ' .. A .. ' ' .. t)
end
return {'lifted', tostring(now), record, refused}
