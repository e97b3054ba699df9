-- api.lua - require "etwlua.sigma" from a script, run by tests/sigma/run.sh
-- over events.jsonl (from the repository root).  Prints "api: ok" lines at
-- load time; the alerts show what the hooks did.
local sigma = require "etwlua.sigma"
local D = "tests/sigma/data/lua/"
local A1, A2, A3 = "0a0a0a0a-0000-4000-8000-0000000000a1", "0a0a0a0a-0000-4000-8000-0000000000a2",
    "0a0a0a0a-0000-4000-8000-0000000000a3"

local function fails(pat, f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "expected an error matching " .. pat)
  assert(tostring(err):find(pat, 1, true), "error '" .. tostring(err) .. "' lacks '" .. pat .. "'")
end

-- load: what loaded, and what did not with its reason
local r = sigma.load(D .. "win")
assert(r.count == 3 and r.running == 3 and #r.loaded == 3 and #r.failed == 0, "rules folder")
local b = sigma.load(D .. "bad/broken.yml")
assert(b.count == 1 and b.running == 0 and #b.failed == 1, "bad file")
assert(b.failed[1].id == "0a0a0a0a-0000-4000-8000-0000000000a9" and b.failed[1].state == "modifier", b.failed[1].state)
assert(b.failed[1].reason:find("nosuchmodifier", 1, true), b.failed[1].reason)
fails("no such file", sigma.load, D .. "absent")

-- list
local l = sigma.list()
assert(#l == 4, "list")
local byid = {}
for _, x in ipairs(l) do byid[x.id] = x end
local w = byid[A1]
assert(w.title == "Whoami" and w.level == "high" and w.status == "test" and w.state == "runs", "whoami info")
assert(w.logsource == "windows/process_creation/-" and w.tags[2] == "attack.t1033", "whoami logsource/tags")
assert(byid["0a0a0a0a-0000-4000-8000-0000000000a9"].state == "modifier", "broken state")

-- misuse is an error naming the problem, never a silent no-op
fails("no Sigma rule has id 'nope'", sigma.exclude, "nope", {User = "x"})
fails("no Sigma rule has id 'nope'", sigma.on_match, "nope", function() end)
fails("no Sigma rule has id 'nope'", sigma.select, {id = "nope"})
fails("unknown level 'hihg'", sigma.select, {level = "hihg"})
fails("unknown status 'stabel'", sigma.skip, {status = "stabel"})
fails("unknown key 'levle'", sigma.select, {levle = "high"})
fails("no Sigma rule has tag 'attack.nope'", sigma.skip, {tags = "attack.nope"})
fails("does not run", sigma.exclude, "0a0a0a0a-0000-4000-8000-0000000000a9", {User = "x"})
fails("unknown modifier 'bogus'", sigma.exclude, A1, {["User|bogus"] = "x"})
fails("the map is empty", sigma.exclude, A1, {})
fails("a map of fields or a function", sigma.exclude, A1, 42)

-- select and skip: low rules out (net.exe), nothing else
assert(sigma.skip({level = "low"}) == 1, "skip low")
assert(sigma.select({status = {"test", "stable"}}) == 0, "select keeps both")
fails("does not run", sigma.on_match, A2, function() end)

-- extend: an exclusion in the rule's own language, and one in Lua
sigma.exclude(A1, {["User|startswith"] = "bo"})
sigma.exclude(A3, function(ev) return ev.info.CommandLine:find("skipme", 1, true) ~= nil end)
-- act on matches: enrich every alert, and a handler that throws keeps it
sigma.on_match("*", function(ev, rule)
  return {seen_by = "lua", user = ev.info.User, rule_level = rule.level, level = "ignored"}
end)
sigma.on_match(A3, function() error("boom") end)
print("api: ok")
-- registering from a handler is refused
require("etw").on({id = 1}, function(ev)
  local ok, err = pcall(sigma.load, D .. "rules")
  if ok or not tostring(err):find("while the script loads", 1, true) then error("sigma.load ran in a handler") end
end)
