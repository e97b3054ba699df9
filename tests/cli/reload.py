#!/usr/bin/env python3
"""tests/cli/reload.py BIN - hot reload, driven through a replay on stdin.

etwlua reads JSON lines from a pipe this test writes, so the test decides
when each event arrives: a reload is asked for (SIGHUP, or a file changed
under --watch), and events are fed until the new state's on_start says it
was swapped in.  Every wait polls for a marker line and is bounded.
Ends with "reload: N passed, N failed"."""
import json, os, signal, subprocess, sys, tempfile, time

BIN = os.path.realpath(sys.argv[1])
HERE = os.path.dirname(os.path.abspath(__file__))
EVENT = open(os.path.join(HERE, "..", "data", "events.jsonl")).readline()
LIMIT = float(os.environ.get("ETWLUA_TEST_LIMIT", "60"))
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


class Run:
    def __init__(self, args, tmp):
        self.err_path = os.path.join(tmp, "err")
        self.out_path = os.path.join(tmp, "out")
        self.p = subprocess.Popen([BIN, "-r", "-"] + args, stdin=subprocess.PIPE, stdout=open(self.out_path, "w"),
                                  stderr=open(self.err_path, "w"))
        self.fed = 0

    def err(self):
        return open(self.err_path).read()

    def feed(self, n=1):
        for _ in range(n):
            self.p.stdin.write(EVENT.encode())
            self.fed += 1
        self.p.stdin.flush()

    def feed_until(self, text, count=1):
        """Feeds one event at a time until text appears count times in stderr."""
        end = time.monotonic() + LIMIT
        while time.monotonic() < end:
            if self.err().count(text) >= count:
                return True
            self.feed()
            time.sleep(0.02)
        return False

    def wait_for(self, text, count=1):
        end = time.monotonic() + LIMIT
        while time.monotonic() < end:
            if self.err().count(text) >= count:
                return True
            time.sleep(0.02)
        return False

    def finish(self):
        self.p.stdin.close()
        try:
            rc = self.p.wait(LIMIT)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = "timeout"
        return rc, open(self.out_path).read(), self.err()


COUNTER = '''local etw = require "etw"
local s = etw.reload_state
local n = 0
etw.on_start(function()
  n = s.n or 0
  print("START %(v)s n=" .. n .. " nested=" .. tostring(s.t and s.t.list and s.t.list[3]) ..
        " flag=" .. tostring(s.t and s.t.flag) .. " pi=" .. tostring(s.t and s.t[1.5]))
end)
etw.on(function(ev) n = n + 1 end)
etw.on_stop(function()
  s.n = n
  s.t = {list = {1, 2, "three"}, flag = true, [1.5] = "pi", deep = {a = {b = {c = "d"}}}}
  print("STOP %(v)s n=" .. n)
end)
'''


def test_sighup_and_state(tmp):
    script = os.path.join(tmp, "count.lua")
    open(script, "w").write(COUNTER % {"v": "v1"})
    r = Run(["--no-rules", "--stats", script], tmp)
    check(r.feed_until("START v1 n=0"), "first on_start")
    r.feed(5)
    open(script, "w").write(COUNTER % {"v": "v2"})
    r.p.send_signal(signal.SIGHUP)
    ok = r.feed_until("START v2")
    check(ok, "SIGHUP reload swapped in: " + r.err()[-400:])
    r.feed(3)
    rc, out, err = r.finish()
    check(rc == 0, "exit %s" % rc)
    lines = [l for l in err.splitlines() if l.startswith(("START", "STOP"))]
    # on_stop of the old state, then on_start of the new one, in order
    check(lines[0] == "START v1 n=0 nested=nil flag=nil pi=nil", lines)
    check(lines[1].startswith("STOP v1") and lines[2].startswith("START v2"), lines)
    n1 = int(lines[1].split("n=")[1])
    check(lines[2] == "START v2 n=%d nested=three flag=true pi=pi" % n1, lines[2])
    # none lost: the count carried over equals the events fed
    check(lines[-1] == "STOP v2 n=%d" % r.fed, (lines[-1], r.fed))
    check("etwlua: reload: reloads=1 refused=0" in err, err[-600:])
    rl = [json.loads(l) for l in out.splitlines() if '"etwlua.reloaded"' in l]
    check(len(rl) == 1 and rl[0]["fields"]["changed"] == "SIGHUP" and rl[0]["fields"]["handlers"] == 1 and
          rl[0]["severity"] == "info", out[-600:])


def test_watch_refusals(tmp):
    script = os.path.join(tmp, "w.lua")
    good = COUNTER % {"v": "ok"}
    open(script, "w").write(good)
    r = Run(["--no-rules", "--stats", "--watch", script], tmp)
    check(r.wait_for("--watch: watching 1 path(s)"), "watch armed: " + r.err())
    check(r.feed_until("START ok n=0"), "first on_start")
    line = len(good.splitlines()) + 2
    r.feed(4)
    # a syntax error: refused on the loader thread, naming file and line
    open(script, "w").write(good + "\nlocal x = = 1\n")
    check(r.wait_for("reload refused"), "syntax error refused: " + r.err()[-400:])
    err = r.err()
    check(script + ":%d:" % line in err and "the running scripts and rules go on" in err, err[-500:])
    r.feed(4)
    # an on_start that throws: refused at the swap, the old state goes on
    open(script, "w").write(good + '\netw.on_start(function() error("no start today") end)\n')
    check(r.feed_until("reload refused", 2), "on_start error refused: " + r.err()[-400:])
    err = r.err()
    check("no start today" in err and script + ":%d:" % line in err, err[-600:])
    r.feed(4)
    # a good version again: swapped in, and the count is whole
    open(script, "w").write(good.replace('"START ok', '"START good'))
    check(r.feed_until("START good"), "good version after refusals: " + r.err()[-400:])
    rc, out, err = r.finish()
    check(rc == 0, "exit %s" % rc)
    last = [l for l in err.splitlines() if l.startswith("STOP")][-1]
    check(last == "STOP ok n=%d" % r.fed, (last, r.fed))
    check("reloads=1 refused=2" in err, err[-300:])
    refused = [json.loads(l) for l in out.splitlines() if '"etwlua.reload_refused"' in l]
    check(len(refused) == 2, out[-800:])
    rl = [json.loads(l) for l in out.splitlines() if '"etwlua.reloaded"' in l]
    check(len(rl) == 1 and rl[0]["fields"]["changed"].endswith("/w.lua"), out[-600:])


