-- The Lua rule library and the Sigma engine share one log-source layer
-- (engine/sigma/logsource.c, read through etwlua.rulecore): every Windows
-- process_creation source and every Sysmon category the library serves
-- must take its provider, event ids and field names from the C table.
local core = require "etwlua.rulecore"
local rules = require "etwlua.rules"

local failed, checked = 0, 0
local function check(ok, what)
  checked = checked + 1
  if not ok then failed = failed + 1; print("FAIL " .. what) end
end

local function ids_of(f)
  local t = {}
  for _, id in ipairs(f.ids) do t[#t + 1] = id end
  table.sort(t)
  return table.concat(t, ",")
end

-- the library's own names for Sigma categories it serves; registry_set reads
-- the whole registry feed on purpose (see rules.lua)
local lua_name = { process_creation = true, network_connection = true, image_load = true, process_access = true,
                   create_remote_thread = true, pipe_created = true, file_event = true, wmi_event = true,
                   dns_query = true, registry_event = true, ps_script = true }
for _, s in ipairs(core.logsources()) do
  if s.category and lua_name[s.category] and rules.logsources[s.category] then
    local feeds = rules.logsources[s.category].platforms[s.product] or {}
    local want = {}
    for _, id in ipairs(s.ids) do want[#want + 1] = id end
    table.sort(want)
    local found
    for _, f in ipairs(feeds) do
      local prov = f.pname or f.filter.provider
      if prov == s.provider and ids_of(f) == table.concat(want, ",") then found = true end
    end
    check(found, s.product .. "/" .. s.category .. ": no feed of " .. tostring(s.provider) .. " ids "
      .. table.concat(want, ","))
  end
end

-- 4688 through the C field map: an event whose fields only the map names
local sec = rules.logsources.process_creation.platforms.windows[2]
local map
for _, s in ipairs(core.logsources()) do if s.name == "Security 4688" then map = s.map end end
check(map and map.Image == "NewProcessName" and map.ParentImage == "ParentProcessName", "4688 map")
local info = { [map.Image] = "C:\\x\\a.exe", [map.ParentImage] = "C:\\x\\p.exe", CommandLine = "a.exe /q",
               [map.ProcessId] = "0x10", [map.ParentProcessId] = "0x20", [map.IntegrityLevel] = "S-1-16-12288" }
local p = sec.norm({ info = info, id = 4688 })
check(p.image == "C:\\x\\a.exe" and p.parent_image == "C:\\x\\p.exe" and p.name == "a.exe", "4688 image fields")
check(p.integrity == "High", "4688 integrity through MandatoryLabel")

print(string.format("logsource layer: %d passed, %d failed", checked - failed, failed))
if failed > 0 then error("the Lua library and the C log-source table differ") end
