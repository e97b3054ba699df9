-- Windows credential access, discovery, persistence, lateral movement,
-- privilege escalation and impact.
local rules = require "etwlua.rules"
local m = require "etwlua.match"

local function cl(p) return p.cl end
local shells = m.set { "cmd.exe", "powershell.exe", "pwsh.exe", "wscript.exe", "cscript.exe", "mshta.exe",
                       "rundll32.exe", "regsvr32.exe" }

rules.define {
  id = "win.lsass_dump_procdump", platform = "windows", severity = "critical",
  needs = { command_line = { "lsass" } },
  title = "LSASS memory dumped with procdump",
  description = "procdump -ma lsass writes the credential store to disk.",
  technique = { "T1003.001" },
  falsepositives = { "Support engineers capturing an LSASS crash (rare, planned)" },
  match = function(p)
    local c = cl(p)
    return (p.name == "procdump.exe" or p.name == "procdump64.exe" or c:find("procdump")) and c:find("lsass") ~= nil
  end,
  examples = {
    positive = { { image = [[C:\Tools\procdump64.exe]], command_line = [[procdump64.exe -accepteula -ma lsass.exe C:\t\l.dmp]] } },
    negative = { { image = [[C:\Tools\procdump64.exe]], command_line = [[procdump64.exe -ma w3wp.exe]] },
                 { image = [[C:\Windows\System32\tasklist.exe]], command_line = [[tasklist /fi "imagename eq lsass.exe"]] } },
  },
}

