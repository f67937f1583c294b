-- Fraud guard: the server time and every block record of one service, with its refused
-- count (store/fraud.py sorts current and ended ones), the allow-list, then the blocks
-- operators lifted (newest first).
local blocks_key = KEYS[1]  -- hash: prefix -> block record, prefix..'#r' -> refused
local allow_key = KEYS[2]   -- hash: prefix -> "<at ms> <actor>"
local lifts_key = KEYS[3]   -- list: see fraud_lift.lua
local clock_offset_ms = ARGV[1]
local now = now_ms(clock_offset_ms)
local blocks = redis.call('HGETALL', blocks_key)
local allowed = redis.call('HGETALL', allow_key)
local lifts = redis.call('LRANGE', lifts_key, 0, -1)
return {tostring(now), blocks, allowed, lifts}
