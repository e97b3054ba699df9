#!/usr/bin/env python3
"""tests/cli/shell_pty.py BIN - `etwlua shell` through a pseudo-terminal and
through pipes.

The terminal tests type into a pty as a user would and read the screen:
moving through a trace (next, skip, find), Tab completion (globals, ev.
fields, ev.info. properties), an error in a typed line that does not end
the shell, expiry of a kept event, the history file, and Ctrl-D.  The pipe
tests feed lines on stdin (no prompts) and check stdout, stderr and the
exit code.  A live test (root, tracefs) fills a small --buffer and checks
that the overflow is counted and said.

Every read has a deadline and waits for the text it needs (the prompt, a
line); nothing sleeps for a fixed time, so a loaded machine only makes it
slower.  python3's standard library only.  Ends with "shell: N passed, N
failed"."""
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/bin/release/etwlua")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRACE = os.path.join(ROOT, "tests/data/events.jsonl")
DEADLINE = float(os.environ.get("SHELL_TEST_DEADLINE", "60"))  # seconds per wait
PROMPT = "etwlua> "
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|[\r\x07]")

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL " + name + ("\n     " + detail.replace("\n", "\n     ") if detail else ""))


class Term:
    """The shell on a pseudo-terminal; screen() is everything it wrote,
    with terminal control sequences removed."""

    def __init__(self, args, env):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))

        def child_setup():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.p = subprocess.Popen([BIN, "shell"] + args, stdin=slave, stdout=slave, stderr=slave, env=env,
                                  preexec_fn=child_setup, close_fds=True)
        os.close(slave)
        self.raw = b""

    def screen(self):
        return ANSI.sub("", self.raw.decode("utf-8", "replace"))

    def read_until(self, pred, what):
        """Reads until pred(screen) holds; raises after DEADLINE seconds."""
        end = time.monotonic() + DEADLINE
        while not pred(self.screen()):
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no %s within %.0f s; screen so far:\n%s" % (what, DEADLINE, self.screen()[-2000:]))
            r, _, _ = select.select([self.master], [], [], left)
            if r:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    chunk = b""
                if not chunk:
                    if pred(self.screen()):
                        return
                    raise EOFError("the shell ended; screen:\n" + self.screen()[-2000:])
                self.raw += chunk

    def prompts(self):
        return self.screen().count(PROMPT)

    def type(self, text, wait_prompt=True):
        """Types text; with wait_prompt, waits for the next prompt and
        returns what was written since the typing."""
        self.wait_editing()
        n = self.prompts()
        mark = len(self.screen())
        os.write(self.master, text.encode())
        if wait_prompt:
            self.read_until(lambda s: s.count(PROMPT) > n, "prompt after %r" % text)
        return self.screen()[mark:]

    def wait_editing(self):
        """Waits until libedit reads the terminal in raw mode (ICANON off):
        only then is a Ctrl-C the prompt's, not one that lands between two
        lines (the terminal driver would flush what was typed)."""
        end = time.monotonic() + DEADLINE
        while termios.tcgetattr(self.master)[3] & termios.ICANON:
            if time.monotonic() > end:
                raise TimeoutError("the prompt never took the terminal")
            r, _, _ = select.select([self.master], [], [], 0.05)
            if r:
                try:
                    self.raw += os.read(self.master, 65536)
                except OSError:
                    pass

    def wait_exit(self):
        end = time.monotonic() + DEADLINE
        while self.p.poll() is None:
            if time.monotonic() > end:
                self.p.kill()
                raise TimeoutError("the shell did not exit; screen:\n" + self.screen()[-1500:])
            r, _, _ = select.select([self.master], [], [], 0.5)
            if r:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    chunk = b""
                self.raw += chunk
        return self.p.returncode

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        os.close(self.master)


def env_with(state):
    env = dict(os.environ)
    env["XDG_STATE_HOME"] = state
    env["HOME"] = state
    env["TERM"] = "xterm"
    env["NO_COLOR"] = "1"
    return env


