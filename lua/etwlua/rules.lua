-- etwlua.rules: the rule engine behind lua/rules/.
--
-- A rule reads one log source (process_creation by default; ps_script,
-- service_install, task_created, log_cleared, registry_set/registry_event,
-- network_connection, image_load, process_access, create_remote_thread,
-- pipe_created, file_event, file_delete, audit_policy, account_change, wmi_event,
-- share_access, dns_query).  Each source is a set of C filters (provider
-- and event id) registered when its first enabled rule is defined, at load
-- time, so events no rule wants never enter Lua.  Each event is normalised
-- once into a record `p`, and every selected rule of its source and
-- platform runs on it; process rules with `names` run only on those
-- images.  A rule that throws is reported and skipped; it never stops the
-- others.  rules.define validates at load time: unknown keys, severities
-- outside informational|low|medium|high|critical and malformed ATT&CK ids
-- are errors.
--
--   rules.define {
--     id = "win.office_spawns_shell", platform = "windows",
--     title = "...", description = "...", severity = "high",
--     technique = { "T1204.002" }, references = { "https://..." },
--     falsepositives = { "..." }, logsource = "process_creation",
--     names = { "cmd.exe" },            -- optional: the images it can match
--     match = function(p) return bool, message end,
--     examples = { positive = { {...} }, negative = { {...} } },
--   }
--
-- Process records: platform, image, name (lower-case file name),
-- command_line, cl (lower-cased, "" when absent), args (tokenised on first
-- use), encoded/decoded_text/decoded (-EncodedCommand), parent_image,
-- parent_name, parent_command_line, user, integrity, original_file_name,
-- cwd, pid, ppid.  The other sources' fields are in docs/rules.md.
local etw = require "etw"
local match = require "etwlua.match"
local cmdline = require "etwlua.cmdline"
local enc = require "etwlua.encoding"

local M = { all = {}, by_id = {}, errors = 0 }

local options = etw.options or {}
local only, skip = {}, {}
for _, id in ipairs(options.rules_only or {}) do only[id] = true end
for _, id in ipairs(options.rules_skip or {}) do skip[id] = true end
local selecting = next(only) ~= nil

local allowed = {
  id = true, platform = true, title = true, description = true, severity = true, technique = true,
  references = true, falsepositives = true, match = true, examples = true, logsource = true, author = true,
  status = true, tags = true, names = true, needs = true,
}
local required = { "id", "platform", "title", "description", "severity", "technique", "match", "examples" }
local severities = { informational = true, low = true, medium = true, high = true, critical = true }

