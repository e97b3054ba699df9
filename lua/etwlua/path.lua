-- etwlua.path: small, case-insensitive helpers for Windows and POSIX paths.
local lpeg = require "lpeg"

local M = {}

local sep = lpeg.S "\\/"
local notsep = (1 - sep) ^ 1
-- the last component; leading, doubled and trailing separators are allowed
-- (PEG repetition does not backtrack, so each separator run is explicit)
local base = sep ^ 0 * (notsep * sep ^ 1 * #(1 - sep)) ^ 0 * lpeg.C(notsep) * sep ^ 0 * -1

--- Returns the last path component ("C:\\x\\cmd.exe" -> "cmd.exe").  The
--- lpeg version is the reference the C one (etwlua.rulecore, used below:
--- every process start asks twice) is tested against.
function M.basename_lpeg(p)
  if type(p) ~= "string" or p == "" then return nil end
  return base:match(p) or p
end

local core = require "etwlua.rulecore"
local cbase = core.basename
function M.basename(p) return cbase(p) end

--- Lower-cased basename, for case-insensitive comparisons.
function M.name(p) return cbase(p, true) end

return M
