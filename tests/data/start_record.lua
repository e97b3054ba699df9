-- rules.normalise's Sysmon 1 and Security 4688 records, read in C
-- (etwlua.rulecore's start_record), against the Lua readers they replaced
-- (sysmon_lua, security_lua): every field a rule or an alert reads.
local etw = require "etw"
local rules = require "etwlua.rules"
local N = rules.normalise
local keys = { "platform", "image", "command_line", "parent_image", "user", "original_file_name", "name",
               "parent_name", "integrity", "pid", "ppid", "cwd", "parent_command_line", "cl", "decoded", "encoded" }
local n, bad = 0, 0
local function compare(kind, ev)
  local c, l = N[kind](ev), N[kind .. "_lua"](ev)
  for _, k in ipairs(keys) do
    if c[k] ~= l[k] or math.type(c[k]) ~= math.type(l[k]) then
      bad = bad + 1
      print(string.format("%s line %s: %s is %q in C, %q in Lua", kind, tostring(ev.source and ev.source.line), k,
        tostring(c[k]), tostring(l[k])))
    end
  end
  n = n + 1
end
etw.on({ provider = "Microsoft-Windows-Sysmon", id = 1 }, function(ev) compare("sysmon", ev) end)
etw.on({ provider = "Microsoft-Windows-Security-Auditing", id = 4688 }, function(ev) compare("security", ev) end)
etw.on_stop(function() print(string.format("start records: %d compared, %d fields differ", n, bad)) end)
