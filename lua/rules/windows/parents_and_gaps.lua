-- Windows process starts: unusual parents of shells (UAC bypasses, exploited
-- services, installers), and small LOLBAS and tampering shapes.
local rules = require "etwlua.rules"
local m = require "etwlua.match"

local function cl(p) return p.cl end
local S32 = [[C:\Windows\System32\]]
local function X(name, command_line, parent, extra)
  local t = { image = name:find("\\", 1, true) and name or S32 .. name, command_line = command_line,
              parent_image = parent }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end
local shells = m.set { "cmd.exe", "powershell.exe", "pwsh.exe" }
local function elevated(p)
  local i = (p.integrity or ""):lower()
  return i == "high" or i == "system"
end

-- binaries that auto-elevate or broker elevation, and never start a shell
local uac_hosts = m.set { "consent.exe", "dllhost.exe", "mmc.exe", "werfault.exe", "dism.exe", "pkgmgr.exe",
                          "taskmgr.exe", "clipup.exe", "msconfig.exe", "cliconfg.exe", "wusa.exe", "ieinstal.exe",
                          "eventvwr.exe", "computerdefaults.exe", "sdclt.exe", "slui.exe", "changepk.exe",
                          "perfmon.exe", "recdisc.exe", "migwiz.exe", "sysprep.exe", "[1]consent.exe" }
rules.define {
  id = "win.elevated_shell_from_uac_host", platform = "windows", severity = "high",
  needs = { parent_name = uac_hosts },
  names = { "cmd.exe", "powershell.exe", "pwsh.exe" },
  title = "Elevated shell started by an auto-elevating Windows binary",
  description = "consent, dllhost (COM elevation), mmc, WerFault, dism, taskmgr, clipup... starting cmd or "
    .. "PowerShell at high integrity is a UAC bypass (UACME and friends) handing out an elevated shell.",
  technique = { "T1548.002" },
  falsepositives = { "Administrators opening a shell from an MMC snap-in or Task Manager's Run new task" },
  match = function(p)
    return uac_hosts[p.parent_name or ""] and elevated(p) and true or false,
      tostring(p.parent_name) .. " started " .. tostring(p.name)
  end,
  examples = {
    positive = { X("cmd.exe", [["C:\Windows\system32\cmd.exe"]], [[C:\Windows\System32\dllhost.exe]], { integrity = "High" }),
                 X("cmd.exe", [["C:\Windows\system32\cmd.exe"]], [[C:\Windows\System32\consent.exe]], { integrity = "System" }) },
    negative = { X("cmd.exe", [["C:\Windows\system32\cmd.exe"]], [[C:\Windows\System32\mmc.exe]], { integrity = "Medium" }),
                 X("cmd.exe", [[cmd.exe]], [[C:\Windows\explorer.exe]], { integrity = "High" }) },
  },
}

local odd_parents = m.set { "hh.exe", "wuauclt.exe", "ftp.exe", "iexplore.exe", "winrshost.exe", "vshadow.exe",
                            "scrcons.exe", "smss.exe", "winlogon.exe", "mshta.exe", "msdt.exe", "searchprotocolhost.exe",
                            "lsass.exe", "spoolsv.exe", "dwm.exe", "fontdrvhost.exe", "wininit.exe", "jabber.exe",
                            "regsvr32.exe", "odbcconf.exe", "msiexec.exe" }
