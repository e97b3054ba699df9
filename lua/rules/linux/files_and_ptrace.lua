-- Linux file writes, deletions and ptrace: the tracefs `file` and `ptrace`
-- providers (docs/linux.md), through the file_event, file_delete and
-- process_access log sources.
--
-- The kernel filters these calls to the watched paths, so every event here
-- already names one.  `target_filename` is the path as the process passed
-- it, made absolute; it is absent when the process was gone before its
-- memory could be read (a one-line `sh -c 'echo ... > FILE'`).  `watch` then
-- still names the family of paths the kernel matched (preload, accounts,
-- sudoers, cron, systemd, ssh_keys, logs, history), and the rules of the
-- narrow families (preload, accounts, sudoers, ssh_keys) alert on it alone;
-- the others need the path.  The process fields come from the process table.
local rules = require "etwlua.rules"
local m = require "etwlua.match"

local function set(list)
  local t = {}
  for _, v in ipairs(list) do t[v] = true end
  return t
end

-- the path of the event, or nil; "unresolved" is true when the kernel saw a
-- path of family `fam` but it could not be read back
local function target(p, fam)
  if p.watch ~= fam then return nil, false end
  return p.target_filename, p.target_filename == nil
end

local function who(p)
  return (p.image or "an unknown process") .. (p.pid and (" (pid " .. p.pid .. ")") or "")
end

local function desc(p, verb)
  return who(p) .. " " .. verb .. " " .. (p.target_filename or ("a watched " .. tostring(p.watch)
    .. " path (the process was gone before the path could be read)"))
end

-- what an opening flag means: O_TRUNC empties the file
local O_TRUNC = 0x200
local function truncating(p)
  return p.operation == "truncate" or (p.operation == "write" and p.flags ~= nil and p.flags & O_TRUNC ~= 0)
end

-- package managers install and update every one of these files
local packagers = set { "dpkg", "apt", "apt-get", "aptitude", "rpm", "dnf", "yum", "microdnf", "zypper", "apk",
                        "pacman", "unattended-upgrade", "packagekitd" }

local function F(path, extra)
  local t = { _id = 1, path = path, watch = extra and extra.watch, syscall = "openat", flags = 577,
              image = "/usr/bin/bash", cmdline = "bash", pid = 4242, ppid = 4000, user = "root" }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

rules.define {
  id = "lnx.ld_so_preload_written", platform = "linux", severity = "critical", logsource = "file_event",
  title = "/etc/ld.so.preload written",
  description = "Every dynamically linked program loads the libraries listed in /etc/ld.so.preload. Writing it is "
    .. "how userland rootkits (libprocesshider, Azazel, Jynx) hide processes and files and run in every process.",
  technique = { "T1574.006" },
  falsepositives = { "Security or profiling agents that install a preload library on purpose" },
  match = function(p)
    local path, unresolved = target(p, "preload")
    if unresolved then return true, desc(p, "wrote") end
    return path ~= nil and path:find("/etc/ld%.so%.preload$") ~= nil, desc(p, "wrote")
  end,
  examples = {
    positive = { F("/etc/ld.so.preload", { watch = "preload", cmdline = "bash -c 'echo /tmp/l.so > /etc/ld.so.preload'" }),
                 F(nil, { watch = "preload", image = "/usr/bin/dash" }),
                 F("/etc/ld.so.preload", { _id = 4, watch = "preload", syscall = "renameat2", image = "/usr/bin/mv",
                                           old_path = "/tmp/p" }) },
    negative = { F("/home/alice/src/ld.so.preload", { watch = "preload", image = "/usr/bin/vim" }),
                 F("/etc/ld.so.conf.d/x.conf", { watch = "systemd" }) },
  },
}

local account_files = set { "/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow" }
local account_tools = set { "useradd", "usermod", "userdel", "groupadd", "groupmod", "groupdel", "passwd", "chpasswd",
                            "chgpasswd", "chage", "chsh", "chfn", "vipw", "vigr", "pwconv", "pwunconv", "grpconv",
                            "grpunconv", "newusers", "gpasswd", "pwck", "grpck", "update-passwd", "systemd-sysusers",
                            "cppw", "cpgr", "sss_useradd", "adduser", "deluser", "addgroup", "delgroup" }

