-- e2e.lua - tests/cli/e2e case sigma_lua: a script tunes the --sigma rules
local sigma = require "etwlua.sigma"
sigma.select({level = "medium"})
sigma.exclude("0a0a0a0a-0000-4000-8000-0000000000a1", {["User|endswith"] = "ice"})
sigma.on_match("*", function(ev, rule) return {tuned = rule.id:sub(-2)} end)
