-- Read a verification of this service, with the server's time for deriving expiry.
local prefix = KEYS[1]          -- keys.prefix(tag)
local clock_offset_ms = ARGV[1]
local service = ARGV[2]
local id = ARGV[3]

local now = now_ms(clock_offset_ms)
local vkey = verification_key(prefix, id)
local h = owned(vkey, service)
if not h then
  return {'not_found'}
end
return reply_all('ok', now, vkey, h)
