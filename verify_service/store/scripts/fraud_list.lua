-- Fraud guard: the server time and every block record of one service, with its refused
-- count (store/fraud.py filters the current ones), then the allow-list.
local blocks_key = KEYS[1]  -- hash: prefix -> block record, prefix..'#r' -> refused
local allow_key = KEYS[2]   -- hash: prefix -> "<at ms> <actor>"
local now = now_ms(ARGV[1])
local blocks = redis.call('HGETALL', blocks_key)
local allowed = redis.call('HGETALL', allow_key)
return {tostring(now), blocks, allowed}