def tty_tests(state):
    t = Term(["-r", TRACE], env_with(state))
    try:
        t.read_until(lambda s: PROMPT in s, "first prompt")
        s = t.screen()
        check("tty: starts on the first event and shows it", "cmd.exe /c whoami /all" in s and "ProcessID = 6520" in s, s)

        out = t.type("ev.pid\n")
        check("tty: an expression prints its value", re.search(r"^4$", out, re.M) is not None, out)

        out = t.type("next()\n")
        check("tty: next() moves to the second event", "powershell" in out and "6600" in out, out)
        # the hostile CommandLine (ESC [2K, CR LF) is shown escaped, never raw
        check("tty: hostile strings are escaped", "\x1b[2K" not in t.raw.decode("utf-8", "replace").split("next()")[-1]
              and "\\x1b[2K" in out, repr(out))

        out = t.type("skip(2)\n")
        check("tty: skip(2) moves two events on", "DNS-Client id=3008" in out, out)

        out = t.type("find{provider='Microsoft-Windows-Sysmon'}\n")
        check("tty: find{provider=...} finds the Sysmon event", "Microsoft-Windows-Sysmon id=1" in out, out)

        out = t.type("find{id=4104}\n")
        check("tty: find past the last match returns nil", re.search(r"^nil$", out, re.M) is not None, out)

        out = t.type("ev\n")
        check("tty: at the end ev is nil", re.search(r"^nil$", out, re.M) is not None, out)

        # a second shell state: errors and expiry, on a fresh shell over the same trace
    finally:
        pass
    try:
        out = t.type('error("boom")\n')
        check("tty: an error in a typed line is printed", "error: stdin:1: boom" in out, out)
        out = t.type("1 + 1\n")
        check("tty: the shell goes on after an error", re.search(r"^2$", out, re.M) is not None, out)
        out = t.type("this is not lua\n")
        check("tty: a syntax error is printed, the shell goes on", "error:" in out and "syntax" in out.lower()
              or "expected" in out, out)
        out = t.type("for i = 1, 2 do\n", wait_prompt=False)
        t.read_until(lambda s: s.rstrip().endswith(">>"), "continuation prompt")
        out = t.type("print('line', i) end\n")
        check("tty: a chunk continues over lines", "line\t1" in out and "line\t2" in out, out)
        t.type("half a line\x03")  # Ctrl-C at the prompt: a new prompt, the line dropped
        out = t.type("1 + 2\n")
        check("tty: Ctrl-C at the prompt drops the line, the shell goes on",
              re.search(r"^3$", out, re.M) is not None and "half a line" not in out, out)
        code = None
        t.wait_editing()
        os.write(t.master, b"\x04")
        code = t.wait_exit()
        check("tty: Ctrl-D exits 0", code == 0, "exit %r" % code)
    finally:
        t.close()

    t = Term(["-r", TRACE], env_with(state))
    try:
        t.read_until(lambda s: PROMPT in s, "first prompt")
        t.type("e = ev\n")
        t.type("next()\n")
        out = t.type("e.pid\n")
        check("tty: a kept event fails loudly after a move", "expired event" in out, out)
        out = t.type("local k = ev; next(); return k.provider\n")
        check("tty: ...within one line too", "expired event" in out, out)
        out = t.type("ev.id\n")
        check("tty: the new ev works after the expiry error", re.search(r"^2$", out, re.M) is not None, out)

        # completion: a global, a field of ev, a property of the event
        out = t.type("stat\t", wait_prompt=False)
        t.read_until(lambda s: s.endswith("stats"), "completion of 'stat'")
        out = t.type("()\n")
        check("tty: Tab completes a global (stat -> stats)", "seen = 3" in out, out)

        t.type("ev.provi\t", wait_prompt=False)
        t.read_until(lambda s: s.endswith("ev.provider"), "completion of 'ev.provi'")
        out = t.type("\n")
        check("tty: Tab completes an event field (ev.provi -> ev.provider)", "Microsoft-Windows-Kernel-Process" in out, out)

        # ev is the third event now (ProcessID, ExitCode): its properties
        t.type("ev.info.Exi\t", wait_prompt=False)
        t.read_until(lambda s: s.endswith("ev.info.ExitCode"), "completion of 'ev.info.Exi'")
        out = t.type("\n")
        check("tty: Tab completes a property name (ev.info.Exi -> ExitCode)", re.search(r"^0$", out, re.M) is not None,
              out)

        # two Tabs list the candidates when there are several
        mark = len(t.screen())
        t.type("ev.t\t\t", wait_prompt=False)
        # libedit prints the list, then draws the prompt and "ev.t" again: wait
        # for that redraw too, or the next type() would count it as the prompt
        # after its Enter and send Ctrl-D while the line is still being read;
        # a Ctrl-D that lands between two lines (cooked mode) reaches libedit
        # as a NUL once it turns raw again, and the shell would never exit

        def listed(s):
            tail = s[mark:]
            i = tail.rfind(PROMPT)
            return i > 0 and all(w in tail[:i] for w in ("task", "tid", "totable")) and tail[i:] == PROMPT + "ev.t"

        t.read_until(listed, "list for ev.t and the prompt drawn again")
        check("tty: Tab Tab lists the fields that match (ev.t)", True)
        t.type("\x15\n")  # Ctrl-U clears the line

        t.wait_editing()
        os.write(t.master, b"\x04")
        code = t.wait_exit()
        check("tty: Ctrl-D exits 0 (second shell)", code == 0, "exit %r" % code)
    finally:
        t.close()

    hist = os.path.join(state, "etwlua", "shell_history")
    text = open(hist, encoding="utf-8", errors="replace").read() if os.path.exists(hist) else ""
    # libedit writes spaces (and other specials) as octal escapes
    text = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)
    check("tty: history is kept in $XDG_STATE_HOME/etwlua/shell_history", "skip(2)" in text and "e = ev" in text,
          text[-500:])

    # the history comes back: Up in a new shell recalls the last line
    t = Term(["-r", TRACE], env_with(state))
    try:
        t.read_until(lambda s: PROMPT in s, "first prompt")
        out = t.type("\x1b[A\n")
        check("tty: Up recalls the last line of the history file", "stats" in out or "seen" in out
              or "ev.t" in out or "ExitCode" in out, out)
        t.wait_editing()
        os.write(t.master, b"\x04")
        t.wait_exit()
    finally:
        t.close()