rules.define {
  id = "lnx.account_files_written", platform = "linux", severity = "high", logsource = "file_event",
  title = "/etc/passwd, shadow or group written by something other than the account tools",
  description = "Accounts are added and passwords changed by useradd, passwd, chpasswd, vipw and their kin. A shell, "
    .. "an editor or any other program writing /etc/passwd or /etc/shadow directly adds a backdoor account (a second "
    .. "uid 0) or sets a known password hash.",
  technique = { "T1136.001", "T1098" },
  falsepositives = { "Configuration management (ansible, puppet, salt) that templates these files directly",
                     "sed -i or an editor used by an administrator instead of vipw" },
  match = function(p)
    local path, unresolved = target(p, "accounts")
    if not (unresolved or (path and account_files[path])) then return false end
    if account_tools[p.name or ""] or packagers[p.name or ""] then return false end
    return true, desc(p, p.operation == "rename" and "replaced" or "wrote")
  end,
  examples = {
    positive = { F("/etc/passwd", { watch = "accounts", flags = 1089, cmdline = "bash -c 'echo x:x:0:0::/root:/bin/sh >> /etc/passwd'" }),
                 F("/etc/shadow", { _id = 4, watch = "accounts", syscall = "renameat2", image = "/usr/bin/sed",
                                    cmdline = "sed -i s/^root:[^:]*/root:$6$abc/ /etc/shadow", old_path = "/etc/sedAbc12" }),
                 F(nil, { watch = "accounts", image = "/usr/bin/python3.11" }) },
    negative = { F("/etc/passwd", { watch = "accounts", image = "/usr/sbin/useradd", cmdline = "useradd -m bob" }),
                 F("/etc/shadow+", { watch = "accounts", image = "/usr/sbin/chpasswd" }),
                 F("/etc/group", { _id = 4, watch = "accounts", image = "/usr/bin/dpkg" }),
                 F("/srv/www/.htpasswd", { watch = "accounts", image = "/usr/bin/htpasswd" }) },
  },
}

rules.define {
  id = "lnx.sudoers_written", platform = "linux", severity = "high", logsource = "file_event",
  title = "sudoers written without visudo",
  description = "A line in /etc/sudoers or /etc/sudoers.d/ (NOPASSWD: ALL) gives lasting root. Administrators use "
    .. "visudo, which checks the syntax; a shell, tee or a script writing there directly is how persistence is planted.",
  technique = { "T1548.003" },
  falsepositives = { "Configuration management that writes sudoers.d drop-ins", "Cloud images' first-boot agents (cloud-init)" },
  match = function(p)
    local path, unresolved = target(p, "sudoers")
    if not (unresolved or (path and (path == "/etc/sudoers" or path:find("^/etc/sudoers%.d/[^/]+$")))) then
      return false
    end
    if p.name == "visudo" or packagers[p.name or ""] then return false end
    return true, desc(p, "wrote")
  end,
  examples = {
    positive = { F("/etc/sudoers.d/90-x", { watch = "sudoers", image = "/usr/bin/tee", cmdline = "tee /etc/sudoers.d/90-x" }),
                 F("/etc/sudoers", { watch = "sudoers", flags = 1089 }), F(nil, { watch = "sudoers" }) },
    negative = { F("/etc/sudoers.tmp", { watch = "sudoers", image = "/usr/sbin/visudo" }),
                 F("/etc/sudoers", { _id = 4, watch = "sudoers", image = "/usr/sbin/visudo" }),
                 F("/etc/sudoers.d/README", { watch = "sudoers", image = "/usr/bin/dpkg" }) },
  },
}

local cron_tools = set { "crontab", "cron", "crond", "anacron", "atd" }

