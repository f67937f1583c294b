-- Claim up to `limit` due workflow steps for this worker: each claimed entry is moved to
-- now + lease, so no other worker sees it due until then. One script, one slot: two
-- workers never claim the same entry at once; if this worker dies, the lease runs out and
-- another claims the entry again (workflow_step.lua then refuses a step already taken).
local due = KEYS[1]             -- keys.workflow_due_key()
local steps = KEYS[2]           -- keys.workflow_steps_key()
local clock_offset_ms = ARGV[1]
local limit = tonumber(ARGV[2])
local lease_ms = tonumber(ARGV[3])

local now = now_ms(clock_offset_ms)
local ids = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, limit)
local claimed = {}
for _, id in ipairs(ids) do
  local entry = redis.call('HGET', steps, id)
  if entry then
    redis.call('ZADD', due, now + lease_ms, id)
    table.insert(claimed, id)
    table.insert(claimed, entry)
  else
    redis.call('ZREM', due, id)   -- its workflow ended; the due entry is left over
  end
end
return claimed