rules.define {
  id = "win.shell_from_unusual_parent", platform = "windows", severity = "high",
  needs = { parent_name = odd_parents },
  names = { "cmd.exe", "powershell.exe", "pwsh.exe" },
  title = "Shell started by a program that has no reason to start one",
  description = "cmd or PowerShell under Compiled HTML Help, wuauclt, ftp, Internet Explorer, WinRM's winrshost, "
    .. "smss, winlogon, mshta, regsvr32 or the WMI script host is exploitation or proxy execution.",
  technique = { "T1059.003", "T1218", "T1203" },
  falsepositives = { "msiexec custom actions running batch files during installs" },
  match = function(p)
    if not odd_parents[p.parent_name or ""] then return false end
    -- Windows Installer runs custom actions through cmd now and then; only a user-folder package is odd
    if p.parent_name == "msiexec.exe" then return false end
    return true, tostring(p.parent_name) .. " started " .. tostring(p.name)
  end,
  examples = {
    positive = { X("cmd.exe", [["C:\Windows\System32\cmd.exe" /c copy /Y C:\Windows\system32\rundll32.exe %TEMP%\out.exe]],
                   [[C:\Windows\hh.exe]]),
                 X("cmd.exe", [[C:\Windows\system32\cmd.exe /C ipconfig]], [[C:\Windows\System32\winrshost.exe]]),
                 X("cmd.exe", [[cmd]], [[C:\Windows\System32\winlogon.exe]], { integrity = "System" }) },
    negative = { X("cmd.exe", [[cmd /c build.bat]], [[C:\Windows\explorer.exe]]),
                 X("cmd.exe", [[cmd /c x.bat]], [[C:\Windows\System32\msiexec.exe]]) },
  },
}

rules.define {
  id = "win.installer_temp_binary_spawns_shell", platform = "windows", severity = "high",
  needs = { parent_image = { "\\windows\\installer\\msi" } },
  names = { "cmd.exe", "powershell.exe", "pwsh.exe" },
  title = "Windows Installer custom-action binary starts a shell",
  description = "C:\\Windows\\Installer\\MSI*.tmp starting cmd or PowerShell is a malicious MSI's payload "
    .. "(msfvenom -f msi, AppLocker bypasses).",
  technique = { "T1218.007" },
  falsepositives = { "Installers whose custom actions shell out" },
  match = function(p)
    local par = (p.parent_image or ""):lower()
    return par:find("\\windows\\installer\\msi[%w]+%.tmp$") ~= nil
  end,
  examples = {
    positive = { X("cmd.exe", [[cmd]], [[C:\Windows\Installer\MSI4FFD.tmp]]) },
    negative = { X("cmd.exe", [[cmd]], [[C:\Windows\System32\msiexec.exe]]),
                 X("notepad.exe", [[notepad]], [[C:\Windows\Installer\MSI4FFD.tmp]]) },
  },
}

rules.define {
  id = "win.wmi_script_consumer_host", platform = "windows", severity = "high",
  names = { "scrcons.exe" },
  title = "WMI ActiveScript consumer host started",
  description = "scrcons.exe only runs when an ActiveScriptEventConsumer fires: VBScript or JScript persistence "
    .. "in WMI.",
  technique = { "T1546.003" },
  falsepositives = { "Legacy monitoring that uses script consumers" },
  match = function(p) return true end, -- any start of scrcons.exe (names)
  examples = {
    positive = { X([[C:\Windows\system32\wbem\scrcons.exe]], [[C:\Windows\system32\wbem\scrcons.exe -Embedding]],
                   [[C:\Windows\System32\svchost.exe]]) },
    negative = { X([[C:\Windows\system32\wbem\WmiPrvSE.exe]], [[wmiprvse.exe -Embedding]], [[C:\Windows\System32\svchost.exe]]) },
  },
}

rules.define {
  id = "win.mshta_dcom_embedding", platform = "windows", severity = "high",
  names = { "mshta.exe" },
  title = "mshta started through DCOM",
  description = "mshta.exe -Embedding under svchost is the HTA application object activated remotely "
    .. "(LethalHTA lateral movement).",
  technique = { "T1021.003", "T1218.005" },
  falsepositives = { "None known" },
  match = function(p) return cl(p):find("%-embedding") ~= nil end,
  examples = {
    positive = { X("mshta.exe", [[C:\Windows\System32\mshta.exe -Embedding]], [[C:\Windows\System32\svchost.exe]]) },
    negative = { X("mshta.exe", [[mshta.exe C:\apps\a.hta]], [[C:\Windows\explorer.exe]]) },
  },
}