rules.define {
  id = "lnx.cron_file_written", platform = "linux", severity = "medium", logsource = "file_event",
  title = "Cron table written outside crontab and the package manager",
  description = "A file in /etc/cron.d, /etc/cron.{hourly,daily,weekly,monthly}, /etc/crontab or /var/spool/cron "
    .. "runs on a schedule, often as root. crontab -e writes the spool itself; a shell or script writing there is "
    .. "how scheduled persistence is planted.",
  technique = { "T1053.003" },
  falsepositives = { "Configuration management that installs cron jobs", "Administrators editing /etc/crontab by hand" },
  match = function(p)
    local path = target(p, "cron")
    if not path then return false end
    if not (path == "/etc/crontab" or path == "/etc/anacrontab" or path:find("^/etc/cron%.[%w]+/[^/]+$")
            or path:find("^/var/spool/cron/")) then
      return false
    end
    if cron_tools[p.name or ""] or packagers[p.name or ""] then return false end
    return true, desc(p, "wrote")
  end,
  examples = {
    positive = { F("/etc/cron.d/sync", { watch = "cron", cmdline = "bash -c 'echo \"* * * * * root /tmp/.x\" > /etc/cron.d/sync'" }),
                 F("/var/spool/cron/crontabs/root", { watch = "cron", image = "/usr/bin/python3.11", flags = 1089 }),
                 F("/etc/cron.hourly/up", { _id = 4, watch = "cron", image = "/usr/bin/mv" }) },
    negative = { F("/var/spool/cron/crontabs/tmp.XyZ", { watch = "cron", image = "/usr/bin/crontab" }),
                 F("/etc/cron.d/sysstat.dpkg-new", { watch = "cron", image = "/usr/bin/dpkg" }),
                 F("/var/log/cron.log", { watch = "cron", image = "/usr/sbin/rsyslogd" }),
                 F(nil, { watch = "cron" }) },
  },
}

local systemd_dirs = { "^/etc/systemd/system/", "^/etc/systemd/user/", "^/usr/lib/systemd/system/", "^/lib/systemd/system/",
                       "^/usr/lib/systemd/user/", "/%.config/systemd/user/" }
local systemd_tools = set { "systemd", "systemctl", "systemd-sysv-generator", "deb-systemd-helper", "ucf" }

rules.define {
  id = "lnx.systemd_unit_written", platform = "linux", severity = "medium", logsource = "file_event",
  title = "systemd unit written outside systemctl and the package manager",
  description = "A .service, .timer or drop-in written to a systemd unit directory runs at boot or on a schedule, "
    .. "as root for system units. Packages install units through dpkg/rpm and administrators through systemctl "
    .. "edit; a shell or a downloaded program writing one is persistence.",
  technique = { "T1543.002" },
  falsepositives = { "Configuration management and installers that write their own unit files",
                     "Administrators writing units with an editor" },
  match = function(p)
    local path = target(p, "systemd")
    if not path then return false end
    local in_dir = false
    for _, d in ipairs(systemd_dirs) do in_dir = in_dir or path:find(d) ~= nil end
    if not in_dir or not (path:find("%.service$") or path:find("%.timer$") or path:find("%.socket$")
                          or path:find("%.path$") or path:find("%.d/[^/]+%.conf$")) then
      return false
    end
    if systemd_tools[p.name or ""] or packagers[p.name or ""] then return false end
    return true, desc(p, "wrote")
  end,
  examples = {
    positive = { F("/etc/systemd/system/dbus-org.service", { watch = "systemd", image = "/usr/bin/tee" }),
                 F("/root/.config/systemd/user/update.timer", { watch = "systemd", image = "/usr/bin/curl" }),
                 F("/etc/systemd/system/ssh.service.d/override.conf", { watch = "systemd", image = "/usr/bin/python3.11" }) },
    negative = { F("/lib/systemd/system/cron.service.dpkg-new", { watch = "systemd", image = "/usr/bin/dpkg" }),
                 F("/etc/systemd/system/nginx.service.d/.#override.conf3f1", { watch = "systemd", image = "/usr/bin/systemctl" }),
                 F("/etc/systemd/journald.conf", { watch = "systemd", image = "/usr/bin/vim" }),
                 F(nil, { watch = "systemd" }) },
  },
}

