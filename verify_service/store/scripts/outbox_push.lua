-- Test outbox (test_mode only): keep one message for a number, newest first.
local list = KEYS[1]            -- keys.outbox_key(to)
local message = ARGV[1]         -- JSON
local keep = tonumber(ARGV[2])  -- how many messages to keep
local ttl_s = tonumber(ARGV[3])

redis.call('LPUSH', list, message)
redis.call('LTRIM', list, 0, keep - 1)
redis.call('EXPIRE', list, ttl_s)
return 1