rules.define {
  id = "win.winrm_session_child", platform = "windows", severity = "medium",
  needs = { parent_name = { "wsmprovhost.exe" } },
  title = "Program started inside a remote PowerShell session",
  description = "Children of wsmprovhost.exe run on behalf of a remote user through WinRM; discovery commands "
    .. "(hostname, whoami, ipconfig, net) there are lateral movement reconnaissance.",
  technique = { "T1021.006" },
  falsepositives = { "Administrators managing servers with Enter-PSSession" },
  match = function(p)
    local n = p.name or ""
    return p.parent_name == "wsmprovhost.exe" and n ~= "conhost.exe" and n ~= "werfault.exe" and not shells[n]
  end,
  examples = {
    positive = { X("HOSTNAME.EXE", [["C:\Windows\system32\HOSTNAME.EXE"]], [[C:\Windows\System32\wsmprovhost.exe]]) },
    negative = { X("conhost.exe", [[conhost.exe 0xffffffff]], [[C:\Windows\System32\wsmprovhost.exe]]),
                 X("HOSTNAME.EXE", [[hostname]], [[C:\Windows\System32\cmd.exe]]) },
  },
}

rules.define {
  id = "win.exec_from_tsclient", platform = "windows", severity = "high",
  needs = { image = { "\\\\tsclient\\" } },
  title = "Program run from the RDP client's drive share",
  description = "\\\\tsclient\\ paths are the connecting client's disks; running a program from there (SharpRDP, "
    .. "startup-folder tricks) executes attacker files on the server.",
  technique = { "T1021.001", "T1570" },
  falsepositives = { "Admins running tools from their own machine over RDP" },
  match = function(p) return (p.image or ""):lower():find("^\\\\tsclient\\") ~= nil end,
  examples = {
    positive = { X([[\\tsclient\c\temp\stack\a.exe]], [["\\tsclient\c\temp\stack\a.exe"]], [[C:\Windows\explorer.exe]]) },
    negative = { X([[\\fileserver\tools\a.exe]], [[a.exe]], [[C:\Windows\explorer.exe]]) },
  },
}

rules.define {
  id = "win.uac_disabled_cli", platform = "windows", severity = "high",
  needs = { command_line = { "policies\\system" } },
  title = "UAC or its secure desktop disabled from the command line",
  description = "EnableLUA=0, ConsentPromptBehaviorAdmin=0 or PromptOnSecureDesktop=0 under Policies\\System turn "
    .. "UAC off or silence it.",
  technique = { "T1548.002", "T1562.001" },
  falsepositives = { "Lab images" },
  match = function(p)
    local c = cl(p)
    return c:find("policies\\system", 1, true) ~= nil and (c:find("enablelua", 1, true) or
      c:find("consentpromptbehavioradmin", 1, true) or c:find("promptonsecuredesktop", 1, true)) ~= nil
      and (c:find("/d%s+0") or c:find("/d%s+0x0") or c:find("%-value%s+0")) ~= nil
  end,
  examples = {
    positive = { X("reg.exe", [[reg  add hklm\software\microsoft\windows\currentversion\policies\system /v EnableLUA /t REG_DWORD /d 0x0 /f]]) },
    negative = { X("reg.exe", [[reg query hklm\software\microsoft\windows\currentversion\policies\system /v EnableLUA]]),
                 X("reg.exe", [[reg add hklm\software\microsoft\windows\currentversion\policies\system /v EnableLUA /d 1 /f]]) },
  },
}

rules.define {
  id = "win.termsrv_or_rdp_tampering", platform = "windows", severity = "high",
  needs = { command_line = { "termsrv.dll", "fdenytsconnections" } },
  title = "RDP service DLL taken over or RDP opened by script",
  description = "takeown/icacls on termsrv.dll (patches allowing concurrent sessions, RDPWrap), or fDenyTSConnections "
    .. "set to 0 from the command line, prepare RDP access.",
  technique = { "T1112", "T1021.001" },
  falsepositives = { "Admins enabling RDP by script" },
  match = function(p)
    local c = cl(p)
    return (c:find("termsrv.dll", 1, true) and (p.name == "takeown.exe" or p.name == "icacls.exe" or c:find("copy", 1, true)))
      or (c:find("fdenytsconnections", 1, true) and (c:find("/d%s+0") or c:find("%-value%s+0"))) or false
  end,
  examples = {
    positive = { X("takeown.exe", [["C:\Windows\System32\takeown.exe" /f  C:\Windows\System32\termsrv.dll]]),
                 X("reg.exe", [[reg add "HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server" /v fDenyTSConnections /t REG_DWORD /d 0 /f]]) },
    negative = { X("reg.exe", [[reg query "HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server" /v fDenyTSConnections]]),
                 X("takeown.exe", [[takeown /f C:\data\x.txt]]) },
  },
}