rules.define {
  id = "win.comsvcs_minidump", platform = "windows", severity = "critical",
  needs = { command_line = { "comsvcs" } },
  title = "LSASS dumped through comsvcs.dll MiniDump",
  description = "rundll32 comsvcs.dll, MiniDump <pid> dumps a process with a signed DLL, usually LSASS.",
  technique = { "T1003.001", "T1218.011" },
  falsepositives = { "None known" },
  match = function(p) local c = cl(p) return c:find("comsvcs") and c:find("minidump") ~= nil end,
  examples = {
    positive = { { image = [[C:\Windows\System32\rundll32.exe]],
                   command_line = [[rundll32.exe C:\windows\System32\comsvcs.dll, MiniDump 624 C:\t\l.dmp full]] },
                 { image = [[C:\Windows\System32\rundll32.exe]], command_line = [[rundll32 comsvcs.dll #24 624 x.dmp full]] } },
    negative = { { image = [[C:\Windows\System32\rundll32.exe]], command_line = [[rundll32 comsvcs.dll,Register]] },
                 { image = [[C:\Windows\System32\dllhost.exe]], command_line = [[dllhost.exe /Processid:{x}]] } },
  },
}
-- comsvcs by ordinal: #24 is MiniDump
rules.by_id["win.comsvcs_minidump"].match = function(p)
  local c = cl(p)
  return c:find("comsvcs") ~= nil and (c:find("minidump") or c:find("#%+?0*24[^%d]") or c:find("#%+?0*24$")) ~= nil
end

local mimi = m.wildcards { "*sekurlsa::*", "*lsadump::*", "*kerberos::*", "*privilege::debug*", "*crypto::*",
                           "*token::elevate*", "*misc::memssp*", "*dpapi::*", "*invoke-mimikatz*" }
rules.define {
  id = "win.mimikatz_command_line", platform = "windows", severity = "critical",
  needs = { command_line = { "sekurlsa::", "lsadump::", "kerberos::", "privilege::debug", "crypto::",
    "token::elevate", "misc::memssp", "dpapi::", "invoke-mimikatz" } },
  title = "Mimikatz commands on a command line",
  description = "module::command syntax (sekurlsa::logonpasswords, lsadump::dcsync...) is Mimikatz.",
  technique = { "T1003", "T1558" },
  falsepositives = { "Red-team exercises" },
  match = function(p) return mimi(p.command_line) end,
  examples = {
    positive = { { image = [[C:\Users\bob\m.exe]], command_line = [[m.exe privilege::debug sekurlsa::logonpasswords exit]] },
                 { image = [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]],
                   command_line = [[powershell IEX(...); Invoke-Mimikatz -DumpCreds]] } },
    negative = { { image = [[C:\Windows\System32\cmd.exe]], command_line = [[cmd /c echo a::b]] },
                 { image = [[C:\Windows\System32\klist.exe]], command_line = [[klist tickets]] } },
  },
}

local hives = { ["hklm\\sam"] = true, ["hklm\\security"] = true, ["hklm\\system"] = true }
rules.define {
  id = "win.registry_hive_saved", platform = "windows", severity = "high",
  names = { "reg.exe" },
  title = "SAM, SECURITY or SYSTEM hive saved to a file",
  description = "reg save of SAM/SECURITY/SYSTEM gives offline access to local hashes and LSA secrets.",
  technique = { "T1003.002", "T1003.004" },
  falsepositives = { "Backup software using reg.exe" },
  match = function(p)
    -- the hive itself, never a subkey: "reg export hklm\system\currentcontrolset\services\x" is routine
    if not p.command_line then return false end
    local a = p.args
    local verb = (a[2] or ""):lower()
    if verb ~= "save" and verb ~= "export" then return false end
    local key = (a[3] or ""):lower():gsub("^hkey_local_machine", "hklm"):gsub("\\+$", "")
    return hives[key] ~= nil, "reg " .. verb .. " " .. tostring(a[3])
  end,
  examples = {
    positive = { { image = [[C:\Windows\System32\reg.exe]], command_line = [[reg save HKLM\SAM C:\t\sam.save]] },
                 { image = [[C:\Windows\System32\reg.exe]], command_line = [[reg.exe save hklm\system system.hiv /y]] } },
    negative = { { image = [[C:\Windows\System32\reg.exe]], command_line = [[reg query HKLM\SYSTEM\CurrentControlSet]] },
                 { image = [[C:\Windows\System32\reg.exe]], command_line = [[reg save HKCU\Software\App a.hiv]] },
                 { image = [[C:\Windows\System32\reg.exe]],
                   command_line = [[reg export HKLM\SYSTEM\CurrentControlSet\Services\Tcpip tcpip.reg]] },
                 { image = [[C:\Windows\System32\reg.exe]], command_line = [[reg save HKLM\SOFTWARE\App a.hiv]] } },
  },
}

rules.define {
  id = "win.ntds_extraction", platform = "windows", severity = "critical",
  needs = { name = { "ntdsutil.exe" }, command_line = { "ntds.dit" } },
  title = "Active Directory database copied out",
  description = "ntdsutil \"ac i ntds\" ifm, or copying ntds.dit from a shadow copy, extracts every domain hash.",
  technique = { "T1003.003" },
  falsepositives = { "Planned IFM media creation for new domain controllers" },
  match = function(p)
    local c = cl(p)
    return (p.name == "ntdsutil.exe" and c:find("ifm")) or (c:find("ntds%.dit") and (c:find("copy") or c:find("harddiskvolumeshadowcopy")))
  end,
  examples = {
    positive = { { image = [[C:\Windows\System32\ntdsutil.exe]], command_line = [[ntdsutil "ac i ntds" ifm "create full c:\t" q q]] },
                 { image = [[C:\Windows\System32\cmd.exe]],
                   command_line = [[cmd /c copy \\?\GLOBALROOT\Device\HarddiskVolumeShadowCopy1\Windows\NTDS\ntds.dit C:\t\]] } },
    negative = { { image = [[C:\Windows\System32\ntdsutil.exe]], command_line = [[ntdsutil "metadata cleanup" q]] },
                 { image = [[C:\Windows\System32\cmd.exe]], command_line = [[cmd /c copy a.txt b.txt]] } },
  },
}

local system_user = m.wildcards { "*\\system", "system", "s-1-5-18", "*\\système", "*\\sistema" }
rules.define {
  id = "win.whoami_as_system", platform = "windows", severity = "high",
  names = { "whoami.exe" },
  title = "whoami run as SYSTEM",
  description = "Right after a privilege escalation, attackers check who they are; services never need to.",
  technique = { "T1033" },
  falsepositives = { "Inventory agents running as SYSTEM" },
  match = function(p) return system_user(p.user) or p.integrity == "System" end,
  examples = {
    positive = { { image = [[C:\Windows\System32\whoami.exe]], command_line = "whoami", user = [[NT AUTHORITY\SYSTEM]],
                   integrity = "System" } },
    negative = { { image = [[C:\Windows\System32\whoami.exe]], command_line = "whoami /all", user = [[CORP\bob]] },
                 { image = [[C:\Windows\System32\hostname.exe]], user = [[NT AUTHORITY\SYSTEM]], integrity = "System" } },
  },
}

rules.define {
  id = "win.domain_trust_discovery", platform = "windows", severity = "medium",
  needs = { name = { "nltest.exe", "adfind.exe" }, command_line = { "adfind" } },
  title = "Domain trusts and controllers enumerated",
  description = "nltest /domain_trusts, /dclist and AdFind trust queries map the forest for lateral movement.",
  technique = { "T1482", "T1018" },
  falsepositives = { "Domain admins troubleshooting" },
  match = function(p)
    local c = cl(p)
    return (p.name == "nltest.exe" and (c:find("domain_trusts") or c:find("dclist") or c:find("all_trusts"))) or
      (p.name == "adfind.exe" or c:find("adfind")) and (c:find("trustdmp") or c:find("objectcategory")) ~= nil
  end,
  examples = {
    positive = { { image = [[C:\Windows\System32\nltest.exe]], command_line = [[nltest /domain_trusts /all_trusts]] },
                 { image = [[C:\Users\bob\adfind.exe]], command_line = [[adfind.exe -f "(objectcategory=person)"]] } },
    negative = { { image = [[C:\Windows\System32\nltest.exe]], command_line = [[nltest /sc_query:corp]] },
                 { image = [[C:\Windows\System32\net.exe]], command_line = [[net use]] } },
  },
}

rules.define {
  id = "win.privileged_group_discovery", platform = "windows", severity = "low",
  names = { "net.exe", "net1.exe" },
  title = "Privileged domain groups listed",
  description = "net group \"Domain Admins\" /domain and similar show whom to target.",
  technique = { "T1069.002" },
  falsepositives = { "Help desk checks" },
  match = function(p)
    local c = cl(p)
    return c:find(" group") and c:find("/do") and
      (c:find("admins") or c:find("enterprise")) ~= nil
  end,
  examples = {
    positive = { { image = [[C:\Windows\System32\net.exe]], command_line = [[net group "Domain Admins" /domain]] } },
    negative = { { image = [[C:\Windows\System32\net.exe]], command_line = [[net group "Sales" /domain]] },
                 { image = [[C:\Windows\System32\net.exe]], command_line = [[net localgroup]] } },
  },
}

local bad_task = m.wildcards { "*powershell*", "*cmd*/c*", "*http*", "*\\appdata\\*", "*\\temp\\*", "*\\users\\public\\*",
                               "*mshta*", "*rundll32*", "*regsvr32*", "*wscript*", "*cscript*" }
rules.define {
  id = "win.schtasks_suspicious_create", platform = "windows", severity = "high",
  names = { "schtasks.exe" },
  title = "Scheduled task created to run a shell, script or user-folder binary",
  description = "schtasks /create with /tr pointing at PowerShell, cmd, a URL or a user-writable folder is a "
    .. "persistence and lateral-movement staple.",
  technique = { "T1053.005" },
  falsepositives = { "Software installers that schedule their updater from ProgramData" },
  match = function(p)
    local c = cl(p)
    local tr = c:match("/tr%s+(.+)")
    return c:find("/create") ~= nil and tr ~= nil and bad_task(tr)
  end,
  examples = {
    positive = { { image = [[C:\Windows\System32\schtasks.exe]],
                   command_line = [[schtasks /create /sc minute /tn upd /tr "powershell -w hidden -c iex(...)"]] },
                 { image = [[C:\Windows\System32\schtasks.exe]],
                   command_line = [[schtasks /Create /SC ONLOGON /TN x /TR C:\Users\bob\AppData\Roaming\x.exe]] } },
    negative = { { image = [[C:\Windows\System32\schtasks.exe]],
                   command_line = [[schtasks /create /tn backup /tr "C:\Program Files\Backup\run.exe" /sc daily]] },
                 { image = [[C:\Windows\System32\schtasks.exe]], command_line = [[schtasks /query /fo list]] } },
  },
}

rules.define {
  id = "win.service_created_suspicious", platform = "windows", severity = "high",
  names = { "sc.exe" },
  title = "Service created to run a shell or a user-folder binary",
  description = "sc create/config with binPath= pointing at cmd, PowerShell or a user-writable folder installs "
    .. "persistence or a one-shot SYSTEM command.",
  technique = { "T1543.003", "T1569.002" },
  falsepositives = { "Installers writing services under ProgramData" },
  match = function(p)
    local c = cl(p)
    local bp = c:match("binpath=%s*(.+)")
    return (c:find(" create ") or c:find(" config ")) ~= nil and bp ~= nil and bad_task(bp)
  end,
  examples = {
    positive = { { image = [[C:\Windows\System32\sc.exe]],
                   command_line = [[sc create upd binPath= "cmd.exe /c powershell -enc AAAA" start= auto]] },
                 { image = [[C:\Windows\System32\sc.exe]], command_line = [[sc config spooler binpath= C:\Users\Public\x.exe]] } },
    negative = { { image = [[C:\Windows\System32\sc.exe]],
                   command_line = [[sc create vendor binPath= "C:\Program Files\Vendor\svc.exe"]] },
                 { image = [[C:\Windows\System32\sc.exe]], command_line = [[sc query spooler]] } },
  },
}

rules.define {
  id = "win.run_key_added_cli", platform = "windows", severity = "medium",
  needs = { command_line = { "currentversion\\run" } },
  title = "Run key set from the command line",
  description = "reg add ...\\CurrentVersion\\Run(Once) makes a program start at every logon.",
  technique = { "T1547.001" },
  falsepositives = { "Installers using reg.exe" },
  match = function(p)
    local c = cl(p)
    return (p.name == "reg.exe" and c:find(" add ") or c:find("set%-itemproperty") or c:find("new%-itemproperty")) and
      (c:find("currentversion\\run\"?%s") or c:find("currentversion\\runonce") or c:find("currentversion\\run$")
       or c:find("currentversion\\run /")) ~= nil
  end,
  examples = {
    positive = { { image = [[C:\Windows\System32\reg.exe]],
                   command_line = [[reg add HKCU\Software\Microsoft\Windows\CurrentVersion\Run /v upd /d C:\t\x.exe /f]] },
                 { image = [[C:\Windows\System32\reg.exe]],
                   command_line = [[reg add "HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\RunOnce" /v a /d b]] } },
    negative = { { image = [[C:\Windows\System32\reg.exe]],
                   command_line = [[reg query HKCU\Software\Microsoft\Windows\CurrentVersion\Run]] },
                 { image = [[C:\Windows\System32\reg.exe]], command_line = [[reg add HKCU\Software\App /v x /d 1]] } },
  },
}

rules.define {
  id = "win.account_created_or_elevated", platform = "windows", severity = "high",
  names = { "net.exe", "net1.exe" },
  title = "Local account created or added to Administrators",
  description = "net user /add and net localgroup administrators /add create a foothold account.",
  technique = { "T1136.001", "T1098" },
  falsepositives = { "Provisioning scripts" },
  match = function(p)
    local c = cl(p)
    return c:find("/add") ~= nil and
      (c:find(" user ") or c:find("localgroup") and c:find("admin")) ~= nil
  end,
  examples = {
    positive = { { image = [[C:\Windows\System32\net.exe]], command_line = [[net user support P@ss /add]] },
                 { image = [[C:\Windows\System32\net1.exe]], command_line = [[net1 localgroup administrators support /add]] } },
    negative = { { image = [[C:\Windows\System32\net.exe]], command_line = [[net user bob]] },
                 { image = [[C:\Windows\System32\net.exe]], command_line = [[net localgroup "Remote Desktop Users"]] } },
  },
}

local psexec_names = m.set { "psexesvc.exe", "remcomsvc.exe", "paexec.exe", "csexecsvc.exe" }
rules.define {
  id = "win.psexec_style_service", platform = "windows", severity = "high",
  needs = { name = psexec_names,
    parent_name = { "psexesvc.exe", "remcomsvc.exe", "paexec.exe", "csexecsvc.exe", "services.exe" } },
  title = "PsExec-style remote service execution",
  description = "PSEXESVC and its clones run commands as a service pushed over ADMIN$; services.exe starting "
    .. "cmd with output redirected to ADMIN$ is the Impacket smbexec pattern.",
  technique = { "T1569.002", "T1021.002" },
  falsepositives = { "Admins using PsExec" },
  match = function(p)
    local c = cl(p)
    return psexec_names[p.name or ""] or psexec_names[p.parent_name or ""] or
      (p.parent_name == "services.exe" and shells[p.name or ""] and (c:find("admin%$") or c:find("\\\\127%.0%.0%.1\\")))
  end,
  examples = {
    positive = { { image = [[C:\Windows\PSEXESVC.exe]], parent_image = [[C:\Windows\System32\services.exe]] },
                 { image = [[C:\Windows\System32\cmd.exe]], parent_image = [[C:\Windows\System32\services.exe]],
                   command_line = [[cmd.exe /Q /c echo whoami ^> \\127.0.0.1\C$\__output > %TEMP%\execute.bat]] } },
    negative = { { image = [[C:\Windows\System32\svchost.exe]], parent_image = [[C:\Windows\System32\services.exe]] },
                 { image = [[C:\Windows\System32\cmd.exe]], parent_image = [[C:\Windows\explorer.exe]] } },
  },
}

rules.define {
  id = "win.winrm_spawns_shell", platform = "windows", severity = "medium",
  needs = { parent_name = { "wsmprovhost.exe" } },
  title = "WinRM host starts a shell",
  description = "wsmprovhost.exe is the server side of PowerShell remoting; its children are remote commands.",
  technique = { "T1021.006" },
  falsepositives = { "Legitimate remote administration" },
  match = function(p) return p.parent_name == "wsmprovhost.exe" and shells[p.name or ""] end,
  examples = {
    positive = { { image = [[C:\Windows\System32\cmd.exe]], parent_image = [[C:\Windows\System32\wsmprovhost.exe]] } },
    negative = { { image = [[C:\Windows\System32\cmd.exe]], parent_image = [[C:\Windows\explorer.exe]] },
                 { image = [[C:\Windows\System32\wsmprovhost.exe]], parent_image = [[C:\Windows\System32\svchost.exe]] } },
  },
}

local uac_parents = m.set { "fodhelper.exe", "eventvwr.exe", "sdclt.exe", "computerdefaults.exe", "slui.exe",
                            "wsreset.exe", "changepk.exe" }
local uac_expected = { ["eventvwr.exe"] = m.set { "mmc.exe" }, ["sdclt.exe"] = m.set { "control.exe", "sdclt.exe" },
                       ["slui.exe"] = m.set { "slui.exe" } }
rules.define {
  id = "win.uac_bypass_parent", platform = "windows", severity = "high",
  needs = { parent_name = uac_parents },
  title = "Auto-elevating binary starts an unexpected child (UAC bypass)",
  description = "fodhelper, eventvwr, sdclt, computerdefaults and wsreset read a hijackable registry key and "
    .. "start it elevated without a prompt.",
  technique = { "T1548.002" },
  falsepositives = { "None known" },
  match = function(p)
    local par = p.parent_name
    if not par or not uac_parents[par] then return false end
    local ok = uac_expected[par]
    return not (ok and ok[p.name or ""])
  end,
  examples = {
    positive = { { image = [[C:\Windows\System32\cmd.exe]], parent_image = [[C:\Windows\System32\fodhelper.exe]] },
                 { image = [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]],
                   parent_image = [[C:\Windows\System32\eventvwr.exe]] } },
    negative = { { image = [[C:\Windows\System32\mmc.exe]], parent_image = [[C:\Windows\System32\eventvwr.exe]] },
                 { image = [[C:\Windows\System32\cmd.exe]], parent_image = [[C:\Windows\explorer.exe]] } },
  },
}

rules.define {
  id = "win.shadow_copy_deletion", platform = "windows", severity = "critical",
  needs = { command_line = { "vssadmin", "shadowcopy" } },
  title = "Volume shadow copies deleted",
  description = "vssadmin delete shadows, wmic shadowcopy delete and Win32_ShadowCopy removal come right before "
    .. "ransomware encrypts.",
  technique = { "T1490" },
  falsepositives = { "Storage maintenance (rare from the command line)" },
  match = function(p)
    local c = cl(p)
    return (c:find("vssadmin") and c:find("delete") and c:find("shadows")) or
      (c:find("shadowcopy") and c:find("delete")) or (c:find("win32_shadowcopy") and c:find("delete")) or
      (c:find("vssadmin") and c:find("resize") and c:find("shadowstorage"))
  end,
  examples = {
    positive = { { image = [[C:\Windows\System32\vssadmin.exe]], command_line = [[vssadmin.exe Delete Shadows /All /Quiet]] },
                 { image = [[C:\Windows\System32\wbem\WMIC.exe]], command_line = [[wmic shadowcopy delete]] } },
    negative = { { image = [[C:\Windows\System32\vssadmin.exe]], command_line = [[vssadmin list shadows]] },
                 { image = [[C:\Windows\System32\vssadmin.exe]], command_line = [[vssadmin create shadow /for=C:]] } },
  },
}

rules.define {
  id = "win.recovery_disabled", platform = "windows", severity = "high",
  names = { "bcdedit.exe", "wbadmin.exe" },
  title = "Boot recovery or backups disabled",
  description = "bcdedit recoveryenabled no / bootstatuspolicy ignoreallfailures and wbadmin delete catalog stop "
    .. "the victim from restoring.",
  technique = { "T1490" },
  falsepositives = { "Kiosk hardening" },
  match = function(p)
    local c = cl(p)
    local hit = (p.name == "bcdedit.exe" and (c:find("recoveryenabled%s+no") or c:find("ignoreallfailures"))) or
      (p.name == "wbadmin.exe" and c:find("delete") and (c:find("catalog") or c:find("systemstatebackup")))
    return hit ~= nil and hit ~= false
  end,
  examples = {
    positive = { { image = [[C:\Windows\System32\bcdedit.exe]], command_line = [[bcdedit /set {default} recoveryenabled No]] },
                 { image = [[C:\Windows\System32\wbadmin.exe]], command_line = [[wbadmin delete catalog -quiet]] } },
    negative = { { image = [[C:\Windows\System32\bcdedit.exe]], command_line = [[bcdedit /enum]] },
                 { image = [[C:\Windows\System32\wbadmin.exe]], command_line = [[wbadmin get versions]] } },
  },
}
