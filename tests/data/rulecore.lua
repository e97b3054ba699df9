-- etwlua.rulecore's prefilter (the Sigma engine's literal matcher, for the
-- Lua rule library) and rules.define's `needs`.
local core = require "etwlua.rulecore"
local rules = require "etwlua.rules"

local pf = core.prefilter()
pf:add(3, 1, "LSASS")          -- upper case: matched against lower-cased text
pf:add(1, 1, "comsvcs")
pf:add(1, 2, "rundll32.exe")   -- entry 1 also on field 2
pf:add(2, 2, "wsmprovhost.exe")
pf:add(5, 1, "minidump")
pf:build()
local out = {}
local function scan(...)
  local n = pf:scan(out, ...)
  local t = {}
  for i = 1, n do t[i] = out[i] end
  return table.concat(t, ",")
end
print("hits", scan("rundll32 comsvcs.dll, minidump 624 lsass.dmp full", "rundll32.exe"))
print("field 2 only", scan(nil, "rundll32.exe"))
print("absent", scan(nil, false))
print("none", scan("notepad.exe c:\\x.txt", "notepad.exe"))
print("repeated", scan("lsass lsass lsass", nil))
-- scan_record: a rule record's fields, read (through its metatable) and lower-cased in C
local function scan_rec(rec, fields)
  local n = pf:scan_record(out, rec, fields)
  local t = {}
  for i = 1, n do t[i] = out[i] end
  return table.concat(t, ",")
end
local lazy = { __index = function(_, k) if k == "cl" then return "rundll32 comsvcs.dll minidump lsass.dmp" end end }
print("record", scan_rec(setmetatable({ image = "C:\\Windows\\RUNDLL32.EXE" }, lazy), { "command_line", "image" }))
print("record upper", scan_rec({ cl = "", image = "WSMPROVHOST.EXE" }, { "command_line", "image" }))
print("record name as is", scan_rec({ name = "WSMPROVHOST.EXE" }, { "x", "name" }))
print("record absent", scan_rec({ cl = "", image = 42 }, { "command_line", "image" }))
print("record bad field", pcall(pf.scan_record, pf, out, {}, { 1 }))
print("empty", pcall(pf.add, core.prefilter(), 1, 1, ""))
-- literals shorter than the gram (1-3 bytes) are found by a plain search, folded as the others
local spf = core.prefilter()
spf:add(1, 1, "^")
spf:add(2, 1, "A\"B")
spf:add(3, 2, "^")
spf:add(4, 1, "long enough")
spf:build()
local function sscan(...)
  local n = spf:scan(out, ...)
  local t = {}
  for i = 1, n do t[i] = out[i] end
  return table.concat(t, ",")
end
print("short", sscan("p^o^w^e^r a\"b long enough", nil), sscan("a\"", "^"), sscan("x", "y"), sscan("^", nil))
-- between letters: the literal counts only with an ASCII letter on either side (the rule's %a[%^"]%a)
local lpf = core.prefilter()
lpf:add(1, 1, "^", true)
lpf:add(2, 1, '"', true)
lpf:build()
local function lscan(t)
  local n = lpf:scan(out, t)
  local r = {}
  for i = 1, n do r[i] = out[i] end
  return "[" .. table.concat(r, ",") .. "]"
end
print("letters", lscan("p^o"), lscan("a ^ b"), lscan("^ab"), lscan("ab^"), lscan('"c:\\x.exe" "y"'), lscan('c"e'),
  lscan("1^2"), lscan("a^b c\"d"))
print("letters long", pcall(core.prefilter().add, core.prefilter(), 1, 1, "abcd", true))
print("short record", (function()
  local n = spf:scan_record(out, { cl = "cmd /c p^ing", name = "x" }, { "command_line", "name" })
  return n, out[1]
end)())
print("after build", pcall(pf.add, pf, 1, 1, "abcd"))
print("entry 0", pcall(core.prefilter().add, core.prefilter(), 0, 1, "abcd"))

local base = {
  id = "test.needs", platform = "windows", title = "t", description = "d", severity = "low",
  technique = { "T1059" }, match = function() return true end,
  examples = { positive = { { image = "C:\\x\\a.exe", command_line = "a.exe evil" } },
               negative = { { image = "C:\\x\\a.exe", command_line = "a.exe good" } } },
}
local tries = 0
local function try(needs)
  local r = {}
  for k, v in pairs(base) do r[k] = v end
  tries = tries + 1
  r.id = base.id .. tries -- each accepted rule is defined once
  r.needs = needs
  local ok, err = pcall(rules.define, r)
  return ok and "ok" or err:gsub("^.-: ", "", 1)
end
print(try({ command_line = { "ev" } }))
print(try({ command_line = { "" } }))
print(try({ command_line = { "^", between_letters = true } }))
print(try({ command_line = { "abcd", between_letters = true } }))
print(try({ command_line = { "^", between_letters = 1 } }))
print(try({ command_line = {} }))
print(try("evil"))
print(try({ command_line = { 42 } }))

-- the matcher's C memory counts against the memory cap: hoarding literals is an error, and the state goes on
local hoard = core.prefilter()
local big = ("abcdefgh"):rep(1 << 16) -- 512 KiB
local ok, err = pcall(function() for i = 1, 100000 do hoard:add(i, 1, big .. i) end end)
print("hoard", ok, (tostring(err):gsub("^.-: ", "", 1)))
hoard = nil
collectgarbage()
local after = core.prefilter()
after:add(1, 1, "still works")
after:build()
print("after", after:scan({}, "it still works"))
