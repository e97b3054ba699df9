---@meta etw
-- LuaLS (lua-language-server) definitions for the `etw` module of etwlua.
-- Point your editor's "workspace.library" at etwlua's lua/meta directory to
-- get completion and type checks in rules and scripts.  This file is never
-- executed; etwlua implements the module in C.

---@class etw
---@field version string etwlua's version
local etw = {}

---@alias etw.level
---| "critical" | "error" | "warning" | "information" | "verbose"
---| 1 | 2 | 3 | 4 | 5

---A declarative filter, compiled into a C predicate: events it rejects never
---reach Lua.  Every key is optional; all given keys must match.
---@class etw.Filter
---@field provider? string provider name (case-insensitive), GUID "{...}", or tracefs "system:event"
---@field id? integer|integer[] event id, or a list of ids
---@field opcode? integer
---@field task? integer
---@field version? integer
---@field level? etw.level the most verbose level wanted (events at or below it pass)
---@field keyword_any? integer at least one of these keyword bits
---@field keyword_all? integer all of these keyword bits
---@field pid? integer process id in the event header
---@field process? string image name of the event's process, e.g. "powershell.exe" (case-insensitive)
---@field where? fun(ev: etw.Event): boolean a Lua predicate, run after the C filter

---Extended data items; each is nil when the event does not carry it.
---@class etw.Ext
---@field session_id? integer terminal session id (TS_ID)
---@field activity_id? string related activity GUID
---@field user_sid? string "S-1-5-18"
---@field instance_info? {id: integer, parent_id: integer, parent_guid: string}
---@field stacktrace? {matched_id: integer, addresses: integer[]}
---@field process_start_key? integer unique per boot (ETW PROCESS_START_KEY)
---@field event_key? integer groups related events (ETW EVENT_KEY)

---The header fields, also reachable directly on the event.
---@class etw.Header
---@field id integer
---@field version integer
---@field channel integer
---@field level integer
---@field opcode integer
---@field task integer
---@field keyword integer 64-bit keyword (bit 63 shows as a negative integer)
---@field pid integer
---@field tid integer
---@field ts string RFC 3339 UTC with 100 ns precision
---@field filetime integer 100 ns ticks since 1601-01-01 UTC
---@field provider string provider name (tracefs: the system), or its GUID when the name is unknown
---@field event_name? string tracefs event, or the ETW/EVTX event or task name
---@field record_id? integer EVTX EventRecordID
---@field channel_name? string EVTX channel, e.g. "Security"
---@field computer? string EVTX computer name
---@field provider_guid string
---@field activity_guid string
---@field flags integer EVENT_HEADER flags
---@field cpu? integer processor number, when known
---@field kernel_time integer
---@field user_time integer
---@field processor_time integer
---@field source? etw.Source where a replayed event was read; nil live

---Where a replayed event was read (ev.source); one of record, line, offset.
---@class etw.Source
---@field file string the file's path as -r named it ("<stdin>" for standard input)
---@field record? integer EVTX: the record number of the file's record header
---@field line? integer JSON lines: the line, from 1
---@field offset? integer ETL: the event's byte offset in the (uncompressed) trace

---Process information from etwlua's process table.
---@class etw.Process
---@field pid integer
---@field ppid integer
---@field image? string full image path
---@field name? string image file name, e.g. "cmd.exe"
---@field command_line? string
---@field user? string user name or SID
---@field integrity? string integrity level, e.g. "High"
---@field start_time? string RFC 3339
---@field start_filetime? integer
---@field exit_time? string RFC 3339, once it exited
---@field exit_code? integer
---@field session_id? integer
---@field parent? etw.Process the parent, when known
local Process = {}

---Iterates over the ancestors, parent first.
---@return fun(): etw.Process?
function Process:ancestors() end

---An event.  Valid only inside the handler it was passed to: any use after
---the handler returns (including through a kept ev.info) raises
---"expired event".  Copy what you need with ev:totable().
---@class etw.Event: etw.Header
---@field header etw.Header a view of the header
---@field info table<string, any> the properties, decoded on first read; missing ones are nil
---@field ext etw.Ext a view of the extended data
---@field process? etw.Process the event's process, from the process table
local Event = {}

---The event as one JSON line, in etwlua's JSON-lines shape.
---@return string
function Event:json() end

---The name an ETW value map or bitmap gives a property's number, e.g.
---ev:mapname("Status") --> "Running" while ev.info.Status is 3; bitmaps give
---"Read|Write".  nil when the property has no map (or no name for the value).
---Maps are looked up on first use and cached for the session.
---@param property string
---@return string|nil
function Event:mapname(property) end

---A plain Lua copy ({header=..., info=..., ext=...}) that may be kept.
---@return {header: etw.Header, info: table<string, any>, ext: etw.Ext}
function Event:totable() end

---Registers a handler.  Handlers run in registration order, scripts in the
---order they were loaded.
---@param filter etw.Filter
---@param fn fun(ev: etw.Event)
---@return integer handle
---@overload fun(fn: fun(ev: etw.Event)): integer
function etw.on(filter, fn) end

---@alias etw.severity "info" | "low" | "medium" | "high" | "critical"

---@class etw.Alert
---@field rule string a stable rule id
---@field title? string
---@field severity? etw.severity default "medium"
---@field technique? string|string[] ATT&CK technique ids, e.g. "T1059.001"
---@field message? string
---@field event? etw.Event the event that triggered it (must be the current one)
---@field fields? table<string, string|number|boolean|table> extra data

---Writes one alert: a JSON line when stdout is not a terminal, a readable
---line when it is.
---@param alert etw.Alert
function etw.alert(alert) end

---Runs fn once before the first event.
---@param fn fun()
function etw.on_start(fn) end

---Runs fn once after the last event.
---@param fn fun()
function etw.on_stop(fn) end

---Runs fn every `seconds` of event time (replays are repeatable).
---@param seconds number
---@param fn fun()
function etw.every(seconds, fn) end

---@class etw.HandlerStats
---@field origin string "script.lua:12"
---@field calls integer
---@field errors integer
---@field budget_stops integer

---@class etw.Stats
---@field read integer
---@field passed integer
---@field filtered integer
---@field malformed integer
---@field lost integer events the source lost
---@field buffers_lost integer ETW: whole buffers lost (real-time and log); 0 elsewhere
---@field buffers_written integer ETW: buffers the session wrote; 0 elsewhere
---@field alerts integer
---@field errors integer
---@field memory integer bytes used by the Lua state
---@field handlers etw.HandlerStats[]

---Session and scripting statistics.
---@return etw.Stats
function etw.stats() end

return etw