rules.define {
  id = "lnx.authorized_keys_written", platform = "linux", severity = "high", logsource = "file_event",
  title = "SSH authorized_keys written",
  description = "A key added to ~/.ssh/authorized_keys (or authorized_keys2) gives password-less login that survives "
    .. "password changes. Attackers plant keys from web shells and scripts.",
  technique = { "T1098.004" },
  falsepositives = { "ssh-copy-id and administrators installing their own keys (the remote side is a shell)",
                     "Cloud agents that install keys at first boot" },
  match = function(p)
    local path, unresolved = target(p, "ssh_keys")
    if not (unresolved or (path and path:find("/%.ssh/authorized_keys2?$"))) then return false end
    if packagers[p.name or ""] then return false end
    return true, desc(p, "wrote")
  end,
  examples = {
    positive = { F("/root/.ssh/authorized_keys", { watch = "ssh_keys", flags = 1089, cmdline = "bash -c 'echo ssh-ed25519 AAAA... >> /root/.ssh/authorized_keys'" }),
                 F("/home/www/.ssh/authorized_keys2", { watch = "ssh_keys", image = "/usr/bin/php8.2" }),
                 F(nil, { watch = "ssh_keys", image = "/usr/bin/dash" }) },
    negative = { F("/root/.ssh/authorized_keys.bak", { watch = "ssh_keys" }),
                 F("/home/alice/notes/authorized_keys_howto.md", { watch = "ssh_keys", image = "/usr/bin/vim" }) },
  },
}

local log_tools = set { "logrotate", "rsyslogd", "syslog-ng", "systemd-journald", "journalctl", "savelog", "sadc",
                        "sa1", "sa2", "cloud-init", "auditd", "apache2", "nginx", "unattended-upgrade" }

rules.define {
  id = "lnx.log_file_wiped", platform = "linux", severity = "high", logsource = "file_event",
  title = "A file under /var/log emptied",
  description = "Truncating auth.log, syslog, wtmp or btmp (truncate -s0, > file, cp /dev/null) erases the record of "
    .. "a login or an attack. logrotate and the loggers themselves are expected; anything else is log wiping.",
  technique = { "T1070.002" },
  falsepositives = { "Programs that recreate their own log file at start (O_TRUNC) under /var/log",
                     "Administrators emptying a runaway log" },
  match = function(p)
    local path = target(p, "logs")
    if not path or not path:find("^/var/log/") or not truncating(p) then return false end
    if log_tools[p.name or ""] or packagers[p.name or ""] then return false end
    return true, desc(p, "emptied")
  end,
  examples = {
    positive = { F("/var/log/auth.log", { _id = 3, watch = "logs", syscall = "ftruncate", image = "/usr/bin/truncate",
                                          cmdline = "truncate -s 0 /var/log/auth.log" }),
                 F("/var/log/wtmp", { watch = "logs", flags = 577, cmdline = "bash -c 'cat /dev/null > /var/log/wtmp'" }),
                 F("/var/log/btmp", { _id = 3, watch = "logs", syscall = "truncate", image = "/usr/bin/python3.11" }) },
    negative = { F("/var/log/syslog", { _id = 3, watch = "logs", image = "/usr/sbin/logrotate" }),
                 F("/var/log/apt/eipp.log.xz", { watch = "logs", image = "/usr/bin/apt-get" }),
                 F("/var/log/nginx/access.log", { watch = "logs", flags = 1089, image = "/usr/bin/bash" }) },
  },
}

rules.define {
  id = "lnx.log_file_deleted", platform = "linux", severity = "high", logsource = "file_delete",
  title = "A current log under /var/log deleted",
  description = "rm of auth.log, syslog, secure, wtmp, btmp, lastlog or the audit log removes evidence. Rotated copies "
    .. "(.1, .gz) are deleted by logrotate every day and are not flagged; the live files are.",
  technique = { "T1070.002" },
  falsepositives = { "Administrators freeing space by deleting live logs" },
  match = function(p)
    local path = target(p, "logs")
    if not path or not path:find("^/var/log/") then return false end
    -- rotated generations: name.1, name.2.gz, name-20240501, name.old
    if path:find("%.%d+$") or path:find("%.%d+%.[gx]z$") or path:find("%.gz$") or path:find("%.xz$") or path:find("%.bz2$")
      or path:find("%-%d%d%d%d%d%d%d%d") or path:find("%.old$") or path:find("^/var/log/journal/") then
      return false
    end
    if log_tools[p.name or ""] or packagers[p.name or ""] then return false end
    return true, desc(p, "deleted")
  end,
  examples = {
    positive = { { _id = 2, path = "/var/log/auth.log", watch = "logs", syscall = "unlinkat", image = "/usr/bin/rm",
                   cmdline = "rm -f /var/log/auth.log", pid = 4242 },
                 { _id = 2, path = "/var/log/audit/audit.log", watch = "logs", syscall = "unlinkat", image = "/usr/bin/shred" } },
    negative = { { _id = 2, path = "/var/log/syslog.2.gz", watch = "logs", syscall = "unlinkat", image = "/usr/sbin/logrotate" },
                 { _id = 2, path = "/var/log/auth.log", watch = "logs", syscall = "unlinkat", image = "/usr/sbin/logrotate" },
                 { _id = 2, path = "/var/log/dpkg.log.1", watch = "logs", syscall = "unlinkat", image = "/usr/bin/rm" } },
  },
}

