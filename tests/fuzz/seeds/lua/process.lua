local etw = require "etw"
local t = {}
etw.on(function(ev)
  local p = ev.process
  if p then
    t[#t + 1] = ev:totable()
    print(p.pid, p.ppid, p.image, p.name, p.command_line, p.start_time, p.exit_code)
    for a in p:ancestors() do print(a.pid, a.name) end
  end
  print(ev:json(), ev.filetime, ev.keyword, ev.level, ev.payload, ev:mapname("ImageName"))
end)
etw.on_stop(function() print(#t, etw.stats().alerts, etw.stats().memory) end)
