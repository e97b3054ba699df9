-- etwlua.match: case-insensitive path and name matching, built on lpeg.
local lpeg = require "lpeg"
local path = require "etwlua.path"

local M = {}

M.basename = path.basename
M.name = path.name

--- Lower-cased extension without the dot ("C:\\x\\A.PS1" -> "ps1").
function M.ext(p)
  local b = path.basename(p)
  return b and b:match("%.([^.]+)$") and b:match("%.([^.]+)$"):lower()
end

local function ci_char(c)
  local l, u = c:lower(), c:upper()
  if l == u then return lpeg.P(c) end
  return lpeg.S(l .. u)
end

--- Compiles a list of wildcard patterns (* any run, ? one character,
--- \ and / interchangeable) into one case-insensitive matcher, once.
--- Returns a function(s) -> true when s matches any pattern whole.
function M.wildcards(list)
  -- "*text*" patterns (the common case) become one left-to-right search
  -- over all their texts; only the others pay for '*' backtracking
  local alt, contains
  for _, w in ipairs(list) do
    local lit = w:match("^%*([^*?]+)%*$")
    if lit then
      local p = lpeg.P(true)
      for c in lit:gmatch(".") do
        p = p * ((c == "\\" or c == "/") and lpeg.S "\\/" or ci_char(c))
      end
      contains = contains and (contains + p) or p
    else
      local rest = {}
      -- build right to left so '*' can try shorter matches: a*b = a (any-but-rest)* rest
      for c in w:gmatch(".") do rest[#rest + 1] = c end
      local tail = lpeg.P(-1)
      for k = #rest, 1, -1 do
        local c = rest[k]
        if c == "*" then
          tail = lpeg.P { tail + 1 * lpeg.V(1) }
        elseif c == "?" then
          tail = 1 * tail
        elseif c == "\\" or c == "/" then
          tail = lpeg.S "\\/" * tail
        else
          tail = ci_char(c) * tail
        end
      end
      alt = alt and (alt + tail) or tail
    end
  end
  local search = contains and ((1 - contains) ^ 0 * contains)
  if search and alt then
    return function(s) return type(s) == "string" and (search:match(s) ~= nil or alt:match(s) ~= nil) end
  elseif search then
    return function(s) return type(s) == "string" and search:match(s) ~= nil end
  end
  alt = alt or lpeg.P(false)
  return function(s) return type(s) == "string" and alt:match(s) ~= nil end
end

--- A set of lower-cased names: set["cmd.exe"] for a name of any case.
function M.set(list)
  local s = {}
  for _, v in ipairs(list) do s[v:lower()] = true end
  return s
end

--- Compiles plain needles into one search, once: the returned function(s)
--- gives the first needle found in s (at the leftmost position), or nil for
--- no match or a non-string.  Case-sensitive: pass lower-cased text and
--- needles.  A loop, not recursion, so long script blocks cannot overflow.
function M.finder(list)
  local alt
  for _, w in ipairs(list) do
    local c = lpeg.C(lpeg.P(w))
    alt = alt and (alt + c) or c
  end
  if not alt then return function() return nil end end
  local pat = (1 - alt) ^ 0 * alt
  return function(s) return type(s) == "string" and pat:match(s) or nil end
end

--- Case-insensitive plain substring test.
function M.contains(s, needle)
  return type(s) == "string" and s:lower():find(needle:lower(), 1, true) ~= nil
end

return M