-- a history file, and the program that keeps it (which rewrites it on exit)
local histories = { [".bash_history"] = set { "bash" }, [".zsh_history"] = set { "zsh" },
                    [".sh_history"] = set { "sh", "ksh", "mksh", "ash", "busybox" },
                    [".ash_history"] = set { "ash", "busybox" }, [".history"] = set { "tcsh", "csh" },
                    [".python_history"] = set { "python", "python3" }, [".mysql_history"] = set { "mysql", "mariadb" },
                    [".psql_history"] = set { "psql" } }

rules.define {
  id = "lnx.shell_history_wiped", platform = "linux", severity = "medium", logsource = "file_event",
  title = "Shell history emptied by another program",
  description = "cat /dev/null > ~/.bash_history, cp /dev/null or truncate -s0 erase what an intruder typed. The "
    .. "shell rewrites its own history on exit (an O_TRUNC open by bash of .bash_history); any other program "
    .. "emptying or removing it is clearing tracks.",
  technique = { "T1070.003" },
  falsepositives = { "Users clearing their own history on purpose" },
  match = function(p)
    local path = target(p, "history")
    if not path then return false end
    local base = m.basename(path)
    local keeper = histories[base]
    if not keeper then return false end
    if not truncating(p) then return false end
    local n = (p.name or ""):gsub("%d[%d.]*$", "")
    if keeper[p.name or ""] or keeper[n] then return false end
    return true, desc(p, "emptied")
  end,
  examples = {
    positive = { F("/root/.bash_history", { _id = 3, watch = "history", syscall = "ftruncate", image = "/usr/bin/truncate" }),
                 F("/home/bob/.zsh_history", { watch = "history", flags = 577, image = "/usr/bin/cp",
                                              cmdline = "cp /dev/null /home/bob/.zsh_history" }) },
    negative = { F("/root/.bash_history", { watch = "history", flags = 577, image = "/usr/bin/bash" }),
                 F("/home/bob/.python_history", { watch = "history", flags = 577, image = "/usr/bin/python3.11" }),
                 F("/tmp/t/shell_history", { watch = "history", flags = 577, image = "/usr/bin/python3.11" }) },
  },
}

rules.define {
  id = "lnx.shell_history_deleted", platform = "linux", severity = "medium", logsource = "file_delete",
  title = "Shell history file deleted",
  description = "rm ~/.bash_history (or unset HISTFILE and delete it) erases what an intruder typed.",
  technique = { "T1070.003" },
  falsepositives = { "Users deleting their own history on purpose", "Account clean-up scripts (userdel -r removes the home)" },
  match = function(p)
    local path = target(p, "history")
    if not path or not histories[m.basename(path)] then return false end
    if p.name == "userdel" or p.name == "deluser" then return false end
    return true, desc(p, "deleted")
  end,
  examples = {
    positive = { { _id = 2, path = "/root/.bash_history", watch = "history", syscall = "unlinkat", image = "/usr/bin/rm",
                   cmdline = "rm -f /root/.bash_history" } },
    negative = { { _id = 2, path = "/tmp/x/shell_history", watch = "history", syscall = "unlinkat", image = "/usr/bin/rm" },
                 { _id = 2, path = "/home/bob/.bash_history", watch = "history", syscall = "unlinkat", image = "/usr/sbin/userdel" } },
  },
}

-- ---- ptrace and cross-process memory ------------------------------------------

