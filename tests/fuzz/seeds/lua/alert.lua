local etw = require "etw"
etw.on({ provider = "Microsoft-Windows-Kernel-Process", id = { 1, 2 } }, function(ev)
  local img = ev.info.ImageName or ""
  if img:lower():find("\\cmd%.exe$") then
    etw.alert { rule = "fuzz.cmd", title = "cmd " .. img:sub(-20), severity = "high",
      technique = { "T1059.003" }, message = img:gsub("\\", "/"), event = ev,
      fields = { parent = ev.process and ev.process.parent and ev.process.parent.name, n = #img } }
  end
end)
