local etw = require "etw"
local big = {}
etw.on(function(ev)
  for i = 1, 1e9 do big[#big + 1] = string.rep(ev.provider, 100) .. i end
end)
etw.on_start(function() while true do end end)