local debuggers = set { "gdb", "gdbserver", "lldb", "lldb-server", "strace", "ltrace", "gcore" }

local function P(id, extra)
  local t = { _id = id, pid = 5000, ppid = 4000, image = "/tmp/.x/inject", cmdline = "/tmp/.x/inject 812", user = "root",
              target_pid = 812, target_image = "/usr/sbin/sshd" }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

local function target_desc(p)
  return (p.target_image or "an unknown process") .. " (pid " .. tostring(p.target_pid) .. ")"
end

rules.define {
  id = "lnx.ptrace_attach", platform = "linux", severity = "medium", logsource = "process_access",
  title = "ptrace attach to another process",
  description = "PTRACE_ATTACH or PTRACE_SEIZE of a running process lets the tracer read its memory (credentials in "
    .. "sshd, sudo or a browser) and change its code. Seen from the syscall, so it catches custom injectors and "
    .. "interpreters, not only gdb -p and strace -p on the command line.",
  technique = { "T1055.008" },
  falsepositives = { "Debuggers and tracers (gdb attach, strace -p) used by developers and administrators",
                     "Not flagged: a forked helper of the same program attaching to its own parent, as "
                       .. "AddressSanitizer's leak checker does at every exit of a sanitizer build (measured: 247 "
                       .. "such attaches during one run of the test suites, tests/rules/live-noise.md)" },
  match = function(p)
    if p.operation ~= "ptrace" or not (p.request == 16 or p.request == 0x4206) then return false end
    if p.target_pid == nil or p.target_pid == p.pid then return false end
    -- LeakSanitizer's StopTheWorld: a clone of the process traces its parent
    if p.target_pid == p.ppid and p.image ~= nil and p.image == p.target_image then return false end
    return true, who(p) .. " attached (" .. tostring(p.request_name) .. ") to " .. target_desc(p)
  end,
  examples = {
    positive = { P(1, { request = 16, request_name = "ATTACH" }),
                 P(1, { request = 0x4206, request_name = "SEIZE", image = "/usr/bin/strace", cmdline = "strace -p 812" }) },
    negative = { P(1, { request = 5, request_name = "POKEDATA" }), P(2, {}),
                 P(1, { request = 16, request_name = "ATTACH", image = "/work/build/bin/sanitize/test_x", ppid = 812,
                        target_image = "/work/build/bin/sanitize/test_x", cmdline = "build/bin/sanitize/test_x" }) },
  },
}

rules.define {
  id = "lnx.ptrace_poke", platform = "linux", severity = "high", logsource = "process_access",
  title = "Another process's code or data written with ptrace",
  description = "PTRACE_POKETEXT, POKEDATA or POKEUSER write into a traced process: shellcode injection into a "
    .. "running service. Debuggers poke breakpoints; anything else poking is injection.",
  technique = { "T1055.008" },
  falsepositives = { "Debuggers not in the list (gdb, lldb, strace, ltrace) setting breakpoints" },
  match = function(p)
    if p.operation ~= "ptrace" or not (p.request == 4 or p.request == 5 or p.request == 6) then return false end
    if debuggers[p.name or ""] then return false end
    return true, who(p) .. " wrote (" .. tostring(p.request_name) .. ") into " .. target_desc(p)
  end,
  examples = {
    positive = { P(1, { request = 4, request_name = "POKETEXT" }),
                 P(1, { request = 5, request_name = "POKEDATA", image = "/usr/bin/python3.11" }) },
    negative = { P(1, { request = 4, request_name = "POKETEXT", image = "/usr/bin/gdb", cmdline = "gdb ./a.out" }),
                 P(1, { request = 16, request_name = "ATTACH" }) },
  },
}

rules.define {
  id = "lnx.process_vm_writev", platform = "linux", severity = "high", logsource = "process_access",
  title = "process_vm_writev into another process",
  description = "process_vm_writev writes straight into another process's memory without ptrace stops: code "
    .. "injection that leaves no tracer behind.",
  technique = { "T1055" },
  falsepositives = { "Debuggers and checkpoint/restore tools (CRIU)" },
  match = function(p)
    if p.operation ~= "vm_write" or p.target_pid == nil or p.target_pid == p.pid then return false end
    if debuggers[p.name or ""] or p.name == "criu" then return false end
    return true, who(p) .. " wrote into the memory of " .. target_desc(p)
  end,
  examples = {
    positive = { P(3, {}), P(3, { image = "/dev/shm/.p", target_image = "/usr/sbin/cron", target_pid = 700 }) },
    negative = { P(3, { target_pid = 5000 }), P(2, {}), P(3, { image = "/usr/sbin/criu" }) },
  },
}

