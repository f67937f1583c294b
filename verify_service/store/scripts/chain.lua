-- A chain: several scripts of store/scripts.py CHAINS, run one after the other in one
-- call (one round trip, and atomic), each going on only when the one before let it
-- (store/scripts.py `Scripts.chain`). Only on one Redis server: on a Cluster the parts'
-- keys are in different slots, and the store runs them one call each, in the same order.
-- Each part is its script's own text as a function of (KEYS, ARGV) (`part_<name>`, put in
-- front of this by store/scripts.py), sharing one TIME (its `now_ms`, put there too: the
-- parts decide at the same instant).
-- Arguments: the parts, space-separated, each `name:keys:args:words:guarded` (its KEYS and
-- ARGV counts; the words, comma-separated, that its reply may begin with for the next
-- part to run, `*` for any; `1` when it is guarded: a side effect run under pcall, whose
-- error becomes its reply {'part_failed', message} instead of failing the chain); then
-- every part's arguments, in order. Keys: every part's keys, in order.
-- Reply: the replies of the parts that ran, in order.
local spec = ARGV[1]            -- the parts: `name:keys:args:words:guarded`, space-separated
local all_keys = KEYS           -- every part's KEYS, in order
local all_args = ARGV           -- from index 2: every part's ARGV, in order

-- whether a reply whose first word is `first` lets the next part run
local function goes_on(words, first)
  if words == '*' then return true end
  first = tostring(first)
  for word in string.gmatch(words, '[^,]+') do
    if word == '*' or word == first then return true end
  end
  return false
end

local replies = {}
local k, a = 0, 1
for name, nk, na, words, guarded in string.gmatch(spec, '([%w_]+):(%d+):(%d+):([^:%s]*):([01])') do
  nk, na = tonumber(nk), tonumber(na)
  local keys = {unpack(all_keys, k + 1, k + nk)}
  local args = {unpack(all_args, a + 1, a + na)}
  k, a = k + nk, a + na
  local reply
  if guarded == '1' then
    local ok, result = pcall(PARTS[name], keys, args)
    if ok then
      reply = result
    else  -- a redis.call error is a table {err = ...}; a Lua error a string
      reply = {'part_failed', type(result) == 'table' and tostring(result.err) or tostring(result)}
    end
  else
    reply = PARTS[name](keys, args)
  end
  replies[#replies + 1] = reply
  if not goes_on(words, type(reply) == 'table' and reply[1] or reply) then
    break
  end
end
return replies
