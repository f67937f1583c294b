-- Index the provider message ids of a send for its delivery reports: each id's key
-- (keys.message_key: a slot of its own, as a report knows only the provider's id) names
-- the verification for as long as reports can come. A part of the send's chain on one
-- server (store/verifications.py `Store.record_sends`, after the send's record and its
-- attempt-log records, in the same script: a report can find the message only once both
-- exist); on a Cluster the store sends one SET per key, after those two.
local verification_id = ARGV[1]
local ttl_ms = ARGV[2]          -- how long reports can come (ms)

for _, key in ipairs(KEYS) do
  redis.call('SET', key, verification_id, 'PX', ttl_ms)
end
return {'ok'}
