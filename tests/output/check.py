#!/usr/bin/env python3
"""check.py - reads what the counterparts of tests/output/run.sh received.

    check.py count FORMAT FILE        distinct alerts ("seq N") that arrived whole
    check.py syslog-fields FILE HOST  RFC 5424 fields as rsyslog parsed them
    check.py es|hec FILE N [AUTH]     the batches' form, N alerts in all
    check.py kafka-keys FILE HOST     every message keyed by the host
    check.py doc-snippets FILE        the toml and yaml blocks of a doc parse

FORMAT: json (a file of JSON alerts), syslog (rsyslog's
"MSGID|SEV|APP|HOST|PROCID|TIME|MSG" lines), kafka ("KEY<TAB>PAYLOAD"), es or
hec (http_receiver.py's request log; only requests answered 200 count).
Problems go to stderr, with a non-zero exit.
"""
import json
import re
import sys


def alerts(fmt, path):
    """Yields each alert (a dict) that arrived whole."""
    try:
        f = open(path, encoding="utf-8", errors="replace")
    except OSError:
        return
    with f:
        for line in f:
            line = line.rstrip("\n")
            try:
                if fmt == "json":
                    yield json.loads(line)
                elif fmt == "syslog":
                    yield json.loads(line.split("|", 6)[6])
                elif fmt == "kafka":
                    yield json.loads(line.split("\t", 1)[1])
                elif fmt in ("es", "hec"):
                    r = json.loads(line)
                    if r["status"] != 200:
                        continue
                    for a in batch(fmt, r["body"]):
                        yield a
            except (ValueError, IndexError, KeyError):
                continue


def batch(fmt, body):
    lines = body.split("\n")
    if lines[-1] != "":
        raise ValueError("the body does not end with a newline")
    lines = lines[:-1]
    if fmt == "es":
        if len(lines) % 2:
            raise ValueError("_bulk: an odd number of lines")
        for i in range(0, len(lines), 2):
            if json.loads(lines[i]) != {"index": {}}:
                raise ValueError("_bulk: line %d is not an action line" % i)
            yield json.loads(lines[i + 1])
    else:
        for l in lines:
            o = json.loads(l)
            if not isinstance(o.get("event"), dict):
                raise ValueError("HEC: no event object")
            if not isinstance(o.get("time"), (int, float)) or not isinstance(o.get("host"), str):
                raise ValueError("HEC: time or host missing")
            if o.get("sourcetype") != "etwlua:alert":
                raise ValueError("HEC: sourcetype")
            yield o["event"]


def seqs(fmt, path):
    s = set()
    for a in alerts(fmt, path):
        m = re.fullmatch(r"seq (\d+)", a.get("message", ""))
        if a.get("rule") == "test.seq" and m:
            s.add(int(m.group(1)))
    return s


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def main():
    cmd = sys.argv[1]
    if cmd == "count":
        print(len(seqs(sys.argv[2], sys.argv[3])))
    elif cmd == "syslog-fields":
        host = sys.argv[3]
        n = 0
        for line in open(sys.argv[2], encoding="utf-8"):
            msgid, sev, app, hostname, procid, ts, msg = line.rstrip("\n").split("|", 6)
            a = json.loads(msg)
            if msgid != a["rule"] or msgid != "test.seq":
                fail("MSGID %r is not the rule id" % msgid)
            if sev != "3":
                fail("severity %r: high should be 3 (err)" % sev)
            if app != "etwlua":
                fail("APP-NAME %r" % app)
            if hostname != host:
                fail("HOSTNAME %r, expected %r" % (hostname, host))
            if not procid.isdigit():
                fail("PROCID %r" % procid)
            # the alert's time, cut to microseconds
            if not a["time"].startswith(ts[:19]) or not ts.endswith(("Z", "+00:00")):
                fail("TIMESTAMP %r for alert time %r" % (ts, a["time"]))
            n += 1
        if not n:
            fail("nothing received")
    elif cmd in ("es", "hec"):
        want, auth = int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else ""
        got = 0
        for line in open(sys.argv[2], encoding="utf-8"):
            r = json.loads(line)
            if r["status"] != 200:
                continue
            ct = "application/x-ndjson" if cmd == "es" else "application/json"
            if r["ctype"] != ct:
                fail("Content-Type %r, expected %r" % (r["ctype"], ct))
            if (r["auth"] or "") != auth:
                fail("Authorization %r, expected %r" % (r["auth"], auth))
            try:
                got += len(list(batch(cmd, r["body"])))
            except ValueError as e:
                fail(str(e))
        if got != want or len(seqs(cmd, sys.argv[2])) != want:
            fail("%d alerts, expected %d" % (got, want))
    elif cmd == "kafka-keys":
        for line in open(sys.argv[2], encoding="utf-8"):
            key = line.split("\t", 1)[0]
            if key != sys.argv[3]:
                fail("key %r, expected the host %r" % (key, sys.argv[3]))
    elif cmd == "doc-snippets":
        # Vector, Fluent Bit and Filebeat are not Debian packages: their
        # snippets are at least checked to be well-formed TOML / YAML
        import tomllib
        text = open(sys.argv[2], encoding="utf-8").read()
        blocks = re.findall(r"```(toml|yaml)\n(.*?)```", text, re.S)
        for kind, body in blocks:
            if kind == "toml":
                tomllib.loads(body)
            else:
                try:
                    import yaml
                except ImportError:
                    continue
                yaml.safe_load(body)
        print(len(blocks))
    else:
        fail("unknown command " + cmd)


main()
