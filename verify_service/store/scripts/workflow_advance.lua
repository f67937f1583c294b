-- Move a workflow on after its step `expected` ran (or could not run): to step `next` in
-- `delay_ms`, or out of the queue when `next` is -1. Only if the entry still waits for
-- `expected`: a worker that lost its lease must not undo what another did since.
-- `delay_ms` -1 with `next` = `expected` makes the waiting step due now (an undelivered
-- report cuts its timeout short).
local due = KEYS[1]             -- keys.workflow_due_key()
local steps = KEYS[2]           -- keys.workflow_steps_key()
local clock_offset_ms = ARGV[1]
local id = ARGV[2]
local expected = tonumber(ARGV[3])
local next_step = tonumber(ARGV[4])
local delay_ms = tonumber(ARGV[5])

local raw = redis.call('HGET', steps, id)
if not raw then
  return 'gone'
end
local entry = cjson.decode(raw)
if tonumber(entry['next']) ~= expected then
  return 'stale'
end
if next_step < 0 then
  redis.call('HDEL', steps, id)
  redis.call('ZREM', due, id)
  return 'done'
end
local now = now_ms(clock_offset_ms)
if next_step == expected and delay_ms < 0 then
  redis.call('ZADD', due, 'XX', now, id)
  return 'due'
end
entry['next'] = next_step
redis.call('HSET', steps, id, cjson.encode(entry))
redis.call('ZADD', due, now + math.max(delay_ms, 0), id)
return 'moved'
