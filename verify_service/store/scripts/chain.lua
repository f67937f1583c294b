-- A chain: several scripts of store/scripts.py CHAINED, run one after the other in one
-- call (one round trip, and atomic), each going on only when the one before let it
-- (store/scripts.py `Scripts.chain`). Only on one Redis server: on a Cluster the parts'
-- keys are in different slots, and the store runs them one call each, in the same order.
-- Each part is its script's own text as a function of (KEYS, ARGV) (`part_<name>`, put in
-- front of this by store/scripts.py), sharing one TIME (its `now_ms`, put there too: the
-- parts decide at the same instant).
-- Arguments: the parts, space-separated, each `name:keys:args:words` (its KEYS and ARGV
-- counts, and the words, comma-separated, that its reply may begin with for the next part
-- to run); then every part's arguments, in order. Keys: every part's keys, in order.
-- Reply: the replies of the parts that ran, in order.
local spec = ARGV[1]            -- the parts: `name:keys:args:words`, space-separated
local all_keys = KEYS           -- every part's KEYS, in order
local all_args = ARGV           -- from index 2: every part's ARGV, in order

local replies = {}
local k, a = 0, 1
for part in string.gmatch(spec, '%S+') do
  local name, nk, na, words = string.match(part, '^([%w_]+):(%d+):(%d+):(.*)$')
  local keys, args = {}, {}
  for i = 1, tonumber(nk) do keys[i] = all_keys[k + i] end
  for i = 1, tonumber(na) do args[i] = all_args[a + i] end
  k, a = k + tonumber(nk), a + tonumber(na)
  local reply = PARTS[name](keys, args)
  replies[#replies + 1] = reply
  if not string.find(',' .. words .. ',', ',' .. tostring(reply[1]) .. ',', 1, true) then
    break
  end
end
return replies
