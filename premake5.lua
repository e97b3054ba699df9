-- premake5.lua - the one build description of etwlua.
--
--   premake5 gmake  |  premake5 vs2022  |  premake4 --file=premake5.lua gmake
--   make -C build config=release        (also: debug, sanitize)
--
-- Written in the premake5 API.  Debian 12 ships only premake4, so the shim
-- below maps the few premake5 calls used here onto premake4's
-- solution/configuration/flags.  Keep the rest Lua 5.1-compatible.

local PREMAKE4 = (_PREMAKE_VERSION or ""):match("^4") ~= nil

if PREMAKE4 then
  workspace = solution
  -- premake4 selects with configuration(); premake5 with filter().
  function filter(f)
    if type(f) == "table" then
      if #f == 0 then return configuration {} end
      f = f[1]
    end
    local v = f:match("^configurations:(.+)$") or f:match("^system:(.+)$") or f
    configuration(v)
  end
  function symbols(v) if v == "On" then flags { "Symbols" } end end
  function optimize(v) if v ~= "Off" then flags { "OptimizeSpeed" } end end
  function cdialect(v) buildoptions { "-std=" .. v:lower() } end
end

local WINDOWS = (os.istarget and os.istarget("windows")) or (not os.istarget and os.is("windows"))

-- pkg-config, split into premake fields so that libraries land after the
-- objects and static libraries on the link line.
-- Windows builds take the dependencies from scripts/mingw-deps.sh (or, with
-- vcpkg, from its integration), by library name.
local MINGW_DEPS = os.getenv("ETWLUA_MINGW_DEPS") or (os.getcwd() .. "/build/mingw/deps")
local WIN_LIBS = { ["lua5.4"] = "lua", ["lua5.4-lpeg"] = "lpeg", yajl = "yajl", cmocka = "cmocka" }
local pkg_cache = {}
local function pkg(names)
  if WINDOWS then
    local r = { inc = { MINGW_DEPS .. "/include", MINGW_DEPS .. "/include/yajl" },
                libdirs = { MINGW_DEPS .. "/lib" }, links = {}, other = {} }
    for n in names:gmatch("%S+") do
      if WIN_LIBS[n] then table.insert(r.links, WIN_LIBS[n]) end
    end
    return r
  end
  if pkg_cache[names] then return pkg_cache[names] end
  local p = io.popen("pkg-config --cflags --libs " .. names .. " 2>&1")
  local out = p:read("*a")
  p:close()
  if out:match("was not found") or out:match("No package") then
    error("pkg-config could not find: " .. names .. "\n" .. out ..
          "\nInstall the -dev packages (see README: quick start).")
  end
  local r = { inc = {}, libdirs = {}, links = {}, other = {} }
  for tok in out:gmatch("%S+") do
    if tok:sub(1, 2) == "-I" then table.insert(r.inc, tok:sub(3))
    elseif tok:sub(1, 2) == "-L" then table.insert(r.libdirs, tok:sub(3))
    elseif tok:sub(1, 2) == "-l" then table.insert(r.links, tok:sub(3))
    else table.insert(r.other, tok) end
  end
  -- Lua and lpeg are linked statically where Debian ships the archive: every
  -- lua_* call then goes direct instead of through the PLT, which is
  -- measurable on the per-event path (see the benchmark in the README).
  local q = io.popen("pkg-config --variable=libdir lua5.4 2>/dev/null")
  local libdir = (q:read("*l") or "")
  q:close()
  for i, l in ipairs(r.links) do
    if (l == "lua5.4" or l == "lua5.4-lpeg") and os.isfile(libdir .. "/lib" .. l .. ".a") then
      r.links[i] = ":lib" .. l .. ".a"
    end
  end
  pkg_cache[names] = r
  return r
end

