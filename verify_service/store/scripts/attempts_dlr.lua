-- Delivery reports on a service's attempt log: each moves the record of one send attempt
-- to delivered (`d`) or undelivered (`u`), with the provider's error code (undelivered)
-- and when the report came, as seconds after the send, in an 11th field. A record is found
-- by its score (the send attempt's time), the verification id's own 16 hex digits and the
-- provider (store/attempts.py: the status letter at byte 24, the id at byte 26). As on the
-- verification (report.lua), only sent -> delivered / undelivered and undelivered ->
-- delivered: reports come out of order, "delivered" is proof and final.
local log_key = KEYS[1]           -- keys.attempts_log_key(service)
local clock_offset_ms = ARGV[1]
local reports = ARGV[2]           -- lines "<score>\t<own id>\t<provider>\t<d|u>\t<code>"

local now = now_ms(clock_offset_ms)
local changed = 0
for line in string.gmatch(reports, '[^\n]+') do
  local score, own, provider, letter, code = string.match(line,
    '^(%d+)\t(%x+)\t([^\t]*)\t([du])\t?([^\t]*)$')
  if score then
    for _, record in ipairs(redis.call('ZRANGEBYSCORE', log_key, score, score)) do
      local current = string.sub(record, 24, 24)
      if string.sub(record, 26, 41) == own
          and (current == 's' or (current == 'u' and letter == 'd')) then
        local fields = {}
        for field in string.gmatch(record .. '|', '([^|]*)|') do
          table.insert(fields, field)
        end
        if fields[6] == provider then
          fields[3] = letter
          if letter == 'd' then
            fields[10] = ''
          elseif code ~= '' then
            fields[10] = code
          end
          fields[11] = string.format('%d', math.max(0, math.floor((now - tonumber(score)) / 1000)))
          redis.call('ZREM', log_key, record)
          redis.call('ZADD', log_key, score, table.concat(fields, '|', 1, 11))
          changed = changed + 1
        end
      end
    end
  end
end
return changed
