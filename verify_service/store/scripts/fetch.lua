-- Read a verification of this service, with the server's time for deriving expiry.
local prefix = KEYS[1]          -- keys.prefix(tag)
local clock_offset_ms = ARGV[1]
local service = ARGV[2]
local id = ARGV[3]

local now = now_ms(clock_offset_ms)
local vkey = verification_key(prefix, id)
if not owned_fields(vkey, service) then
  return {'not_found'}
end
return with_record('ok', now, vkey)
