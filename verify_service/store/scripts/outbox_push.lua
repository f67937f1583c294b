-- Test outbox (test_mode only): keep one message for a number, newest first.
-- KEYS[1] the number's outbox list
-- ARGV[1] message (JSON), ARGV[2] how many to keep, ARGV[3] TTL in seconds
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