def pipe(args, lines, env=None, timeout=None):
    p = subprocess.run([BIN, "shell"] + args, input=lines.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, timeout=timeout or DEADLINE)
    err = p.stderr.decode("utf-8", "replace")
    # under the sanitize build a report is a failure whatever the check
    if re.search(r"AddressSanitizer|LeakSanitizer|runtime error:", err):
        check("pipe: no sanitizer report for %r" % lines[:60], False, err[-3000:])
    return p.returncode, p.stdout.decode("utf-8", "replace"), err


def pipe_tests(state):
    env = env_with(state)
    code, out, err = pipe(["-r", TRACE], "next()\nev.info.ProcessID\nskip(3)\nev.id\n", env)
    check("pipe: no prompts when stdin is not a terminal", PROMPT not in out and ">>" not in out, out)
    check("pipe: moves and prints values", "\n6600\n" in out and out.rstrip().endswith("\n4104"), out)
    check("pipe: EOF exits 0", code == 0, "exit %d, stderr %s" % (code, err))

    code, out, err = pipe(["-r", TRACE], "for i = 1, 2 do\nprint(i)\n", env)
    check("pipe: input that ends inside a chunk says so", "unfinished chunk" in err and code == 0, err)
    code, out, err = pipe(["-r", TRACE], "nosuch.call()\nev.pid\n", env)
    check("pipe: an error goes to stderr and the shell goes on",
          "attempt to index a nil value" in err and out.rstrip().endswith("4") and code == 0, out + err)

    code, out, err = pipe(["-r", TRACE], "find{idd=1}\nfind{id='x'}\nev.id\n", env)
    check("pipe: find{} takes etw.on's filter and its errors", "unknown filter key 'idd'" in err and
          "must be an integer" in err and out.rstrip().endswith("1"), out + err)

    code, out, err = pipe(["-r", TRACE], "find{pid=6600, where=function(e) return e.id == 4104 end}\nev.id\n", env)
    check("pipe: find{} with pid and where", out.rstrip().endswith("4104"), out + err)

    code, out, err = pipe(["-r", TRACE], "find{where=function(e) return find{id=2} end}\n"
                          "find{where=function(e) error('in where') end}\nev.info.ExitCode\n", env)
    check("pipe: find{} inside find's where is refused; an error in where ends the line only",
          "cannot run inside find's where" in err and "in where" in err and out.rstrip().endswith("\n0"), out + err)

    code, out, err = pipe(["-r", TRACE], "while true do end\nev.id\n", env)
    check("pipe: the instruction budget ends a looping line, the shell goes on",
          "instruction budget exceeded" in err and out.rstrip().endswith("1"), out + err)

    code, out, err = pipe(["-r", TRACE, "--memory-mb", "16", "--budget", "100000000", "--handler-timeout", "600000"],
                          "t = {}\nfor i = 1, 1e8 do t[i] = ('x'):rep(100) .. i end\nt = nil\n"
                          "collectgarbage()\nx = {1, 2}\n#x\n", env)
    check("pipe: the memory cap ends a hoarding line; t = nil gives the memory back",
          "the Lua memory cap" in err and out.rstrip().endswith("\n2") and code == 0, out[-300:] + err)
    code, out, err = pipe(["-r", TRACE], "io\nos.execute\n1 + 1\n", env)
    check("pipe: no io or os.execute without --unsafe, and the error names --unsafe",
          "'io' is not available in the sandbox" in err and "os.execute is not available" in err
          and err.count("--unsafe") >= 2 and out.split()[-1:] == ["2"], out + err)
    code, out, err = pipe(["-r", TRACE, "--unsafe"], "type(io.open)\n", env)
    check("pipe: io with --unsafe", out.rstrip().endswith("function"), out + err)

    code, out, err = pipe(["-r", TRACE], "tree(6520)\n", env)
    check("pipe: tree(pid) draws the process tree seen so far", "6520 cmd.exe" in out and "powershell" not in out,
          out)
    code, out, err = pipe(["-r", TRACE], "skip(6)\ntree(6520)\nstats().seen\n", env)
    check("pipe: tree(pid) grows as the shell moves", "6600 powershell.exe" in out and "7000 svchost.exe" in out
          and out.rstrip().endswith("7"), out)

    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write("local etw = require('etw')\nlocal n = 0\netw.on({id = 1}, function(ev) n = n + 1; etw.alert{rule = 'shell.test', "
                "message = 'pid ' .. ev.pid} end)\netw.on_stop(function() print('starts', n) end)\n")
        script = f.name
    try:
        code, out, err = pipe(["-r", TRACE], "next()\nrun(%r)\nev\n" % script, env)
        check("pipe: run(script) runs over the current event and the rest",
              "run: 6 event(s), 2 alert(s), 0 handler error(s)" in out and "shell.test" in out
              and out.rstrip().endswith("nil"), out + err)
    finally:
        os.unlink(script)
    code, out, err = pipe(["-r", TRACE], "run('win.powershell_encoded_command')\ntree(6520)\n", env)
    check("pipe: run(rule id) runs one library rule; tree() shows its alert on the process",
          "run: 7 event(s), 1 alert(s)" in out and
          re.search(r"6600 powershell.exe \[1 alert: win.powershell_encoded_command\]", out) is not None, out + err)
    sigma_rule = os.path.join(ROOT, "tests/data/shell_sigma.yml")
    code, out, err = pipe(["-r", TRACE], "skip(3)\nsigma(%r)\nev\nstats().seen\n" % sigma_rule, env)
    check("pipe: sigma(path) runs Sigma rules over the rest of the trace",
          '"rule":"6a3c1f0e-4b2d-4e8f-9a7b-1c2d3e4f5a6b"' in out and "sigma: 4 event(s)" in out and
          out.rstrip().endswith("nil\n7"), out + err)
    code, out, err = pipe(["-r", TRACE], "run('no.such.rule')\nev.id\n", env)
    check("pipe: run(unknown rule id) is an error, the shell goes on", "no.such.rule" in err and
          out.rstrip().endswith("1"), out + err)
    code, out, err = pipe(["-r", TRACE], "run('/no/such/file.lua')\n", env)
    check("pipe: run(missing file) is an error", "no such file" in err, out + err)
    code, out, err = pipe(["-r", TRACE], "sigma('/no/such/dir')\n", env)
    check("pipe: sigma(missing path) is an error", "no such file or folder" in err, out + err)

    code, out, err = pipe(["-r", os.path.join(ROOT, "tests/data/malformed.jsonl")], "skip(1e9)\nstats().malformed\n"
                          "stats().at_end\n", env)
    m = re.findall(r"^(\d+)$", out, re.M)
    check("pipe: malformed records are said on stderr and counted in stats()",
          "(skipped)" in err and len(m) == 2 and int(m[0]) > 0 and m[1] == "1", out + err)
    code, out, err = pipe(["-r", TRACE, "script.lua"], "", env)
    check("pipe: a script argument is a usage error (exit 2)", code == 2 and "run(path)" in err, err)
    code, out, err = pipe(["-r", "/no/such/trace.jsonl"], "", env)
    check("pipe: a missing trace is an error", code != 0 and "trace.jsonl" in err, err)
    code, out, err = pipe(["-r", "-"], "", env)
    check("pipe: -r - is a usage error (stdin is the prompt's)", code == 2 and "-r -" in err, err)
    code, out, err = pipe(["-r", TRACE, "--rule", "win.powershell_encoded_command"], "", env)
    check("pipe: a main-command option the shell does not use is refused (exit 2)", code == 2 and "run()" in err, err)
    code, out, err = pipe(["--buffer", "0", "-r", TRACE], "", env)
    check("pipe: --buffer 0 is a usage error", code == 2 and "--buffer" in err, err)