-- libyaml and PCRE2: the Sigma rules (engine/sigma); libdeflate: the
-- CRC-32 of EVTX chunks (PCLMUL, twice zlib's speed).  Linux only: the
-- Windows cross build says they are not built in.
local DEPS = "lua5.4 lua5.4-lpeg yajl libevtx expat zlib" ..
             (WINDOWS and "" or " yaml-0.1 libpcre2-8 libdeflate")
-- libcurl and librdkafka (the HTTP and Kafka outputs, engine/output/) and
-- libzip (.zip input): their headers only; the outputs and the .zip input
-- load them when first used (engine/util/dynlib.h: they and what
-- they pull in cost every run 4-5 ms of start-up)
local LOADED_DEPS = WINDOWS and "" or "libcurl rdkafka libzip"

-- a library's headers, not the library
local function use_pkg_headers(names)
  if names == "" then return end
  local r = pkg(names)
  includedirs(r.inc)
  buildoptions(r.other)
  return r
end

-- the headers and the library; dynamic: link Lua and lpeg as shared
-- libraries too (a shared library cannot take Debian's non-PIC static
-- archives)
local function use_pkg(names, dynamic)
  local r = use_pkg_headers(names)
  libdirs(r.libdirs)
  for _, l in ipairs(r.links) do
    links { dynamic and l:match("^:lib(.+)%.a$") or l }
  end
end

-- Cross builds (premake4 --os=windows) go to their own tree, so the Linux
-- build beside them stays intact.
OUT = WINDOWS and "build/mingw" or "build"

-- Settings every project shares.
local function common()
  language "C"
  cdialect "C11"
  -- includes name their folder ("core/event.h"); the public header is
  -- engine/include/etwl.h, found as "etwl.h"
  includedirs { "engine", "engine/include" }
  defines { "_GNU_SOURCE" }
  buildoptions { "-Wall", "-Wextra", "-Werror", "-Wshadow", "-Wstrict-prototypes" }
  if WINDOWS then
    -- C99 printf (%zu, %lld) from mingw's own stdio; Windows 10 APIs; one
    -- static exe that needs no mingw DLLs beside it
    defines { "__USE_MINGW_ANSI_STDIO=1", "_WIN32_WINNT=0x0A00", "WINVER=0x0A00", "UNICODE", "_UNICODE" }
    linkoptions { "-static" }
  else
    buildoptions { "-fvisibility=hidden" }
    -- EVTX needs libevtx and expat, which are not cross-built: the Windows
    -- build says so when it is given an .evtx file.
    defines { "ETWL_HAVE_EVTX", "ETWL_HAVE_ZIP", "ETWL_HAVE_EXPAT", "ETWL_HAVE_SIGMA", "ETWL_HAVE_DEFLATE" }
  end
  filter "configurations:Debug"
    symbols "On"
    defines { "ETWL_DEBUG" }
    targetdir(OUT .. "/bin/debug")
    objdir(OUT .. "/obj/debug")
  filter "configurations:Release"
    optimize "Speed"
    symbols "On"
    defines { "NDEBUG" }
    targetdir(OUT .. "/bin/release")
    objdir(OUT .. "/obj/release")
  filter "configurations:Sanitize"
    symbols "On"
    buildoptions { "-O1", "-fsanitize=address,undefined", "-fno-omit-frame-pointer",
                   "-fno-sanitize-recover=all" }
    linkoptions { "-fsanitize=address,undefined" }
    targetdir(OUT .. "/bin/sanitize")
    objdir(OUT .. "/obj/sanitize")
  filter {}
end

workspace "etwlua"
  configurations { "Debug", "Release", "Sanitize" }
  location(OUT)

-- The live backend of each platform: tracefs on Linux (libtracefs and
-- libtraceevent), ETW on Windows.
local LIVE_DEPS = WINDOWS and "" or " libtracefs libtraceevent"
local WIN_SYSLIBS = { "tdh", "advapi32", "ole32", "psapi", "ws2_32", "pthread" }

-- Every engine folder but the CLI and the optional TraceEvent writer; each
-- platform leaves out the other's folders.  A new source is its folder under
-- engine/sources/ and its line in engine/sources/sources.c: nothing here.
local function engine_sources()
  files { "engine/**.c", "engine/**.h" }
  excludes { "engine/cli/**", "engine/output/traceevent/**" }
  if WINDOWS then
    -- libevtx, libtracefs and libtraceevent are not cross-built (EVTX is
    -- read natively there; libevtx is only the cross-check on Linux)
    -- the Sigma engine needs libyaml and PCRE2; its log-source table and
    -- literal matcher do not, and the Lua rule library uses them
    excludes { "engine/platform/linux/**", "engine/sources/tracefs/**", "engine/sources/evtx/evtx.c",
               "engine/sigma/compile.c", "engine/sigma/correlate.c", "engine/sigma/match.c",
               "engine/sigma/prefilter.c", "engine/sigma/sigma.c", "engine/sigma/yaml.c", "engine/sigma/fold.c" }
    -- libcurl and librdkafka are not cross-built (syslog runs over winsock)
    excludes { "engine/output/sink_http.c", "engine/output/sink_kafka.c", "engine/util/dynlib.c" }
    defines { "ETWL_HAVE_LIVE", "ETWL_HAVE_ETL" }
  else
    excludes { "engine/platform/win/**", "engine/sources/etw/**" }
    defines { "ETWL_HAVE_LIVE" }
  end
end

project "etwl"
  kind "StaticLib"
  common()
  engine_sources()
  use_pkg(DEPS .. LIVE_DEPS)
  use_pkg_headers(LOADED_DEPS)

-- The same engine as a shared library: what a plugin author links, and what
-- tests/layout/exports.sh holds to the public header's functions.
if not WINDOWS then
project "etwl_shared"
  kind "SharedLib"
  targetname "etwlua" -- libetwlua.so: a name -letwl cannot pick instead of libetwl.a
  common()
  engine_sources()
  use_pkg(DEPS .. LIVE_DEPS, true)
  use_pkg_headers(LOADED_DEPS)
  links { "m", "pthread" }
end

-- The TraceEvent baseline writer (--format traceevent): only for comparing
-- decodings with Microsoft TraceEvent, so it stays out of the engine library
-- and only the CLI links it.
project "etwl_traceevent"
  kind "StaticLib"
  common()
  files { "engine/output/traceevent/*.c", "engine/output/traceevent/*.h" }
  use_pkg(DEPS .. LIVE_DEPS)

project "etwlua"
  kind "ConsoleApp"
  common()
  files { "engine/cli/*.c", "engine/cli/*.h" }
  links { "etwl_traceevent", "etwl" }
  use_pkg(DEPS .. LIVE_DEPS)
  -- libedit: line editing, history and completion for `etwlua shell`
  -- (not cross-built: the Windows shell reads plain lines)
  if not WINDOWS then
    use_pkg("libedit")
    defines { "ETWL_HAVE_LIBEDIT" }
  end
  if WINDOWS then links(WIN_SYSLIBS) else links { "m", "pthread" } end

-- One cmocka binary per unit-test file, so a crash in one module's tests
-- cannot hide the results of another's.  tests/ mirrors engine/: the tests
-- of engine/core are in tests/core, and so on; tests/lib holds what they
-- share.
local extra_files = {
  test_cli = { "engine/cli/opts.c" },
}
local TEST_LIB = { "tests/lib/testlib.c", "tests/lib/testlib.h", "tests/lib/teib.c", "tests/lib/teib.h" }
-- These drive POSIX facilities (pipes, open_memstream, signals) directly;
-- the Windows build covers the same code through tests/sources/etw instead.
local POSIX_ONLY = { test_session = true, test_lua = true, test_strmatch = true, test_procprov = true }
-- The Windows backend's tests need the fake ETW/TDH API and run only in the
-- Windows build.
local WINDOWS_ONLY = "tests/sources/etw/"
-- The Sigma engine needs libyaml and PCRE2, which are not cross-built.
local NOT_WINDOWS = "tests/sigma/"
for _, f in ipairs(os.matchfiles("tests/**/test_*.c")) do
  local name = path.getbasename(f)
  if f:sub(1, #WINDOWS_ONLY) ~= WINDOWS_ONLY and not (WINDOWS and POSIX_ONLY[name])
     and not (WINDOWS and f:sub(1, #NOT_WINDOWS) == NOT_WINDOWS) then
  project(name)
    kind "ConsoleApp"
    common()
    files { f }
    files(TEST_LIB)
    if extra_files[name] then files(extra_files[name]) end
    includedirs { "tests/lib", "engine/cli" }
    -- where the Lua tests find lua/ (quoted for the shell that runs the compiler)
    buildoptions { "-DLUA_DIR='\"" .. os.getcwd() .. "/lua\"'" }
    links { "etwl" }
    use_pkg(DEPS .. LIVE_DEPS .. " cmocka")
    if WINDOWS then links(WIN_SYSLIBS) else links { "m", "pthread" } end
  end
end

-- tests/output/run.sh's Kafka counterpart: librdkafka's mock cluster and a
-- consumer in one program (Linux: librdkafka is not cross-built).
if not WINDOWS then
project "kafka_mock"
  kind "ConsoleApp"
  common()
  files { "tests/output/kafka_mock.c" }
  use_pkg("rdkafka")
end

-- The Windows backend's tests: the fake ETW/TDH API (tests/sources/etw/
-- fake_etw.c) stands in for advapi32 and tdh, so they run under Wine.
if WINDOWS then
  for _, f in ipairs(os.matchfiles(WINDOWS_ONLY .. "test_*.c")) do
    project(path.getbasename(f))
      kind "ConsoleApp"
      common()
      files { f, WINDOWS_ONLY .. "fake_etw.c", WINDOWS_ONLY .. "fake_etw.h" }
      files(TEST_LIB)
      includedirs { "tests/lib", WINDOWS_ONLY, "engine/sources/etw" }
      buildoptions { "-DLUA_DIR='\"" .. os.getcwd() .. "/lua\"'" }
      links { "etwl" }
      use_pkg(DEPS .. " cmocka")
      links(WIN_SYSLIBS)
  end
end