def test_reload_state_rejects(tmp):
    script = os.path.join(tmp, "f.lua")
    open(script, "w").write('''local etw = require "etw"
etw.on(function() end)
etw.on_start(function() print("START keys=" .. tostring(next(etw.reload_state))) end)
etw.on_stop(function() etw.reload_state.ok = 1; etw.reload_state.deep = {x = {f = print}} end)
''')
    r = Run(["--no-rules", script], tmp)
    check(r.feed_until("START keys=nil"), "first start")
    r.p.send_signal(signal.SIGHUP)
    check(r.feed_until("START keys", 2), "reload: " + r.err()[-300:])
    rc, out, err = r.finish()
    check(rc == 0, "exit %s: %s" % (rc, err[-300:]))
    check("etw.reload_state.deep.x.f: a function cannot be carried over" in err and
          "nothing was carried over" in err, err[-500:])
    check(err.count("START keys=nil") == 2, "nothing carried: " + err[-300:])
    # replacing the table is refused (etw is read-only); filling it is fine
    open(script, "w").write('local etw = require "etw"\netw.reload_state = {}\n')
    p = subprocess.run([BIN, "--no-rules", "-r", "/dev/null", script], capture_output=True, text=True, timeout=LIMIT)
    check("read-only" in p.stderr, p.stderr)


def test_sigma_watch(tmp):
    rule = os.path.join(tmp, "r.yml")
    tmpl = '''title: Cmd started %s
id: 0b7e1a2c-1111-4c1a-9d3e-000000000001
status: test
level: high
logsource:
  product: windows
  category: process_creation
detection:
  sel:
    Image|endswith: '\\cmd.exe'
  condition: sel
'''
    open(rule, "w").write(tmpl % "v1")
    r = Run(["--no-rules", "--stats", "--watch", "--sigma", rule], tmp)
    check(r.wait_for("--watch: watching 1 path(s)"), "watch armed: " + r.err())
    r.feed(2)
    open(rule, "w").write(tmpl % "v2")
    # no Lua here: the swap shows in stdout, which is buffered until exit;
    # feed until the loader says it loaded the new rules
    check(r.wait_for("1 of 1 rule(s) run", 2), "sigma reloaded: " + r.err()[-300:])
    r.feed(2)  # the first of these swaps the new rules in
    rc, out, err = r.finish()
    titles = [json.loads(l)["title"] for l in out.splitlines() if l.startswith("{")]
    check(titles == ["Cmd started v1", "Cmd started v1", "Scripts and rules reloaded", "Cmd started v2",
                     "Cmd started v2"], titles)
    rl = [json.loads(l) for l in out.splitlines() if '"etwlua.reloaded"' in l]
    check(len(rl) == 1 and rl[0]["fields"]["sigma_rules"] == 1, out[-500:])


def test_alert_while_loading(tmp):
    script = os.path.join(tmp, "top.lua")
    open(script, "w").write('local etw = require "etw"\netw.alert{rule = "test.top", severity = "low"}\n'
                            'etw.on(function() end)\netw.on_start(function() print("TOP-START") end)\n')
    r = Run(["--no-rules", script], tmp)
    check(r.feed_until("TOP-START"), "first start")
    r.p.send_signal(signal.SIGHUP)
    check(r.feed_until("TOP-START", 2), "reload: " + r.err()[-300:])
    rc, out, err = r.finish()
    # the first load sent it; the reload's load on the loader thread says why not
    check(rc == 0 and out.count('"rule":"test.top"') == 1, (rc, out[-300:]))
    check("alert test.top raised while the new scripts load is not sent" in err, err[-300:])


def test_usage(tmp):
    p = subprocess.run([BIN, "--watch", "-e", "x = 1", "--no-rules", "-r", "/dev/null"], capture_output=True,
                       text=True, timeout=LIMIT)
    check(p.returncode == 2 and "--watch: no files to watch" in p.stderr, (p.returncode, p.stderr))
    p = subprocess.run([BIN, "--watch", "--no-rules", "-r", "/dev/null"], capture_output=True, text=True,
                       timeout=LIMIT)
    check(p.returncode == 2 and "no scripts or rules to reload" in p.stderr, (p.returncode, p.stderr))
    p = subprocess.run([BIN, "--watch", "/nonexistent/x.lua", "--no-rules", "-r", "/dev/null"], capture_output=True,
                       text=True, timeout=LIMIT)
    check(p.returncode != 0, (p.returncode, p.stderr))


for t in (test_sighup_and_state, test_watch_refusals, test_reload_state_rejects, test_sigma_watch, test_alert_while_loading,
          test_usage):
    with tempfile.TemporaryDirectory() as tmp:
        try:
            t(tmp)
        except Exception as e:  # a crash of the test is a failure, not a stop
            check(False, "%s: %r" % (t.__name__, e))
print("reload: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
