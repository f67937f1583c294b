-- Put a verification's workflow in the due-queue: its next step runs `delay_ms` from now.
-- A verification already queued keeps its entry (a resend does not restart the workflow).
local due = KEYS[1]             -- keys.workflow_due_key()
local steps = KEYS[2]           -- keys.workflow_steps_key()
local clock_offset_ms = ARGV[1]
local id = ARGV[2]              -- verification id
local entry = ARGV[3]           -- JSON: {service, steps, next, ...}
local delay_ms = tonumber(ARGV[4])

if redis.call('HSETNX', steps, id, entry) == 0 then
  return 'queued'
end
redis.call('ZADD', due, now_ms(clock_offset_ms) + delay_ms, id)
return 'scheduled'