rules.define {
  id = "lnx.process_vm_readv", platform = "linux", severity = "medium", logsource = "process_access",
  title = "process_vm_readv of another process's memory",
  description = "process_vm_readv copies another process's memory: how mimipenguin-style tools and custom scrapers "
    .. "read passwords and keys out of sshd, sudo, gnome-keyring or browsers.",
  technique = { "T1003.007" },
  falsepositives = { "Debuggers, profilers (py-spy, rbspy) and crash reporters reading a target's memory" },
  match = function(p)
    if p.operation ~= "vm_read" or p.target_pid == nil or p.target_pid == p.pid then return false end
    if debuggers[p.name or ""] or p.name == "py-spy" or p.name == "rbspy" or p.name == "criu" then return false end
    return true, who(p) .. " read the memory of " .. target_desc(p)
  end,
  examples = {
    positive = { P(2, {}), P(2, { image = "/usr/bin/python3.11", target_image = "/usr/bin/sudo", target_pid = 930 }) },
    negative = { P(2, { target_pid = 5000 }), P(2, { image = "/usr/bin/gdb" }), P(3, { image = "/usr/bin/py-spy" }) },
  },
}

-- ---- container runtimes beyond docker run ---------------------------------------

rules.define {
  id = "lnx.container_runtime_host_access", platform = "linux", severity = "high",
  names = { "ctr", "nerdctl", "crictl", "runc", "kubectl", "podman" },
  title = "Container runtime asked for the host: node debug pods, host root bind mounts, host PID/IPC",
  description = "kubectl debug node/..., kubectl run with a privileged/hostPID override, ctr run with the host root "
    .. "bind-mounted, or runc exec with CAP_SYS_ADMIN give a shell with the host's filesystem or namespaces.",
  technique = { "T1611", "T1610" },
  falsepositives = { "Cluster administrators debugging nodes" },
  match = function(p)
    local c = p.command_line or ""
    local n = p.name or ""
    if n == "kubectl" then
      return c:find("%sdebug%s+node/") ~= nil or (c:find("%srun%s") ~= nil and c:find("%-%-overrides") ~= nil
        and (c:find('"privileged"%s*:%s*true') or c:find('"hostPID"%s*:%s*true') or c:find('"hostPath"')) ~= nil)
    end
    if n == "runc" then
      return c:find("%sexec%s") ~= nil and (c:find("CAP_SYS_ADMIN") or c:find("%-%-cap[=%s]+CAP_SYS_PTRACE")) ~= nil
    end
    if not (c:find("%srun%s") or c:find("%screate%s") or c:find("%sexec%s")) then return false end
    return (c:find("src=/,") or c:find("source=/,") or c:find("src=/:") or c:find("%-%-privileged")
      or c:find("%-%-pid[=%s]host") or c:find("%-%-with%-ns[=%s]pid:/proc/1/ns/pid")) ~= nil
  end,
  examples = {
    positive = { { image = "/usr/bin/kubectl", command_line = "kubectl debug node/worker-1 -it --image=busybox" },
                 { image = "/usr/bin/ctr", command_line = "ctr run --rm --mount type=bind,src=/,dst=/host,options=rbind:rw docker.io/library/alpine:latest x sh" },
                 { image = "/usr/sbin/runc", command_line = "runc exec --cap CAP_SYS_ADMIN mycontainer sh" },
                 { image = "/usr/bin/crictl", command_line = "crictl exec --privileged 3f2a sh" } },
    negative = { { image = "/usr/bin/kubectl", command_line = "kubectl run web --image=nginx" },
                 { image = "/usr/bin/ctr", command_line = "ctr run --rm docker.io/library/alpine:latest x echo hi" },
                 { image = "/usr/bin/crictl", command_line = "crictl ps" } },
  },
}
