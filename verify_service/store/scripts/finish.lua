-- End a pending verification after a verified check: 'approved' (right code) or
-- 'max_attempts_reached' (the last reserved attempt was wrong). Only a pending verification
-- changes, so two parallel right checks approve exactly once.
-- Replies {'changed' | 'unchanged', now, 'st', status, 'ua', updated_at, 'ck', check
-- attempts}: what the check's reserved record lacks (its codes are gone unless pending),
-- or the whole verification when `full` is '1'; {'not_found'}.
local prefix = KEYS[1]          -- keys.prefix(tag)
local clock_offset_ms = ARGV[1]
local id = ARGV[2]
local new_status = ARGV[3]      -- approved | max_attempts_reached
local retention_s = ARGV[4]
local full = ARGV[5]            -- 1: reply with every field

local now = now_ms(clock_offset_ms)
local vkey = verification_key(prefix, id)
-- one read: the fields decided on and the code fields an end drops
local flat, at = record_of(vkey)
local status, ck, ua = flat[at.st], flat[at.ck], flat[at.ua]
if not status then
  return {'not_found'}
end
local outcome, now_text = 'unchanged', string.format('%d', now)
if status == 'pending' and (new_status ~= 'max_attempts_reached'
    or tonumber(ck) >= tonumber(flat[at.mc])) then
  end_verification(vkey, new_status, now, retention_s, code_names(flat))
  outcome, status, ua = 'changed', new_status, now_text
end
if full == '1' then
  return with_record(outcome, now, vkey)
end
return {outcome, now_text, 'st', status, 'ua', ua, 'ck', ck}
