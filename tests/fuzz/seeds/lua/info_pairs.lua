local etw = require "etw"
etw.on(function(ev)
  local n = 0
  for k, v in pairs(ev.info) do n = n + #tostring(k) + #tostring(v) end
  local h = ev.header
  print(ev.provider, ev.id, h.pid, h.tid, h.ts, #ev.info, n, tostring(ev))
end)
