-- Tests of the lua/etwlua helpers.  Run: etwlua --no-rules -r /dev/null tests/lua/helpers.lua
local cmd = require "etwlua.cmdline"
local m = require "etwlua.match"
local enc = require "etwlua.encoding"
local path = require "etwlua.path"

local pass, fail = 0, 0
local function eq(got, want, what)
  local ok
  if type(want) == "table" then
    ok = type(got) == "table" and #got == #want
    for i = 1, #want do ok = ok and got[i] == want[i] end
  else
    ok = got == want
  end
  if ok then pass = pass + 1 else
    fail = fail + 1
    local function show(v) if type(v) == "table" then return "{" .. table.concat(v, "|") .. "}" end return tostring(v) end
    print("FAIL " .. what .. ": got " .. show(got) .. ", want " .. show(want))
  end
end

-- CommandLineToArgvW rules
eq(cmd.windows([["C:\Program Files\a.exe" x "y z"]]), { [[C:\Program Files\a.exe]], "x", "y z" }, "quoted program")
eq(cmd.windows([[a.exe "a\"b" c\\"d e"]]), { "a.exe", [[a"b]], [[c\d e]] }, "backslash before quote")
eq(cmd.windows([[a.exe a\\\"b c\\d]]), { "a.exe", [[a\"b]], [[c\\d]] }, "odd backslashes")
eq(cmd.windows([[a.exe "x""y" ""]]), { "a.exe", [[x"y]], "" }, "doubled quote inside quotes")
eq(cmd.windows([[C:\a\b.exe\ x]]), { [[C:\a\b.exe\]], "x" }, "program name takes no escapes")
eq(cmd.windows("   "), {}, "blank")
-- POSIX shell rules
eq(cmd.posix([[sh -c 'echo "a b"' x\ y "q\"t" '']]), { "sh", "-c", [[echo "a b"]], "x y", [[q"t]], "" }, "posix quoting")
eq(cmd.posix("a  b\tc"), { "a", "b", "c" }, "posix whitespace")

-- paths and wildcards
eq(path.basename([[\Device\HarddiskVolume3\Windows\cmd.exe]]), "cmd.exe", "device path basename")
eq(path.basename("/usr/bin/"), "bin", "trailing slash")
eq(m.ext([[C:\x\Run.PS1]]), "ps1", "extension")
local w = m.wildcards { "?:\\users\\*\\appdata\\*", "*.TMP" }
eq(w([[C:\Users\bob\AppData\Local\x.exe]]), true, "wildcard case-insensitive")
eq(w([[C:/users/bob/appdata/x]]), true, "wildcard slash")
eq(w([[C:\Windows\x.exe]]), false, "wildcard no match")
eq(w("A.tmp"), true, "wildcard suffix")
eq(m.wildcards { "a*b*c" }("axxbyyc"), true, "two stars")
eq(m.wildcards { "a*b*c" }("axxbyy"), false, "two stars, no end")

-- -EncodedCommand in its abbreviations and dash lookalikes
local b64 = "SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAKQA="
for _, flag in ipairs { "-e", "-en", "-enc", "-EncodedCommand", "-ENCODEDCOMMAN", "/enc", "\u{2013}enc", "\u{2014}e",
                        "\u{2015}Enc", "-ec" } do
  local got, text = enc.encoded_command("powershell -nop " .. flag .. " " .. b64)
  eq(text, "IEX (New-Object)", "encoded command with " .. flag)
end
eq(enc.encoded_command("powershell -ExecutionPolicy Bypass -File x.ps1"), nil, "-ExecutionPolicy is not -enc")
eq(enc.encoded_command("powershell -encrypt x"), nil, "-encrypt is not an abbreviation")
eq(enc.base64_decode("aGVsbG8="), "hello", "base64")
eq(enc.base64_decode("aGVsbG8"), "hello", "base64 without padding")
eq(enc.base64_decode("a$b="), nil, "not base64")
eq(enc.base64_blob("echo Y3VybCBodHRwOi8veC50ZXN0L2kuc2ggfCBzaCAtcyAtLSAtLXF1aWV0 | base64 -d"),
  "Y3VybCBodHRwOi8veC50ZXN0L2kuc2ggfCBzaCAtcyAtLSAtLXF1aWV0", "base64 blob")
eq(enc.base64_blob("/usr/lib/x86_64-linux-gnu/libtraceevent.so.1.7.1"), nil, "a path is not a blob")
eq(enc.hex_blob("x 4d5a90000300000004000000ffff0000b800 y"), "4d5a90000300000004000000ffff0000b800", "hex blob")
eq(enc.hex_blob("deadbeef"), nil, "short hex")

-- the C decoders and basename (etwlua.rulecore) against the Lua references they replaced, on fixed
-- and random inputs from a fixed seed
math.randomseed(17)
local b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \t\n!"
local seps = { "a", "B", "\\", "/", ".", " ", "\u{e9}", "Z" }
local differ = {}
for _, s in ipairs { "", "=", "ab=c", " SQ BF\tAF\n", "2D3YAN4A", "ANgA", "ANwAAA==", "\0\216\0\220" } do
  if enc.base64_decode(s) ~= enc.base64_decode_lua(s) or enc.utf16le(s) ~= enc.utf16le_lua(s) then differ[#differ + 1] = s end
end
for i = 1, 3000 do
  local t, u, v = {}, {}, {}
  for k = 1, i % 41 do
    local r = math.random(#b64)
    t[k] = b64:sub(r, r)
    u[k] = string.char(math.random(0, 255))
    v[k] = seps[math.random(#seps)]
  end
  local s, raw, p = table.concat(t), table.concat(u), table.concat(v)
  if enc.base64_decode(s) ~= enc.base64_decode_lua(s) then differ[#differ + 1] = s end
  if enc.utf16le(raw) ~= enc.utf16le_lua(raw) then differ[#differ + 1] = "utf16:" .. #raw end
  local want = path.basename_lpeg(p)
  if path.basename(p) ~= want or path.name(p) ~= (want and want:lower()) then differ[#differ + 1] = p end
end
local argv_chars = { "a", " ", "\t", '"', "\\", "b" }
local function same(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end
for i = 1, 20000 do
  local t = {}
  for k = 1, i % 14 do t[k] = argv_chars[math.random(#argv_chars)] end
  local s = table.concat(t)
  if not same(cmd.windows(s), cmd.windows_lua(s)) then differ[#differ + 1] = ("argv %q"):format(s) end
end
-- encoded_command tries the flag only where it can start; the reference searches every byte
local enc_parts = { " ", "\t", "-", "/", "\u{2013}", "\u{2015}", "e", "E", "c", "nc", "enc", "ncodedcommand", "EC",
  "p", '"', "'", "SQBFAFgA", "AA==", "x", "powershell", "-ep", " -e ", "/enc ", "ZQBjAGgAbwAgAGgAaQA=" }
local function enc_same(s)
  local a, b = enc.encoded_command(s)
  local c, d = enc.encoded_command_lua(s)
  if a ~= c or b ~= d then differ[#differ + 1] = ("encoded_command %q"):format(s) end
end
for _, s in ipairs { "", "-e SQBFAFgAIAAoAE4A", "-ep bypass -enc SQBFAFgAIAAoAE4A", "x\t\t-Ec  'SQBFAFgAIAAoAE4A'",
  "a -e x -e SQBFAFgAIAAoAE4A", "\u{2014}e SQBFAFgAIAAoAE4A", "a  -e" } do enc_same(s) end
for i = 1, 20000 do
  local t = {}
  for k = 1, i % 12 do t[k] = enc_parts[math.random(#enc_parts)] end
  enc_same(table.concat(t))
end
eq(#differ, 0, "C decoders, basename and argv as the Lua ones (first: " .. tostring(differ[1]) .. ")")
eq(path.name([[C:\Windows\System32\CMD.EXE]]), "cmd.exe", "name")
eq(path.basename("/usr/bin/"), "bin", "trailing separator")
eq(path.basename("\\\\"), "\\\\", "only separators")
eq(path.name(""), nil, "empty")
eq(path.name(42), nil, "not a string")

print(("lua-helpers: %d passed, %d failed"):format(pass, fail))
