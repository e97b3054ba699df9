-- PowerShell script blocks (Microsoft-Windows-PowerShell event 4104): one
-- line per block, and an alert when a block decodes and runs code it
-- downloaded or unpacked.  Long scripts arrive in several parts (MessageNumber
-- of MessageTotal, same ScriptBlockId); they are joined before matching.
--
--   etwlua -p Microsoft-Windows-PowerShell scripts/examples/powershell_scriptblocks.lua
local etw = require "etw"

local parts = {} -- ScriptBlockId -> {total, n, texts}
local suspicious = { "frombase64string", "invoke-expression", "iex ", "downloadstring", "reflection.assembly" }

etw.on({ provider = "Microsoft-Windows-PowerShell", id = 4104 }, function(ev)
  local i = ev.info
  local id, n, total = i.ScriptBlockId, tonumber(i.MessageNumber) or 1, tonumber(i.MessageTotal) or 1
  local p = parts[id] or { total = total, n = 0, texts = {} }
  parts[id] = p
  p.texts[n] = i.ScriptBlockText or ""
  p.n = p.n + 1
  if p.n < p.total then return end
  parts[id] = nil
  local text = table.concat(p.texts, "", 1, p.total)
  print(string.format("script block %s pid=%d %d chars path=%s", id, ev.pid, #text, i.Path ~= "" and i.Path or "-"))
  local lower = text:lower()
  local hits = {}
  for _, s in ipairs(suspicious) do
    if lower:find(s, 1, true) then hits[#hits + 1] = s end
  end
  if #hits >= 2 then
    etw.alert {
      rule = "example.powershell_decode_and_run",
      title = "PowerShell script block decodes or downloads code and runs it",
      severity = "high",
      technique = { "T1059.001", "T1027" },
      message = text:sub(1, 200),
      event = ev,
      fields = { script_block_id = id, matched = table.concat(hits, ",") },
    }
  end
end)
