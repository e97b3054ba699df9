-- etwlua.rules: the rule engine behind lua/rules/.
--
-- Rules describe suspicious process starts.  This module registers one
-- handler per process source, each behind a C filter (Sysmon 1, Security
-- 4688, Kernel-Process 1, the kernel logger's Process Start, and etwlua's
-- Linux provider), so only process starts ever enter Lua.  Each start is
-- normalised once into a record `p`, and every selected rule of its
-- platform runs on it.  A rule that throws is reported and skipped; it
-- never stops the others.
--
--   rules.define {
--     id = "win.office_spawns_shell", platform = "windows",
--     title = "...", description = "...", severity = "high",
--     technique = { "T1204.002" }, references = { "https://..." },
--     falsepositives = { "..." },
--     match = function(p) return bool, message end,
--     examples = { positive = { {...} }, negative = { {...} } },
--   }
--
-- p: platform, image, name (lower-case file name), command_line, args
-- (tokenised on first use), parent_image, parent_name, parent_command_line,
-- user, integrity, original_file_name, cwd, pid, ppid.
local etw = require "etw"
local match = require "etwlua.match"
local cmdline = require "etwlua.cmdline"

local M = { all = {}, by_id = {}, errors = 0 }

local options = etw.options or {}
local only, skip = {}, {}
for _, id in ipairs(options.rules_only or {}) do only[id] = true end
for _, id in ipairs(options.rules_skip or {}) do skip[id] = true end
local selecting = next(only) ~= nil

local required = { "id", "platform", "title", "description", "severity", "technique", "match", "examples" }

