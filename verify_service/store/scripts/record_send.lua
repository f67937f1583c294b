-- Record the outcome of a send. A failed send withdraws the code it carried: a code that
-- never reached the person must not stay usable; with no code left the verification fails.
-- KEYS[1] = "vs:{tag}" prefix
-- ARGV: clock_offset_ms, id, attempts (newline-separated JSON lines), sent (1|0),
--       code_hash, retention_s
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local vkey = KEYS[1] .. ':v:' .. ARGV[2]
if redis.call('EXISTS', vkey) == 0 then
  return {'not_found'}
end
local sends = redis.call('HGET', vkey, 'sends')
if sends and sends ~= '' then sends = sends .. '\n' .. ARGV[3] else sends = ARGV[3] end
redis.call('HSET', vkey, 'sends', sends, 'updated_at', now)
if ARGV[4] == '0' then
  local kept = {}
  local codes = redis.call('HGET', vkey, 'codes') or ''
  for code in string.gmatch(codes, '[^\n]+') do
    if code ~= ARGV[5] then table.insert(kept, code) end
  end
  if #kept > 0 then
    redis.call('HSET', vkey, 'codes', table.concat(kept, '\n'))
  else
    redis.call('HDEL', vkey, 'codes')
    if redis.call('HGET', vkey, 'status') == 'pending' then
      redis.call('HSET', vkey, 'status', 'failed')
      redis.call('PEXPIRE', vkey, tonumber(ARGV[6]) * 1000)
    end
  end
end
return {'ok', tostring(now), unpack(redis.call('HGETALL', vkey))}
