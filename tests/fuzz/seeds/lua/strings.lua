local etw = require "etw"
etw.on({ where = function(ev) return ev.info.ScriptBlockText ~= nil end }, function(ev)
  local s = ev.info.ScriptBlockText
  local a = s:rep(3, "|"):upper():reverse()
  print(s:match("(%w+)%s*%((.-)%)"), s:find("Net.", 1, true), string.format("%q %5.2f %x", s, 1.5, 255))
  for w in s:gmatch("%a+") do a = a .. w:byte(1) end
  print(utf8.len(s), table.concat({ s:byte(1, -1) }, ","), #a, select("#", s:gsub(".", "%0%0")))
end)