rules.define {
  id = "win.ssh_reverse_tunnel", platform = "windows", severity = "high",
  needs = { name = { "plink", "ssh.exe" } },
  title = "plink or ssh opens a reverse tunnel",
  description = "plink/ssh -R forwards a port of an outside host back into the network, typically to reach RDP "
    .. "(3389) through a firewall.",
  technique = { "T1572", "T1021.001" },
  falsepositives = { "Developers forwarding ports on purpose" },
  match = function(p)
    local n, c = p.name or "", " " .. cl(p)
    return (n == "plink.exe" or n == "ssh.exe" or n:find("^plink") ~= nil) and c:find("%s%-r%s+[%d%.:]+") ~= nil
  end,
  examples = {
    positive = { X([[C:\Users\a\plink.exe]], [[plink.exe  10.0.2.18 -P 80 -C -R 127.0.0.3:4444:127.0.0.2:3389 -l test -pw test]]) },
    negative = { X([[C:\Users\a\plink.exe]], [[plink.exe -ssh admin@host uptime]]), X("OpenSSH\\ssh.exe", [[ssh git@github.com]]) },
  },
}

rules.define {
  id = "win.attrib_hides_executable", platform = "windows", severity = "medium",
  names = { "attrib.exe" },
  title = "attrib hides an executable or script",
  description = "attrib +h (+s) on .exe, .dll, .ps1 or .bat files hides dropped tools from Explorer and dir.",
  technique = { "T1564.001" },
  falsepositives = { "Installers hiding their helper files" },
  match = function(p)
    local c = cl(p)
    return c:find("%+h") ~= nil and (c:find("%.exe") or c:find("%.dll") or c:find("%.ps1")
      or c:find("%.bat") or c:find("%.vbs") or c:find("%.js%f[%W]")) ~= nil
  end,
  examples = {
    positive = { X("attrib.exe", [[attrib  +h nbtscan.exe]]), X("attrib.exe", [[attrib +s +h C:\Users\Public\a.dll]]) },
    negative = { X("attrib.exe", [[attrib -h C:\x.exe]]), X("attrib.exe", [[attrib +h C:\Users\a\notes.txt]]) },
  },
}

