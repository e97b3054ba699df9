-- The kernel logger's Process and Image classes (etwlua -k process,image_load):
-- process starts with their command lines, the processes that already ran
-- when the session started (rundown, DCStart), and DLLs loaded from folders
-- users can write to.
--
--   etwlua -k process,image_load scripts/examples/kernel_images.lua
local etw = require "etw"
local path = require "etwlua.path"

local PROCESS = "{3D6FA8D0-FE05-11D0-9DDA-00C04FD7BA7C}" -- MSNT_SystemTrace Process class
local IMAGE = "{2CB15D1D-5FC1-11D2-ABE1-00A0C911F518}"   -- Image class

etw.on({ provider = PROCESS, opcode = 1 }, function(ev) -- Start
  print(string.format("start pid=%d ppid=%d %s", ev.info.ProcessId, ev.info.ParentId, ev.info.CommandLine))
end)

etw.on({ provider = PROCESS, opcode = 3 }, function(ev) -- DCStart: already running
  print(string.format("running pid=%d %s", ev.info.ProcessId, ev.info.ImageFileName))
end)

local writable = { "\\users\\", "\\programdata\\", "\\windows\\temp\\", "\\appdata\\" }

etw.on({ provider = IMAGE, opcode = 10 }, function(ev) -- Load
  local file = (ev.info.FileName or ""):lower()
  if not file:find("%.dll$") then return end
  for _, w in ipairs(writable) do
    if file:find(w, 1, true) then
      local p = ev.process
      etw.alert {
        rule = "example.dll_from_writable_folder",
        title = "DLL loaded from a user-writable folder",
        severity = "low",
        technique = "T1574.002",
        message = ev.info.FileName,
        event = ev,
        fields = { pid = ev.info.ProcessId, image = p and path.name(p.image) or nil },
      }
      return
    end
  end
end)
