-- etwlua.cmdline: command-line tokenizers.
--   windows(line) follows CommandLineToArgvW: the program name ends at the
--   first space outside quotes and takes no escapes; later arguments treat
--   2n backslashes before a quote as n and a quote, 2n+1 as n and a literal
--   quote, and "" inside quotes as a literal quote.
--   posix(line) follows sh: '...' is literal, "..." honours \" \\ \$ \`,
--   a backslash outside quotes escapes the next character.
local M = {}

-- The reference: windows() runs in C (etwlua.rulecore's argv_windows),
-- tested against this.
function M.windows_lua(line)
  local args, i, n = {}, 1, #line
  if type(line) ~= "string" then return args end
  -- the program name
  while i <= n and line:sub(i, i):match("[ \t]") do i = i + 1 end
  if i > n then return args end
  local buf = {}
  if line:sub(i, i) == '"' then
    local j = line:find('"', i + 1, true)
    buf[1] = line:sub(i + 1, (j or n + 1) - 1)
    i = (j or n) + 1
  else
    local j = line:find("[ \t]", i) or n + 1
    buf[1] = line:sub(i, j - 1)
    i = j
  end
  -- text glued to a closing quote belongs to the program name too
  while i <= n and not line:sub(i, i):match("[ \t]") do buf[#buf + 1] = line:sub(i, i); i = i + 1 end
  args[1] = table.concat(buf)
  while true do
    while i <= n and line:sub(i, i):match("[ \t]") do i = i + 1 end
    if i > n then break end
    local arg, inq = {}, false
    while i <= n do
      local c = line:sub(i, i)
      if c == "\\" then
        local j = i
        while j <= n and line:sub(j, j) == "\\" do j = j + 1 end
        local k = j - i
        if line:sub(j, j) == '"' then
          arg[#arg + 1] = string.rep("\\", k // 2)
          if k % 2 == 1 then arg[#arg + 1] = '"'; i = j + 1 else i = j end
        else
          arg[#arg + 1] = string.rep("\\", k)
          i = j
        end
      elseif c == '"' then
        if inq and line:sub(i + 1, i + 1) == '"' then arg[#arg + 1] = '"'; i = i + 2
        else inq = not inq; i = i + 1 end
      elseif (c == " " or c == "\t") and not inq then
        break
      else
        arg[#arg + 1] = c
        i = i + 1
      end
    end
    args[#args + 1] = table.concat(arg)
  end
  return args
end

local argv_windows = require("etwlua.rulecore").argv_windows
function M.windows(line)
  if type(line) ~= "string" then return {} end
  return argv_windows(line)
end

function M.posix(line)
  local args, i, n = {}, 1, #line
  if type(line) ~= "string" then return args end
  local cur, have = {}, false
  while i <= n do
    local c = line:sub(i, i)
    if c == "'" then
      local j = line:find("'", i + 1, true) or n + 1
      cur[#cur + 1] = line:sub(i + 1, j - 1); have = true
      i = j + 1
    elseif c == '"' then
      i = i + 1; have = true
      while i <= n and line:sub(i, i) ~= '"' do
        local d = line:sub(i, i)
        if d == "\\" and line:sub(i + 1, i + 1):match('["\\$`]') then
          cur[#cur + 1] = line:sub(i + 1, i + 1); i = i + 2
        else
          cur[#cur + 1] = d; i = i + 1
        end
      end
      i = i + 1
    elseif c == "\\" then
      cur[#cur + 1] = line:sub(i + 1, i + 1); have = true
      i = i + 2
    elseif c:match("[ \t\n]") then
      if have then args[#args + 1] = table.concat(cur); cur, have = {}, false end
      i = i + 1
    else
      cur[#cur + 1] = c; have = true
      i = i + 1
    end
  end
  if have then args[#args + 1] = table.concat(cur) end
  return args
end

return M