rules.define {
  id = "win.script_host_odd_extension", platform = "windows", severity = "high",
  names = { "wscript.exe", "cscript.exe" },
  title = "Script host runs a file with a non-script extension or an alternate data stream",
  description = "wscript /E:vbs icon.ico, cscript //E:jscript x.txt or a script in an ADS (file:stream.vbs) hide "
    .. "scripts behind harmless names.",
  technique = { "T1059.005", "T1564.004" },
  falsepositives = { "None known" },
  match = function(p)
    local c = cl(p)
    return c:find("/?/e:[%a]*") ~= nil or c:find("\\[^\\:\"]+:[^\\:\"]+%.%a+") ~= nil
  end,
  examples = {
    positive = { X("wscript.exe", [["c:\windows\system32\wscript.exe" /E:vbs c:\windows\temp\icon.ico]]),
                 X("wscript.exe", [[C:\Windows\wscript.exe "C:\Users\IEUser\AppData:tghjx5xz2ky.vbs"]]) },
    negative = { X("cscript.exe", [[cscript //nologo C:\scripts\inv.vbs]]), X("wscript.exe", [[wscript C:\a\b.js]]) },
  },
}

rules.define {
  id = "win.explorer_root_proxy", platform = "windows", severity = "medium",
  names = { "explorer.exe" },
  title = "explorer.exe used to start a program (/root)",
  description = "explorer.exe /root,\"C:\\...\\x.exe\" starts the program with explorer as its parent, breaking "
    .. "process-tree detections.",
  technique = { "T1202" },
  falsepositives = { "Shortcuts that open folders with /root (they name folders, not programs)" },
  match = function(p)
    local c = cl(p)
    return c:find("/root,", 1, true) ~= nil and c:find("%.exe\"?%s*$") ~= nil
  end,
  examples = {
    positive = { X([[C:\Windows\explorer.exe]], [[explorer.exe  /root,"c:\windows\System32\calc.exe"]]) },
    negative = { X([[C:\Windows\explorer.exe]], [[explorer.exe /root,"C:\Users\a\Documents"]]) },
  },
}

rules.define {
  id = "win.wusa_extract_to_protected_dir", platform = "windows", severity = "high",
  names = { "wusa.exe", "makecab.exe" },
  title = "wusa or expand extracts into a Windows folder",
  description = "wusa /extract:C:\\Windows (or makecab of a manifest) plants files in protected folders without a "
    .. "prompt: a classic UAC-bypass step.",
  technique = { "T1548.002" },
  falsepositives = { "None known on current Windows (wusa /extract is removed in Windows 10)" },
  match = function(p)
    local c = cl(p)
    return (p.name == "wusa.exe" and c:find("/extract:%a:\\windows") ~= nil)
      or (p.name == "makecab.exe" and c:find("%.manifest") ~= nil)
  end,
  examples = {
    positive = { X("wusa.exe", [["C:\Windows\system32\wusa.exe"  C:\Users\IEUser\AppData\Local\Temp\uf3huvkczgk.tmp /extract:C:\Windows /quiet]]) },
    negative = { X("wusa.exe", [[wusa.exe C:\updates\kb5000.msu /quiet /norestart]]), X("makecab.exe", [[makecab a.txt a.cab]]) },
  },
}

rules.define {
  id = "win.schtasks_xml_from_user_dir", platform = "windows", severity = "high",
  needs = { command_line = { "/xml" } },
  title = "Scheduled task imported from an XML file in a user folder",
  description = "schtasks /create /xml TEMP\\x.tmp registers a task whose action is not visible on the command "
    .. "line; malware uses it to hide the payload.",
  technique = { "T1053.005" },
  falsepositives = { "Installers importing their own task definitions from Temp" },
  match = function(p)
    local c = cl(p)
    return (p.name == "schtasks.exe" or c:find("schtasks", 1, true) ~= nil) and c:find("/create", 1, true) ~= nil
      and c:find("/xml%s+\"?%a:\\users\\") ~= nil
  end,
  examples = {
    positive = { X("schtasks.exe", [[schtasks  /Create /f /XML C:\Users\IEUser\AppData\Local\Temp\sduchxll.tmp /TN DataUsageHandlers]]) },
    negative = { X("schtasks.exe", [[schtasks /create /xml C:\Program Files\App\task.xml /tn App]]),
                 X("schtasks.exe", [[schtasks /query /xml]]) },
  },
}

rules.define {
  id = "win.script_spawns_user_folder_binary", platform = "windows", severity = "medium",
  needs = { parent_name = { "powershell.exe", "wscript.exe", "cscript.exe", "mshta.exe" } },
  title = "PowerShell or a script host starts a program from Temp or Public",
  description = "A dropper's second stage: PowerShell, wscript, cscript or mshta starting an .exe they just wrote "
    .. "to AppData\\Local\\Temp, Users\\Public or ProgramData.",
  technique = { "T1204.002", "T1105" },
  falsepositives = { "Installer bootstrap scripts" },
  match = function(p)
    local par = p.parent_name or ""
    if par ~= "powershell.exe" and par ~= "wscript.exe" and par ~= "cscript.exe" and par ~= "mshta.exe" then return false end
    local i = (p.image or ""):lower()
    return (i:find("\\appdata\\local\\temp\\", 1, true) or i:find("\\users\\public\\", 1, true)
      or i:find("^%a:\\programdata\\[^\\]+%.exe$")) ~= nil, "started " .. tostring(p.image)
  end,
  examples = {
    positive = { X([[C:\Users\Clippy\AppData\Local\Temp\word\2019\Dyxxur4gx.exe]], [["C:\Users\Clippy\AppData\Local\Temp\word\2019\Dyxxur4gx.exe"]],
                   [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]]) },
    negative = { X([[C:\Program Files\App\a.exe]], [[a.exe]], [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]]),
                 X([[C:\Users\a\AppData\Local\Temp\setup.exe]], [[setup.exe]], [[C:\Windows\explorer.exe]]) },
  },
}
