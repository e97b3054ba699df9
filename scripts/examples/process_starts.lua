-- Flags suspicious process starts from Microsoft-Windows-Kernel-Process
-- (event 1) and Sysmon (event 1).  The filters are compiled into C, so
-- every other event is dropped before it reaches Lua.
local etw = require "etw"
local lpeg = require "lpeg"
local path = require "etwlua.path"

-- "-enc", "-EncodedCommand", "-e" ... with any dash PowerShell accepts
local dash = lpeg.P "-" + "/" + "\u{2013}" + "\u{2014}"
local ci = function(s) -- case-insensitive literal
  local p = lpeg.P(true)
  for c in s:gmatch(".") do p = p * lpeg.S(c:lower() .. c:upper()) end
  return p
end
local space = lpeg.S " \t" ^ 1
local enc_flag = space * dash * ci "e" * (ci "ncodedcommand" + ci "ncodedcomman" + ci "ncodedcomma"
  + ci "ncodedcomm" + ci "ncodedcom" + ci "ncodedco" + ci "ncodedc" + ci "ncoded" + ci "ncode"
  + ci "ncod" + ci "nco" + ci "nc" + ci "n" + lpeg.P(true)) * space
local find_enc = lpeg.P { enc_flag + 1 * lpeg.V(1) }

local function check(ev, image, cmdline)
  local name = path.name(image)
  if (name == "powershell.exe" or name == "pwsh.exe") and cmdline and find_enc:match(cmdline) then
    etw.alert {
      rule = "example.encoded_powershell",
      title = "PowerShell with an encoded command",
      severity = "high",
      technique = { "T1059.001", "T1027" },
      message = cmdline,
      event = ev,
    }
  elseif name == "whoami.exe" or (cmdline and cmdline:lower():find("whoami", 1, true)) then
    etw.alert {
      rule = "example.whoami",
      title = "Account discovery with whoami",
      severity = "low",
      technique = "T1033",
      message = cmdline,
      event = ev,
      fields = { user = ev.ext.user_sid },
    }
  end
end

etw.on({ provider = "Microsoft-Windows-Kernel-Process", id = 1 }, function(ev)
  check(ev, ev.info.ImageName, ev.info.CommandLine)
end)

etw.on({ provider = "Microsoft-Windows-Sysmon", id = 1 }, function(ev)
  check(ev, ev.info.Image, ev.info.CommandLine)
end)