-- a list of strings, or the keys of a set (etwlua.match's m.set, or any
-- table keyed by name), as a sorted list
local function list_of(t)
  if #t > 0 then return t end
  local l = {}
  for k in pairs(t) do l[#l + 1] = k end
  table.sort(l, function(a, b) return tostring(a) < tostring(b) end)
  return l
end

local register -- set below: filters for a log source, registered on its first enabled rule

function M.define(r)
  if type(r) ~= "table" then error("rules.define expects a table", 2) end
  for _, k in ipairs(required) do
    if r[k] == nil then error("rule " .. tostring(r.id) .. ": missing '" .. k .. "'", 2) end
  end
  for k in pairs(r) do
    if not allowed[k] then error("rule " .. tostring(r.id) .. ": unknown key '" .. tostring(k) .. "'", 2) end
  end
  if type(r.id) ~= "string" or not r.id:find("^[%w_.%-]+$") then
    error("rule " .. tostring(r.id) .. ": id must be letters, digits, '.', '_' or '-'", 2)
  end
  if r.platform ~= "windows" and r.platform ~= "linux" then
    error("rule " .. r.id .. ": platform must be windows or linux", 2)
  end
  if not severities[r.severity] then
    error("rule " .. r.id .. ": severity must be informational, low, medium, high or critical (got '"
      .. tostring(r.severity) .. "')", 2)
  end
  if type(r.match) ~= "function" then error("rule " .. r.id .. ": match must be a function", 2) end
  r.logsource = r.logsource or "process_creation"
  local src = M.logsources[r.logsource]
  if not src then
    local names = {}
    for n in pairs(M.logsources) do names[#names + 1] = n end
    table.sort(names)
    error("rule " .. r.id .. ": unknown logsource '" .. tostring(r.logsource) .. "' (known: "
      .. table.concat(names, ", ") .. ")", 2)
  end
  if not src.platforms[r.platform] then
    error("rule " .. r.id .. ": logsource " .. r.logsource .. " has no " .. r.platform .. " events", 2)
  end
  if M.by_id[r.id] then error("rule " .. r.id .. " is defined twice", 2) end
  if type(r.technique) == "string" then r.technique = { r.technique } end
  if type(r.technique) ~= "table" or #r.technique == 0 then
    error("rule " .. r.id .. ": technique must name at least one ATT&CK id", 2)
  end
  for _, t in ipairs(r.technique) do
    if type(t) ~= "string" or not (t:find("^T%d%d%d%d$") or t:find("^T%d%d%d%d%.%d%d%d$")) then
      error("rule " .. r.id .. ": technique '" .. tostring(t) .. "' is not an ATT&CK id like T1234 or T1234.001", 2)
    end
  end
  r.references = r.references or {}
  -- every rule names its techniques; their ATT&CK pages are references too
  for _, t in ipairs(r.technique) do
    local url = "https://attack.mitre.org/techniques/" .. t:gsub("%.", "/") .. "/"
    local seen = false
    for _, ref in ipairs(r.references) do seen = seen or ref == url end
    if not seen then r.references[#r.references + 1] = url end
  end
  r.falsepositives = r.falsepositives or {}
  if r.names ~= nil then
    -- the image file names the rule can match: the engine runs it only on starts of these
    if r.logsource ~= "process_creation" or type(r.names) ~= "table" or next(r.names) == nil then
      error("rule " .. r.id .. ": names must be a non-empty list of image file names (process_creation only)", 2)
    end
    local set = {}
    for _, n in ipairs(list_of(r.names)) do
      if type(n) ~= "string" then error("rule " .. r.id .. ": names must be strings", 2) end
      set[n:lower()] = true
    end
    r.names = set
  end
  if r.needs ~= nil then
    -- the literals the rule cannot match without: { field = { "text", ... }, ... }; the rule runs only on
    -- events where one of them occurs in its (lower-cased) field (see run below)
    if type(r.needs) ~= "table" or next(r.needs) == nil then
      error("rule " .. r.id .. ": needs must map record fields to lists of literals", 2)
    end
    local needs, letters = {}, {}
    for f, list in pairs(r.needs) do
      if type(f) ~= "string" or type(list) ~= "table" or next(list) == nil then
        error("rule " .. r.id .. ": needs must map record fields to non-empty lists of literals", 2)
      end
      -- between_letters = true: the (1-3 byte) literals count only with an ASCII letter on either side
      if list.between_letters ~= nil then
        if list.between_letters ~= true or #list == 0 then
          error("rule " .. r.id .. ": needs." .. f .. ".between_letters must be true, on a list of literals", 2)
        end
        letters[f] = true
        for _, lit in ipairs(list) do
          if type(lit) == "string" and #lit > 3 then
            error("rule " .. r.id .. ": needs." .. f .. ": '" .. lit .. "' is longer than 3 bytes (between_letters)", 2)
          end
        end
      end
      needs[f] = list_of(list)
      for _, lit in ipairs(needs[f]) do
        if type(lit) ~= "string" or #lit < 1 then
          error("rule " .. r.id .. ": needs." .. f .. ": '" .. tostring(lit) .. "' is not a non-empty string", 2)
        end
      end
    end
    r.needs, r.needs_letters = needs, letters
  end
  if type(r.examples) ~= "table" then error("rule " .. r.id .. ": examples must be a table", 2) end
  r.examples.positive = r.examples.positive or {}
  r.examples.negative = r.examples.negative or {}
  if #r.examples.positive == 0 or #r.examples.negative == 0 then
    error("rule " .. r.id .. ": needs positive and negative examples", 2)
  end
  r.enabled = (not selecting or only[r.id]) and not skip[r.id]
  M.all[#M.all + 1] = r
  M.by_id[r.id] = r
  if r.enabled then register(r) end
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

-- ---- the log-source layer shared with the Sigma engine --------------------
--
-- engine/sigma/logsource.c is the one table of which events carry a Sigma
-- log source and what its fields are called there (4688's NewProcessName
-- is Sigma's Image, ...).  The library reads it through etwlua.rulecore, so
-- the two cannot drift: the process_creation feeds, the Sysmon categories'
-- event ids and the field names the normalisers read all come from it.
local core = require "etwlua.rulecore"

-- "product/category" (or "product/service:NAME") -> that source's C entries
local csources = {}
for _, s in ipairs(core.logsources()) do
  local key = s.product .. "/" .. (s.category or ("service:" .. s.service))
  csources[key] = csources[key] or {}
  table.insert(csources[key], s)
end
M.sigma_logsources = csources

-- the event property that carries a Sigma field on the C source named so
-- ("Security 4688": Image -> NewProcessName); fields it does not map keep
-- Sigma's name
local function cfields(key, name)
  for _, s in ipairs(csources[key] or {}) do
    if s.name == name then
      return setmetatable({}, { __index = function(_, f) return s.map[f] or f end }), s
    end
  end
  error("etwlua.rules: the log-source table has no " .. name .. " under " .. key)
end
local S4688, KPROC, LPROC = cfields("windows/process_creation", "Security 4688"),
  cfields("windows/process_creation", "Kernel-Process 1"), cfields("linux/process_creation", "process 1 (tracefs)")

-- ---- normalisation ------------------------------------------------------

local integrity_of = {
  ["S-1-16-4096"] = "Low", ["S-1-16-8192"] = "Medium", ["S-1-16-8448"] = "MediumPlus",
  ["S-1-16-12288"] = "High", ["S-1-16-16384"] = "System",
}

-- Fields a record reads from its event only when a rule asks: the
-- normaliser leaves LAZY (name -> function(info)) and INFO (the event's
-- info view, valid while the event is dispatched) in the record, and the
-- first read stores the value.  Private keys, so no field name can clash.
local LAZY, INFO = {}, {}

local pmeta = {
  __index = function(p, k)
    local lz = rawget(p, LAZY)
    local get = lz and lz[k]
    if get then
      local v = get(rawget(p, INFO))
      if v ~= nil then rawset(p, k, v) end
      return v
    end
    if k == "args" then
      local a = p.platform == "linux" and (p.argv or cmdline.posix(p.command_line or ""))
        or cmdline.windows(p.command_line or "")
      rawset(p, "args", a)
      return a
    elseif k == "decoded" or k == "decoded_text" or k == "encoded" then
      -- PowerShell's -EncodedCommand, found and decoded once per start: encoded is the base64 (false when
      -- there is none), decoded_text its decoding, decoded the same lower-cased (false when absent)
      local b64, text = enc.encoded_command(rawget(p, "command_line"))
      rawset(p, "encoded", b64 or false)
      rawset(p, "decoded_text", text or false)
      rawset(p, "decoded", text and text:lower() or false)
      return rawget(p, k)
    elseif k == "cl" then
      -- the lower-cased command line ("" when absent), computed once for every rule that reads it
      local c = (rawget(p, "command_line") or ""):lower()
      rawset(p, "cl", c)
      return c
    end
  end,
}

-- Windows writes "-" for none and Sysmon "?" for an unknown image
local function nz(s) if s == nil or s == "" or s == "-" or s == "?" then return nil end return s end

local function finish(p, ev, named)
  setmetatable(p, pmeta) -- first: the fill below may read lazy fields
  -- the process table fills what the event does not say
  if (not p.parent_image or not p.user or not p.command_line) and ev then
    named = false
    local proc = ev.process
    if proc then
      p.user = p.user or proc.user
      p.command_line = p.command_line or proc.command_line
      p.integrity = p.integrity or proc.integrity
      local parent = proc.parent
      if parent then
        -- the table keeps what the parent's own event said: Sysmon's "?" is no image
        p.parent_image = p.parent_image or nz(parent.image)
        p.parent_command_line = p.parent_command_line or nz(parent.command_line)
      end
    end
  end
  if not named then -- start_record names them; the fill may have changed the parent
    p.name = match.name(p.image)
    p.parent_name = match.name(p.parent_image)
  end
  return p
end


local lazy_sysmon = {
  parent_command_line = function(i) return nz(i.ParentCommandLine) end,
  integrity = function(i) return nz(i.IntegrityLevel) end,
  cwd = function(i) return nz(i.CurrentDirectory) end,
  pid = function(i) return tonumber(i.ProcessId) end,
  ppid = function(i) return tonumber(i.ParentProcessId) end,
}
local lazy_security = {
  integrity = function(i) return integrity_of[i[S4688.IntegrityLevel] or ""] end,
  pid = function(i) return tonumber(i[S4688.ProcessId]) end,
  ppid = function(i) return tonumber(i[S4688.ParentProcessId]) end,
}

local normalise -- declared first: the C readers fall back to the Lua ones in it
-- A start read in C (kind "sysmon" or "security"), finished in Lua when the
-- event did not say everything; a table event takes the Lua reader.
local function start_reader(ev, gate, kind, lazy)
  if type(ev) ~= "userdata" then return normalise[kind .. "_lua"](ev) end
  local p, done = core.start_record(ev, kind, LAZY, lazy, INFO, gate, pmeta)
  if done then return p end
  return finish(p, ev, true)
end
normalise = {
  -- Sysmon 1 and Security 4688, the starts of most logs, are read in C (etwlua.rulecore's start_record:
  -- each field nz(info.Field) as Lua read it, the user of a 4688 as below, name and parent_name)
  -- (an event made up as a table, as tests do, takes the Lua version, the reference)
  -- (gate: the list's, whose reads of this event start_record takes instead of reading the fields again)
  -- (done: the event said everything finish would fill in, and the record has its metatable)
  sysmon = function(ev, gate) return start_reader(ev, gate, "sysmon", lazy_sysmon) end,
  security = function(ev, gate) return start_reader(ev, gate, "security", lazy_security) end,
  sysmon_lua = function(ev)
    local i = ev.info
    -- eager: what the prefilter and the process-table fill always read
    return finish({
      platform = "windows", image = nz(i.Image), command_line = nz(i.CommandLine),
      parent_image = nz(i.ParentImage), user = nz(i.User), original_file_name = nz(i.OriginalFileName),
      [LAZY] = lazy_sysmon, [INFO] = i,
    }, ev)
  end,
  security_lua = function(ev)
    local i, F = ev.info, S4688
    -- the user is the new process's (TargetUserName, 4688 version 2) when logged, with its domain; the
    -- C table maps Sigma's User to SubjectUserName, the creator, which is the fallback here
    local user = nz(i.TargetUserName) or nz(i[F.User])
    local domain = nz(i.TargetDomainName) or nz(i.SubjectDomainName)
    return finish({
      platform = "windows", image = nz(i[F.Image]), command_line = nz(i[F.CommandLine]),
      parent_image = nz(i[F.ParentImage]),
      user = user and domain and (domain .. "\\" .. user) or user,
      [LAZY] = lazy_security, [INFO] = i,
    }, ev)
  end,
  kernel_process = function(ev)
    local i, F = ev.info, KPROC
    return finish({ platform = "windows", image = nz(i[F.Image]), command_line = nz(i[F.CommandLine]),
                    pid = tonumber(i[F.ProcessId]), ppid = tonumber(i[F.ParentProcessId]) }, ev)
  end,
  kernel_mof = function(ev)
    local i = ev.info
    return finish({ platform = "windows", image = nz(i.ImageFileName), command_line = nz(i.CommandLine),
                    user = nz(i.UserSID), pid = tonumber(i.ProcessId), ppid = tonumber(i.ParentId) }, ev)
  end,
  linux = function(ev)
    local i, F = ev.info, LPROC
    return finish({
      platform = "linux", image = nz(i[F.Image]), command_line = nz(i[F.CommandLine]), argv = i.argv,
      parent_image = nz(i[F.ParentImage]), user = nz(i[F.User]), uid = i.uid, cwd = nz(i[F.CurrentDirectory]),
      pid = i[F.ProcessId], ppid = i[F.ParentProcessId],
    }, ev)
  end,
}

M.normalise = normalise

-- ---- log sources ----------------------------------------------------------
--
-- Each log source names the events it is built from (a C filter per feed)
-- and how one becomes a record.  Records of every source share platform,
-- source, event_id, image, name, pid and user; the rest is per source and
-- documented in docs/rules.md.  Absent fields are nil, never "" or "-".

local SYSMON = "Microsoft-Windows-Sysmon"
local SECURITY = "Microsoft-Windows-Security-Auditing"
local POWERSHELL = "{A0C1853B-5C40-4B15-8766-3CF1C58F985A}"
local SCM = "{555908D1-A6D7-4695-8E1E-26931D2012F4}"
local EVENTLOG = "{FC65DDD8-D6EF-4962-83D5-6E5CFE9CE148}"
local TASKSCHED = "{DE7B24EA-73C8-4A09-985D-5BDADCFA9017}"

local function hexnum(s)
  if type(s) == "number" then return s end
  if type(s) ~= "string" then return nil end
  return tonumber(s:match("^0[xX](%x+)$") or "", 16) or tonumber(s)
end

local function user_of(i, pre)
  local u, d = nz(i[pre .. "UserName"]), nz(i[pre .. "DomainName"])
  return u and d and (d .. "\\" .. u) or u
end

-- a record of a Windows event other than a process start
local function rec(ev, source, t)
  t.platform, t.source, t.event_id = "windows", source, ev.id
  t.name = t.name or match.name(t.image)
  return t
end

-- the <Command> and <Arguments> of a task's XML, entities decoded
local function xml_text(s)
  return s and (s:gsub("&lt;", "<"):gsub("&gt;", ">"):gsub("&quot;", '"'):gsub("&apos;", "'"):gsub("&amp;", "&"))
end
local function task_action(xml)
  if type(xml) ~= "string" then return nil end
  local cmds, args = {}, {}
  for c in xml:gmatch("<Command>(.-)</Command>") do cmds[#cmds + 1] = xml_text(c) end
  for a in xml:gmatch("<Arguments>(.-)</Arguments>") do args[#args + 1] = xml_text(a) end
  if #cmds == 0 then return nil end
  local line = cmds[1] .. (args[1] and (" " .. args[1]) or "")
  return cmds[1], args[1], line, xml:match("<UserId>(.-)</UserId>") or xml:match("<GroupId>(.-)</GroupId>")
end

local L = {}

L.ps_script = function(ev)
  local i = ev.info
  return rec(ev, "ps_script", { script = nz(i.ScriptBlockText), path = nz(i.Path), script_id = nz(i.ScriptBlockId),
    message_number = tonumber(i.MessageNumber), message_total = tonumber(i.MessageTotal), pid = ev.pid })
end

L.service_install = function(ev)
  local i = ev.info
  return rec(ev, "service_install", {
    service_name = nz(i.ServiceName), image_path = nz(i.ImagePath) or nz(i.ServiceFileName),
    service_type = nz(i.ServiceType), start_type = nz(i.StartType) or nz(i.ServiceStartType),
    account = nz(i.AccountName) or nz(i.ServiceAccount), user = user_of(i, "Subject") })
end

L.task_created = function(ev)
  local i = ev.info
  local cmd, args, line, runas = task_action(i.TaskContent)
  return rec(ev, "task_created", { task_name = nz(i.TaskName), task_content = nz(i.TaskContent),
    command = cmd, arguments = args, action = line, run_as = runas,
    user = user_of(i, "Subject") or nz(i.UserContext) })
end

L.log_cleared = function(ev)
  local i = ev.info
  return rec(ev, "log_cleared", { channel = nz(i.Channel) or (ev.id == 1102 and "Security" or nil),
    user = user_of(i, "Subject") })
end

L.registry = function(ev)
  local i = ev.info
  return rec(ev, "registry_event", { event_type = nz(i.EventType), target_object = nz(i.TargetObject),
    details = nz(i.Details), new_name = nz(i.NewName), image = nz(i.Image), pid = tonumber(i.ProcessId),
    user = nz(i.User) })
end

L.network_connection = function(ev)
  local i = ev.info
  local init = i.Initiated
  return rec(ev, "network_connection", { image = nz(i.Image), pid = tonumber(i.ProcessId), user = nz(i.User),
    protocol = nz(i.Protocol), initiated = init == true or init == "true" or init == "True",
    src_ip = nz(i.SourceIp), src_port = tonumber(i.SourcePort), dest_ip = nz(i.DestinationIp),
    dest_port = tonumber(i.DestinationPort), dest_hostname = nz(i.DestinationHostname) })
end

L.image_load = function(ev)
  local i = ev.info
  return rec(ev, "image_load", { image = nz(i.Image), pid = tonumber(i.ProcessId), user = nz(i.User),
    image_loaded = nz(i.ImageLoaded), loaded_name = match.name(nz(i.ImageLoaded)),
    original_file_name = nz(i.OriginalFileName), signed = nz(i.Signed), signature = nz(i.Signature),
    signature_status = nz(i.SignatureStatus) })
end

L.process_access = function(ev)
  local i = ev.info
  return rec(ev, "process_access", { image = nz(i.SourceImage), pid = tonumber(i.SourceProcessId),
    user = nz(i.SourceUser), target_image = nz(i.TargetImage), target_name = match.name(nz(i.TargetImage)),
    target_pid = tonumber(i.TargetProcessId), granted_access = hexnum(i.GrantedAccess),
    call_trace = nz(i.CallTrace) })
end

L.create_remote_thread = function(ev)
  local i = ev.info
  return rec(ev, "create_remote_thread", { image = nz(i.SourceImage), pid = tonumber(i.SourceProcessId),
    user = nz(i.SourceUser), target_image = nz(i.TargetImage), target_name = match.name(nz(i.TargetImage)),
    target_pid = tonumber(i.TargetProcessId), start_address = nz(i.StartAddress),
    start_module = nz(i.StartModule), start_function = nz(i.StartFunction) })
end

L.pipe_created = function(ev)
  local i = ev.info
  return rec(ev, "pipe_created", { pipe_name = nz(i.PipeName), event_type = nz(i.EventType), image = nz(i.Image),
    pid = tonumber(i.ProcessId), user = nz(i.User) })
end

L.file_event = function(ev)
  local i = ev.info
  return rec(ev, "file_event", { target_filename = nz(i.TargetFilename), image = nz(i.Image),
    pid = tonumber(i.ProcessId), user = nz(i.User) })
end

L.audit_policy = function(ev)
  local i = ev.info
  return rec(ev, "audit_policy", { category = nz(i.CategoryId), subcategory = nz(i.SubcategoryId),
    subcategory_guid = nz(i.SubcategoryGuid), changes = nz(i.AuditPolicyChanges), user = user_of(i, "Subject") })
end

L.account_change = function(ev)
  local i = ev.info
  return rec(ev, "account_change", { target_user = nz(i.TargetUserName), target_domain = nz(i.TargetDomainName),
    target_sid = nz(i.TargetSid), member_name = nz(i.MemberName), member_sid = nz(i.MemberSid),
    sam_account_name = nz(i.SamAccountName), user = user_of(i, "Subject") })
end

L.wmi_event = function(ev)
  local i = ev.info
  return rec(ev, "wmi_event", { operation = nz(i.Operation), event_type = nz(i.EventType), wmi_name = nz(i.Name),
    query = nz(i.Query), consumer_type = nz(i.Type), destination = nz(i.Destination), consumer = nz(i.Consumer),
    filter = nz(i.Filter), user = nz(i.User) })
end

L.share_access = function(ev)
  local i = ev.info
  return rec(ev, "share_access", { share_name = nz(i.ShareName), relative_target = nz(i.RelativeTargetName),
    ip = nz(i.IpAddress), access_mask = hexnum(i.AccessMask), user = user_of(i, "Subject") })
end

L.dns_query = function(ev)
  local i = ev.info
  return rec(ev, "dns_query", { query_name = nz(i.QueryName), query_results = nz(i.QueryResults),
    image = nz(i.Image), pid = tonumber(i.ProcessId), user = nz(i.User) })
end

-- Linux file and ptrace events (the tracefs file and ptrace providers,
-- docs/linux.md): the writer is named from the process table, so `path`
-- and the process fields can be absent (a process gone before its path
-- could be read); `watch` always names the family of watched paths.
local linux_file_ops = { "write", "delete", "truncate", "rename" }
L.linux_file = function(ev)
  local i = ev.info
  local image = nz(i.image)
  return { platform = "linux", source = ev.id == 2 and "file_delete" or "file_event", event_id = ev.id,
    operation = linux_file_ops[ev.id], target_filename = nz(i.path), source_filename = nz(i.old_path),
    watch = nz(i.watch), flags = tonumber(i.flags), syscall = nz(i.syscall), image = image,
    name = match.name(image), command_line = nz(i.cmdline), parent_image = nz(i.parent_image), user = nz(i.user),
    pid = tonumber(i.pid), ppid = tonumber(i.ppid) }
end
local linux_ptrace_ops = { "ptrace", "vm_read", "vm_write" }
L.linux_ptrace = function(ev)
  local i = ev.info
  local image, target = nz(i.image), nz(i.target_image)
  return { platform = "linux", source = "process_access", event_id = ev.id, operation = linux_ptrace_ops[ev.id],
    request = tonumber(i.request), request_name = nz(i.request_name), image = image, name = match.name(image),
    command_line = nz(i.cmdline), parent_image = nz(i.parent_image), user = nz(i.user), pid = tonumber(i.pid),
    ppid = tonumber(i.ppid), target_pid = tonumber(i.target_pid), target_tid = tonumber(i.target_tid),
    target_image = target, target_name = match.name(target) }
end

-- name -> { platform -> { { filter, normalise, example header }... } }.
-- fields: what an alert of the source carries besides the event.
local function feed(provider, id, norm, guid, pname)
  return { filter = { provider = provider, id = id }, norm = norm, guid = guid, pname = pname,
           ids = type(id) == "table" and id or { id } }
end
local KPROC_NAME = "Microsoft-Windows-Kernel-Process"
local SYSMON_GUID = "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}"
local SECURITY_GUID = "{54849625-5478-4994-A5BA-3E3B0328C30D}"
local function sysmon(id, norm) return feed(SYSMON, id, norm, SYSMON_GUID, SYSMON) end
local function security(id, norm) return feed(SECURITY, id, norm, SECURITY_GUID, SECURITY) end
-- the event ids the C table gives a Sigma category on a provider
local function cids(key, provider)
  for _, src in ipairs(csources[key] or {}) do
    if src.provider == provider then return #src.ids == 1 and src.ids[1] or src.ids end
  end
  error("etwlua.rules: the log-source table has no " .. provider .. " events for " .. key)
end
local function csysmon(category, norm) return sysmon(cids("windows/" .. category, SYSMON), norm) end
-- registry_set rules read the whole registry feed (12, 13, 14; the C table's registry_set is 13 alone) and
-- check the event type themselves
local registry_feeds = { csysmon("registry_event", L.registry) }

M.logsources = {
  process_creation = { fields = { "image", "command_line", "parent_image", "user", "pid" }, platforms = {
    windows = {
      sysmon(cids("windows/process_creation", SYSMON), normalise.sysmon),
      security(cids("windows/process_creation", SECURITY), normalise.security),
      feed(KPROC_NAME, cids("windows/process_creation", KPROC_NAME), normalise.kernel_process),
      { filter = { provider = "{3D6FA8D0-FE05-11D0-9DDA-00C04FD7BA7C}", opcode = 1 }, norm = normalise.kernel_mof },
    },
    linux = { feed("process", cids("linux/process_creation", "process"), normalise.linux) },
  } },
  ps_script = { fields = { "script", "path", "pid" }, platforms = { windows = {
    feed(POWERSHELL, cids("windows/ps_script", "Microsoft-Windows-PowerShell"), L.ps_script, POWERSHELL,
      "Microsoft-Windows-PowerShell") } } },
  service_install = { fields = { "service_name", "image_path", "account", "user" }, platforms = { windows = {
    feed(SCM, 7045, L.service_install, SCM, "Service Control Manager"), security(4697, L.service_install) } } },
  task_created = { fields = { "task_name", "action", "run_as", "user" }, platforms = { windows = {
    security(4698, L.task_created), feed(TASKSCHED, 106, L.task_created, TASKSCHED, "Microsoft-Windows-TaskScheduler") } } },
  log_cleared = { fields = { "channel", "user" }, platforms = { windows = {
    feed(EVENTLOG, { 1102, 104 }, L.log_cleared, EVENTLOG, "Microsoft-Windows-Eventlog") } } },
  registry_event = { fields = { "target_object", "details", "image", "pid" }, platforms = { windows = registry_feeds } },
  registry_set = { fields = { "target_object", "details", "image", "pid" }, platforms = { windows = registry_feeds } },
  network_connection = { fields = { "image", "dest_ip", "dest_port", "dest_hostname", "pid" },
    platforms = { windows = { csysmon("network_connection", L.network_connection) } } },
  image_load = { fields = { "image", "image_loaded", "pid" }, platforms = { windows = { csysmon("image_load", L.image_load) } } },
  process_access = { fields = { "image", "target_image", "granted_access", "pid", "target_pid", "request_name" },
    platforms = { windows = { csysmon("process_access", L.process_access) },
                  linux = { feed("ptrace", { 1, 2, 3 }, L.linux_ptrace, nil, "ptrace") } } },
  create_remote_thread = { fields = { "image", "target_image", "start_module", "pid" },
    platforms = { windows = { csysmon("create_remote_thread", L.create_remote_thread) } } },
  pipe_created = { fields = { "pipe_name", "image", "pid" }, platforms = { windows = { csysmon("pipe_created", L.pipe_created) } } },
  file_event = { fields = { "target_filename", "image", "pid", "operation", "watch" }, platforms = {
    windows = { csysmon("file_event", L.file_event) }, linux = { feed("file", { 1, 3, 4 }, L.linux_file, nil, "file") } } },
  file_delete = { fields = { "target_filename", "image", "pid", "watch" },
    platforms = { linux = { feed("file", 2, L.linux_file, nil, "file") } } },
  audit_policy = { fields = { "subcategory_guid", "changes", "user" }, platforms = { windows = { security(4719, L.audit_policy) } } },
  account_change = { fields = { "target_user", "member_name", "member_sid", "user" }, platforms = { windows = {
    security({ 4720, 4722, 4724, 4728, 4732, 4738, 4756 }, L.account_change) } } },
  wmi_event = { fields = { "wmi_name", "consumer_type", "destination", "query", "user" },
    platforms = { windows = { csysmon("wmi_event", L.wmi_event) } } },
  share_access = { fields = { "share_name", "relative_target", "ip", "user" },
    platforms = { windows = { security(5145, L.share_access) } } },
  dns_query = { fields = { "query_name", "image", "pid" }, platforms = { windows = { csysmon("dns_query", L.dns_query) } } },
}

-- Which rules of a list run on an event:
--  * rules with `names` only on starts of those images;
--  * rules with `needs` only when one of their literals occurs in its
--    lower-cased field, found by one C scan per event over every literal of
--    the list (etwlua.rulecore's prefilter, the Sigma engine's matcher);
--  * the others always.
-- The result keeps the rules' order, so alerts come out as before.

-- The prefilter reads each field's lower-cased text in C (pf:scan_record,
-- no Lua string per field and start): command_line as p.cl, decoded, name
-- and parent_name as they are (lower-case already), the others lower-cased
-- there; a field that is not a string is absent.

-- the list's prefilter and the rules that declare no literals, built on
-- the first event after a rule was added
local function prepare(list)
  local fields, fidx, always = {}, {}, {}
  local pf
  for k = 1, #list do
    local r = list[k]
    if r.needs then
      pf = pf or core.prefilter()
      for f, lits in pairs(r.needs) do
        if not fidx[f] then fields[#fields + 1] = f; fidx[f] = #fields end
        for _, lit in ipairs(lits) do pf:add(k, fidx[f], lit, r.needs_letters[f]) end
      end
    else
      always[#always + 1] = k
    end
  end
  if pf then pf:build() end
  list.pf, list.fields, list.always, list.hits = pf, fields, always, {}
  list.by_name, list.cached, list.ready = {}, 0, true
  -- the gate (etwlua.rulecore) selects in C: a start that no rule would run on never enters Lua.  Not
  -- while `etwlua test` checks the needs (gate_check runs on every event), nor when a rule without
  -- needs or names runs on every start.
  if list.gate and not M.gate_check then
    local always_names, entry_names, every = {}, {}, false
    for _, k in ipairs(always) do
      local nm = list[k].names
      if not nm then every = true; break end
      for n in pairs(nm) do always_names[#always_names + 1] = n end
    end
    if not every then
      for k = 1, #list do
        local r = list[k]
        if r.needs and r.names then
          local l = {}
          for n in pairs(r.names) do l[#l + 1] = n end
          entry_names[k] = l
        end
      end
      list.gate:arm(pf, fields, always_names, entry_names)
    end
  end
end

-- the always-run rules that can match a process of this name, as list
-- positions; cached per name (bounded), so a start pays one lookup
local function select_always(list, name)
  local sel = list.by_name[name]
  if sel then return sel end
  sel = {}
  for _, k in ipairs(list.always) do
    local nm = list[k].names
    if not nm or nm[name] then sel[#sel + 1] = k end
  end
  if list.cached < 4096 then
    list.by_name[name] = sel
    list.cached = list.cached + 1
  end
  return sel
end

local function fire(r, p, ev, fields)
  local ok, hit, msg = pcall(r.match, p)
  if not ok then
    M.errors = M.errors + 1
    if M.errors <= 3 then print("etwlua: rule " .. r.id .. " failed: " .. tostring(hit)) end
  elseif hit then
    local f = {}
    for _, name in ipairs(fields) do f[name] = p[name] end
    etw.alert {
      rule = r.id, title = r.title, severity = r.severity, technique = r.technique,
      message = msg or p.command_line or p.image, event = ev, fields = f,
    }
  end
end

local function run(p, ev, list)
  if not list.ready then prepare(list) end
  local fields = M.logsources[p.source or "process_creation"].fields
  local name = p.name or ""
  local sel = select_always(list, name)
  local nh = 0
  local hits = list.hits
  if list.pf then
    -- the gate's scan of this event, when it made one (it read the fields in C), else the record's
    nh = list.gate and list.gate:take(hits, p) or list.pf:scan_record(hits, p, list.fields)
  end
  -- merge the two ascending position lists
  local i, j, ns = 1, 1, #sel
  while i <= ns or j <= nh do
    local k
    if j > nh or (i <= ns and sel[i] < hits[j]) then
      k = sel[i]; i = i + 1
    else
      k = hits[j]; j = j + 1
    end
    local r = list[k]
    local nm = r.names
    if not nm or nm[name] then fire(r, p, ev, fields) end
  end
  if M.gate_check then M.gate_check(list, p, sel, hits, nh, name) end
end

M.run = run

-- `etwlua test` checks every rule's needs: on each example event of its log
-- source (any rule's), a rule its literals kept from running must not
-- match.  gate_misses[id] = the number of such events.
M.gate_misses = {}
local function gate_check(list, p, sel, hits, nh, name)
  local ran = {}
  for _, k in ipairs(sel) do ran[k] = true end
  for j = 1, nh do ran[hits[j]] = true end
  for k = 1, #list do
    local r = list[k]
    if not ran[k] and r.needs and (not r.names or r.names[name]) then
      local ok, hit = pcall(r.match, p)
      if ok and hit then M.gate_misses[r.id] = (M.gate_misses[r.id] or 0) + 1 end
    end
  end
end

-- The C filters of a log source are registered when its first enabled rule
-- is defined (at load time), so events no rule wants never reach Lua.
-- registry_set and registry_event share their Sysmon feed and its handler.
local active = {}
register = function(r)
  local src = M.logsources[r.logsource]
  local feeds = src.platforms[r.platform]
  local list = active[feeds]
  if not list then
    list = {}
    active[feeds] = list
    for _, f in ipairs(feeds) do
      local norm = f.norm
      local hn = etw.on(f.filter, function(ev) run(norm(ev, list.gate), ev, list) end)
      -- the starts whose fields the gate reads as these normalisers do
      local kind = (norm == normalise.sysmon and "sysmon") or (norm == normalise.security and "security")
      if kind then
        list.gate = list.gate or core.gate()
        core.gate_attach(hn, list.gate, kind)
      end
    end
  end
  list[#list + 1] = r
  list.ready = false
  if list.gate then list.gate:disarm() end -- until prepare arms it for the new list
end

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

-- any JSON value of an example's EventData: strings, numbers, booleans
local function jval(v)
  if type(v) == "number" then
    return math.type(v) == "integer" and string.format("%d", v) or string.format("%.17g", v)
  elseif type(v) == "boolean" then return tostring(v) end
  return jstr(v)
end

--- An example as the JSON line of the event a real system would log.
--- Process starts are written from the record's fields (a Sysmon 1 or a
--- Linux `process` start); every other log source takes the event's own
--- EventData fields, with `_id` choosing the event id among its feeds.
function M.example_event(r, ex)
  local src = r.logsource or "process_creation"
  if src ~= "process_creation" then
    local feeds = M.logsources[src].platforms[r.platform]
    local id = ex._id or feeds[1].ids[1]
    local f
    for _, cand in ipairs(feeds) do
      for _, i in ipairs(cand.ids or {}) do if i == id then f = cand end end
    end
    if not f then error("rule " .. r.id .. ": no " .. src .. " feed logs event id " .. tostring(id)) end
    local keys = {}
    for k in pairs(ex) do if k ~= "_id" then keys[#keys + 1] = k end end
    table.sort(keys)
    local out = {}
    for _, k in ipairs(keys) do out[#out + 1] = jstr(k) .. ":" .. jval(ex[k]) end
    -- Linux providers have a name and no GUID
    return '{"header":{"descriptor":{"id":' .. id .. '},"ts":"2024-05-01T10:00:00Z",'
      .. (f.guid and ('"provider_guid":' .. jstr(f.guid) .. ',') or '') .. '"provider_name":' .. jstr(f.pname)
      .. '},"info":{' .. table.concat(out, ",") .. '}}'
  end
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
  M.gate_check = gate_check
  for _, list in pairs(active) do -- every event reaches Lua, so gate_check sees it
    list.ready = false
    if list.gate then list.gate:disarm() end
  end
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
  -- needs that are too narrow: a rule that would have matched an example where its literals were absent
  for _, r in ipairs(M.all) do
    local n = M.gate_misses[r.id]
    if r.enabled and n then
      checked = checked + 1
      failures = failures + 1
      out(string.format("FAIL %-40s matches %d example event(s) that its needs kept it from: a literal is missing", r.id, n))
    end
  end
  out(string.format("rules: %d passed, %d failed", checked - failures, failures))
  return failures
end

return M
