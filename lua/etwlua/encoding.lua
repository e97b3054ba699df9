-- etwlua.encoding: encoded payloads in command lines.
--   encoded_command(line) finds PowerShell's -EncodedCommand in any of its
--   accepted abbreviations (-e, -en, -enc, -enco... -encodedcommand, also
--   -ec), introduced by -, /, or the dash lookalikes PowerShell accepts
--   (en dash, em dash, horizontal bar), and decodes the UTF-16LE base64.
--   base64_blob(s) and hex_blob(s) find long encoded runs.
local lpeg = require "lpeg"

local M = {}

local P, S, R, C = lpeg.P, lpeg.S, lpeg.R, lpeg.C
local dash = P "-" + P "/" + P "\u{2013}" + P "\u{2014}" + P "\u{2015}"
local function ci(s)
  local p = P(true)
  for c in s:gmatch(".") do p = p * S(c:lower() .. c:upper()) end
  return p
end
-- "e" followed by any prefix of "ncodedcommand", or "ec"
local prefix = P(true)
do
  local word = "ncodedcommand"
  -- PEG choice commits to the first alternative that matches, so the
  -- longest abbreviation must be tried first
  local alt = P(true)
  for k = 1, #word do alt = ci(word:sub(1, k)) + alt end
  prefix = ci "e" * (ci "c" + alt)
end
local space = S " \t" ^ 1
local b64char = R("AZ", "az", "09") + S "+/="
local quote = S "\"'" ^ -1
local flag = space * dash * prefix * #space * space * quote * C(b64char ^ 8)
-- the reference search, a try at every byte (see encoded_command_lua)
local find_flag = P { flag + 1 * lpeg.V(1) }

local b64map = {}
do
  local a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  for i = 1, #a do b64map[a:sub(i, i)] = i - 1 end
end

local core = require "etwlua.rulecore"

-- The decoders run in C (etwlua.rulecore): a payload of kilobytes decoded a
-- character at a time in Lua cost more than every rule together.  The Lua
-- versions below are the reference they are tested against.

--- Decodes standard base64 (padding optional); nil when it is not base64.
function M.base64_decode_lua(s)
  s = s:gsub("%s", "")
  if #s % 4 == 1 or s:find("[^%w%+/=]") then return nil end
  local out, bits, n = {}, 0, 0
  for c in s:gmatch("[^=]") do
    local v = b64map[c]
    if not v then return nil end
    bits = (bits << 6) | v
    n = n + 6
    if n >= 8 then
      n = n - 8
      out[#out + 1] = string.char((bits >> n) & 0xFF)
    end
  end
  return table.concat(out)
end

--- UTF-16LE bytes to UTF-8 text (lone surrogates become U+FFFD).
function M.utf16le_lua(s)
  local out, i = {}, 1
  while i + 1 <= #s do
    local u = s:byte(i) | (s:byte(i + 1) << 8)
    i = i + 2
    if u >= 0xD800 and u <= 0xDBFF and i + 1 <= #s then
      local u2 = s:byte(i) | (s:byte(i + 1) << 8)
      if u2 >= 0xDC00 and u2 <= 0xDFFF then
        u = 0x10000 + ((u - 0xD800) << 10) + (u2 - 0xDC00)
        i = i + 2
      else
        u = 0xFFFD
      end
    elseif u >= 0xD800 and u <= 0xDFFF then
      u = 0xFFFD
    end
    out[#out + 1] = utf8.char(u)
  end
  return table.concat(out)
end

M.base64_decode = core.base64_decode
M.utf16le = core.utf16le

--- Finds -EncodedCommand; returns the base64 text and its decoding (nil
--- when it does not decode).
-- Where the flag can start, from init on: a blank before a dash (or a
-- lookalike) and e or E.  Every match of flag begins in a run of blanks
-- that ends at such a place, and matches there alike (space ^ 1 takes the
-- whole run), so trying flag at these places, in order, finds what a
-- search at every byte would, without running lpeg over the long lines
-- (encoded PowerShell) byte by byte.
local function next_flag(line, init)
  local a = line:find("[ \t][-/][eE]", init)
  local b = line:find("[ \t]\xE2\x80[\x93-\x95][eE]", init)
  if a and b then return a < b and a or b end
  return a or b
end

--- The reference encoded_command searches with lpeg at every byte; the
--- tests check the one below against it.
function M.encoded_command_lua(line)
  if type(line) ~= "string" then return nil end
  local b64 = find_flag:match(" " .. line)
  if not b64 then return nil end
  local raw = M.base64_decode(b64)
  return b64, raw and M.utf16le(raw)
end

function M.encoded_command(line)
  if type(line) ~= "string" then return nil end
  local b64
  -- the flag may open the line: flag needs a blank before it
  if line:find("^[-/][eE]") or line:find("^\xE2\x80[\x93-\x95][eE]") then b64 = flag:match(" " .. line) end
  local at = not b64 and next_flag(line, 1)
  while at do
    b64 = flag:match(line, at)
    at = not b64 and next_flag(line, at + 1)
  end
  if not b64 then return nil end
  local raw = M.base64_decode(b64)
  return b64, raw and M.utf16le(raw)
end

local b64run = P { C(b64char ^ 40) * -b64char + 1 * lpeg.V(1) }
local hexrun = P { C(R("09", "af", "AF") ^ 32) * -R("09", "af", "AF") + 1 * lpeg.V(1) }

--- A run of 40 or more base64 characters that decodes, or nil.
function M.base64_blob(s)
  if type(s) ~= "string" then return nil end
  local run = b64run:match(s)
  if run and run:find("[a-z]") and run:find("[A-Z]") and M.base64_decode(run) then return run end
  return nil
end

--- A run of 32 or more hex digits (an even count), or nil.
function M.hex_blob(s)
  if type(s) ~= "string" then return nil end
  local run = hexrun:match(s)
  if run and #run % 2 == 0 then return run end
  return nil
end

return M
