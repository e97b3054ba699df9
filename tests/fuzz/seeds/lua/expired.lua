local etw = require "etw"
local kept, info, hdr, it, json = nil, nil, nil, nil, nil
etw.on(function(ev)
  if kept then
    print(pcall(function() return kept.id end))
    print(pcall(function() return info.ProcessID end))
    print(pcall(function() return hdr.pid end))
    print(pcall(it))
    print(pcall(tostring, kept))
    print(pcall(json, kept))
  end
  kept, info, hdr, json = ev, ev.info, ev.header, ev.json
  it = pairs(ev.info)
end)
etw.on_stop(function() print(pcall(function() return kept.info.ImageName end)) end)