function M.define(r)
  for _, k in ipairs(required) do
    if r[k] == nil then error("rule " .. tostring(r.id) .. ": missing '" .. k .. "'", 2) end
  end
  if r.platform ~= "windows" and r.platform ~= "linux" then
    error("rule " .. r.id .. ": platform must be windows or linux", 2)
  end
  if M.by_id[r.id] then error("rule " .. r.id .. " is defined twice", 2) end
  if type(r.technique) == "string" then r.technique = { r.technique } end
  r.references = r.references or {}
  -- every rule names its techniques; their ATT&CK pages are references too
  for _, t in ipairs(r.technique) do
    local url = "https://attack.mitre.org/techniques/" .. t:gsub("%.", "/") .. "/"
    local seen = false
    for _, ref in ipairs(r.references) do seen = seen or ref == url end
    if not seen then r.references[#r.references + 1] = url end
  end
  r.falsepositives = r.falsepositives or {}
  r.examples.positive = r.examples.positive or {}
  r.examples.negative = r.examples.negative or {}
  if #r.examples.positive == 0 or #r.examples.negative == 0 then
    error("rule " .. r.id .. ": needs positive and negative examples", 2)
  end
  r.enabled = (not selecting or only[r.id]) and not skip[r.id]
  M.all[#M.all + 1] = r
  M.by_id[r.id] = r
  return r
end

-- The ids given to --rule and --skip-rule that name no loaded rule, as
-- "ID (did you mean X?)" strings: a misspelt id must be an error, never a
-- run with zero rules.
local function distance(a, b)
  if math.abs(#a - #b) > 3 then return 4 end
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

function M.unknown_selection()
  local bad = {}
  for _, list in ipairs { options.rules_only or {}, options.rules_skip or {} } do
    for _, id in ipairs(list) do
      if not M.by_id[id] then
        local best, bd = nil, 4
        for _, r in ipairs(M.all) do
          local d = distance(id, r.id)
          if d < bd then best, bd = r.id, d end
        end
        bad[#bad + 1] = best and (id .. " (did you mean " .. best .. "?)") or id
      end
    end
  end
  return bad
end

-- ---- normalisation ------------------------------------------------------

local integrity_of = {
  ["S-1-16-4096"] = "Low", ["S-1-16-8192"] = "Medium", ["S-1-16-8448"] = "MediumPlus",
  ["S-1-16-12288"] = "High", ["S-1-16-16384"] = "System",
}

local pmeta = {
  __index = function(p, k)
    if k == "args" then
      local a = p.platform == "linux" and (p.argv or cmdline.posix(p.command_line or ""))
        or cmdline.windows(p.command_line or "")
      rawset(p, "args", a)
      return a
    end
  end,
}

local function finish(p, ev)
  -- the process table fills what the event does not say
  if (not p.parent_image or not p.user or not p.command_line) and ev then
    local proc = ev.process
    if proc then
      p.user = p.user or proc.user
      p.command_line = p.command_line or proc.command_line
      p.integrity = p.integrity or proc.integrity
      local parent = proc.parent
      if parent then
        p.parent_image = p.parent_image or parent.image
        p.parent_command_line = p.parent_command_line or parent.command_line
      end
    end
  end
  p.name = match.name(p.image)
  p.parent_name = match.name(p.parent_image)
  return setmetatable(p, pmeta)
end

-- Windows writes "-" for none and Sysmon "?" for an unknown image
local function nz(s) if s == nil or s == "" or s == "-" or s == "?" then return nil end return s end

local normalise = {
  sysmon = function(ev)
    local i = ev.info
    return finish({
      platform = "windows", image = nz(i.Image), command_line = nz(i.CommandLine),
      parent_image = nz(i.ParentImage), parent_command_line = nz(i.ParentCommandLine),
      user = nz(i.User), integrity = nz(i.IntegrityLevel), original_file_name = nz(i.OriginalFileName),
      cwd = nz(i.CurrentDirectory), pid = tonumber(i.ProcessId), ppid = tonumber(i.ParentProcessId),
    }, ev)
  end,
  security = function(ev)
    local i = ev.info
    local user = nz(i.TargetUserName) or nz(i.SubjectUserName)
    local domain = nz(i.TargetDomainName) or nz(i.SubjectDomainName)
    return finish({
      platform = "windows", image = nz(i.NewProcessName), command_line = nz(i.CommandLine),
      parent_image = nz(i.ParentProcessName),
      user = user and domain and (domain .. "\\" .. user) or user,
      integrity = integrity_of[i.MandatoryLabel or ""], pid = tonumber(i.NewProcessId), ppid = tonumber(i.ProcessId),
    }, ev)
  end,
  kernel_process = function(ev)
    local i = ev.info
    return finish({ platform = "windows", image = nz(i.ImageName), command_line = nz(i.CommandLine),
                    pid = tonumber(i.ProcessID), ppid = tonumber(i.ParentProcessID) }, ev)
  end,
  kernel_mof = function(ev)
    local i = ev.info
    return finish({ platform = "windows", image = nz(i.ImageFileName), command_line = nz(i.CommandLine),
                    user = nz(i.UserSID), pid = tonumber(i.ProcessId), ppid = tonumber(i.ParentId) }, ev)
  end,
  linux = function(ev)
    local i = ev.info
    return finish({
      platform = "linux", image = nz(i.image), command_line = nz(i.cmdline), argv = i.argv,
      parent_image = nz(i.parent_image), user = nz(i.user), uid = i.uid, cwd = nz(i.cwd),
      pid = i.pid, ppid = i.ppid,
    }, ev)
  end,
}

M.normalise = normalise

local function run(p, ev)
  for _, r in ipairs(M.all) do
    if r.enabled and r.platform == p.platform then
      local ok, hit, msg = pcall(r.match, p)
      if not ok then
        M.errors = M.errors + 1
        if M.errors <= 3 then print("etwlua: rule " .. r.id .. " failed: " .. tostring(hit)) end
      elseif hit then
        etw.alert {
          rule = r.id, title = r.title, severity = r.severity, technique = r.technique,
          message = msg or p.command_line or p.image, event = ev,
          fields = { image = p.image, command_line = p.command_line, parent_image = p.parent_image,
                     user = p.user, pid = p.pid },
        }
      end
    end
  end
end

M.run = run

-- one handler per process source, each behind a C filter
etw.on({ provider = "Microsoft-Windows-Sysmon", id = 1 }, function(ev) run(normalise.sysmon(ev), ev) end)
etw.on({ provider = "Microsoft-Windows-Security-Auditing", id = 4688 },
  function(ev) run(normalise.security(ev), ev) end)
etw.on({ provider = "Microsoft-Windows-Kernel-Process", id = 1 },
  function(ev) run(normalise.kernel_process(ev), ev) end)
etw.on({ provider = "{3D6FA8D0-FE05-11D0-9DDA-00C04FD7BA7C}", opcode = 1 },
  function(ev) run(normalise.kernel_mof(ev), ev) end)
etw.on({ provider = "process", id = 1 }, function(ev) run(normalise.linux(ev), ev) end)

-- ---- examples and the self-test ------------------------------------------

local function jstr(s)
  return '"' .. tostring(s):gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' elseif c == "\\" then return "\\\\" end
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function jobj(t, keys)
  local out = {}
  for _, k in ipairs(keys) do
    local v = t[k]
    if v ~= nil then
      if type(v) == "number" then out[#out + 1] = jstr(k) .. ":" .. string.format("%d", v)
      else out[#out + 1] = jstr(k) .. ":" .. jstr(v) end
    end
  end
  return "{" .. table.concat(out, ",") .. "}"
end

-- every example gets pids of its own, so the process table never lends one
-- example's parent to another
local example_pid = 100000

--- An example as the JSON line of the event a real system would log.
function M.example_event(r, ex)
  example_pid = example_pid + 2
  ex = setmetatable({ pid = ex.pid or example_pid, ppid = ex.ppid or example_pid + 1 }, { __index = ex })
  if r.platform == "linux" then
    local info = { pid = ex.pid, ppid = ex.ppid, image = ex.image, cmdline = ex.command_line,
                   parent_image = ex.parent_image, user = ex.user or "alice", uid = ex.uid, cwd = ex.cwd }
    return '{"header":{"descriptor":{"id":1,"op_code":1},"ts":"2024-05-01T10:00:00Z","provider_name":"process",'
      .. '"event_name":"start"},"info":'
      .. jobj(info, { "pid", "ppid", "image", "cmdline", "parent_image", "user", "uid", "cwd" }) .. '}'
  end
  local info = {
    ProcessId = tostring(ex.pid), Image = ex.image, CommandLine = ex.command_line,
    ParentProcessId = tostring(ex.ppid), ParentImage = ex.parent_image,
    ParentCommandLine = ex.parent_command_line, User = ex.user or "CORP\\alice",
    IntegrityLevel = ex.integrity or "Medium", OriginalFileName = ex.original_file_name,
    CurrentDirectory = ex.cwd, UtcTime = "2024-05-01 10:00:00.000",
  }
  return '{"header":{"descriptor":{"id":1,"version":5,"task":1,"keyword":9223372036854775808},'
    .. '"ts":"2024-05-01T10:00:00Z","provider_guid":"{5770385F-C22A-43E0-BF4C-06F5698FFBD9}",'
    .. '"provider_name":"Microsoft-Windows-Sysmon"},"info":'
    .. jobj(info, { "ProcessId", "Image", "CommandLine", "ParentProcessId", "ParentImage", "ParentCommandLine",
                    "User", "IntegrityLevel", "OriginalFileName", "CurrentDirectory", "UtcTime" }) .. '}'
end

--- Runs every enabled rule over its own examples through the real event
--- path.  inject(json) dispatches one event and returns the set of rule
--- ids that alerted.  Returns the number of failures.
function M.selftest(inject, out)
  out = out or print
  local failures, checked = 0, 0
  for _, r in ipairs(M.all) do
    if r.enabled then
      local missed, fired = {}, {}
      for k, ex in ipairs(r.examples.positive) do
        checked = checked + 1
        if not inject(M.example_event(r, ex))[r.id] then missed[#missed + 1] = k end
      end
      for k, ex in ipairs(r.examples.negative) do
        checked = checked + 1
        if inject(M.example_event(r, ex))[r.id] then fired[#fired + 1] = k end
      end
      if #missed == 0 and #fired == 0 then
        out(string.format("ok   %-40s %d positive, %d negative", r.id, #r.examples.positive, #r.examples.negative))
      else
        failures = failures + #missed + #fired
        out(string.format("FAIL %-40s positives that did not fire: {%s}; negatives that fired: {%s}", r.id,
          table.concat(missed, ","), table.concat(fired, ",")))
      end
    end
  end
  out(string.format("rules: %d passed, %d failed", checked - failures, failures))
  return failures
end

return M
