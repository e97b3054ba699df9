-- Counts events per provider and prints a summary when the session ends.
-- Shows etw.on without a filter, etw.every on the event clock, and etw.stats.
local etw = require "etw"

local per_provider, ticks = {}, 0

etw.on(function(ev)
  local p = ev.provider
  per_provider[p] = (per_provider[p] or 0) + 1
end)

etw.every(1, function() ticks = ticks + 1 end)

etw.on_stop(function()
  local names = {}
  for name in pairs(per_provider) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do print(("%6d  %s"):format(per_provider[name], name)) end
  local s = etw.stats()
  print(("read=%d passed=%d alerts=%d seconds_ticked=%d"):format(s.read, s.passed, s.alerts, ticks))
end)