def live_test(state):
    if os.geteuid() != 0 or not os.path.isdir("/sys/kernel/tracing/events"):
        print("shell: live buffer test skipped (needs root and tracefs)")
        return
    name = "etwlua_shell_%d" % os.getpid()
    p = subprocess.Popen([BIN, "shell", "--name", name, "-k", "process", "--buffer", "3"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_with(state))
    try:
        # processes started while nobody reads: more than the buffer holds
        end = time.monotonic() + DEADLINE
        dropped = 0
        buf = b""
        while time.monotonic() < end:
            for _ in range(10):
                subprocess.run(["/bin/true"])
            p.stdin.write(b"stats().dropped\n")
            p.stdin.flush()
            # one answer per line asked
            while buf.count(b"\n") == 0 and time.monotonic() < end:
                r, _, _ = select.select([p.stdout], [], [], max(0.0, end - time.monotonic()))
                if r:
                    chunk = os.read(p.stdout.fileno(), 4096)
                    if not chunk:
                        break
                    buf += chunk
            line, _, buf = buf.partition(b"\n")
            if line.strip().isdigit() and int(line) > 0:
                dropped = int(line)
                break
        check("live: a full --buffer drops and counts (stats().dropped)", dropped > 0, "dropped %d" % dropped)
        out, err = p.communicate(b"next()\nstats().buffered\n", timeout=DEADLINE)
        err = err.decode("utf-8", "replace")
        check("live: the drop is said at the next move", "dropped so far" in err and "--buffer" in err, err)
        check("live: EOF ends the live shell with 0", p.returncode == 0, "exit %r" % p.returncode)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def main():
    with tempfile.TemporaryDirectory() as state:
        try:
            tty_tests(state)
        except (TimeoutError, EOFError) as e:
            check("tty: the session ran to its end", False, str(e))
        pipe_tests(state)
        live_test(state)
    print("shell: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
