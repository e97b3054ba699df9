#!/usr/bin/env python3
"""Runs the rule library over the OTRF Security-Datasets captures in
../shared/data/otrf and writes tests/rules/otrf.md: per capture its events,
its alerts by rule, and the verdict on each (the documented attack, or a
false alert, with why), then the share of captures whose documented attack
is flagged and the false alerts per 10,000 events.

  otrf.py BIN OUT             writes OUT
  otrf.py BIN --check REPORT  exits 1 when the hits differ from REPORT or an
                              alert has no verdict

The captures are zipped JSON exports; ../shared/tools/otrf2jsonl.py turns
them into JSON lines once, into a cache outside the repository (OTRF_CACHE,
default $TMPDIR/etwlua-otrf-<size and mtime of the zips>), bounded by
OTRF_CONVERT_TIMEOUT seconds (default 1800).  The converted data is never
committed.  Verdicts live in tests/rules/otrf-verdicts.tsv, one line per
(capture, rule): CAPTURE<TAB>RULE<TAB>attack|false<TAB>why, CAPTURE * for
every capture the rule fires in (a line naming the capture wins)."""
import collections, glob, hashlib, json, os, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared"))
DATA = os.path.join(SHARED, "data", "otrf")


def load_verdicts(path):
    v = {}
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 4 or parts[2] not in ("attack", "false"):
            sys.exit("%s:%d: expected CAPTURE<TAB>RULE<TAB>attack|false<TAB>why" % (path, n))
        v[(parts[0], parts[1])] = (parts[2], parts[3])
    return v


def metadata():
    """zip name -> (title, techniques) from _metadata/*.yaml"""
    import yaml
    out = {}
    for f in sorted(glob.glob(os.path.join(DATA, "_metadata", "*.yaml"))):
        try:
            m = yaml.safe_load(open(f, encoding="utf-8"))
        except Exception:
            continue
        techs = []
        for a in m.get("attack_mappings") or []:
            t = str(a.get("technique") or "")
            s = a.get("sub-technique")
            techs.append(t + ("." + str(s) if s else ""))
        for fl in m.get("files") or []:
            link = str(fl.get("link") or "")
            if fl.get("type") == "Host" and link.endswith(".zip"):
                out[os.path.basename(link)[:-4]] = (m.get("title", ""), ", ".join(t for t in techs if t))
    return out


def convert(zips):
    h = hashlib.sha1()
    for z in zips:
        st = os.stat(z)
        h.update(("%s %d %d\n" % (os.path.basename(z), st.st_size, int(st.st_mtime))).encode())
    cache = os.environ.get("OTRF_CACHE") or os.path.join(tempfile.gettempdir(), "etwlua-otrf-" + h.hexdigest()[:12])
    os.makedirs(cache, exist_ok=True)
    missing = [z for z in zips if not os.path.exists(os.path.join(cache, os.path.basename(z)[:-4] + ".jsonl"))]
    if missing:
        tool = os.path.join(SHARED, "tools", "otrf2jsonl.py")
        tmp = cache + ".part"
        os.makedirs(tmp, exist_ok=True)
        timeout = int(os.environ.get("OTRF_CONVERT_TIMEOUT", "1800"))
        r = subprocess.run([sys.executable, tool, "--dir", DATA, "--outdir", tmp], capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            sys.exit("otrf: conversion failed: " + r.stderr[-500:])
        for f in os.listdir(tmp):
            os.replace(os.path.join(tmp, f), os.path.join(cache, f))
        os.rmdir(tmp)
    return cache


def main():
    binary = sys.argv[1]
    zips = sorted(glob.glob(os.path.join(DATA, "*.zip")))
    if not zips:
        print("otrf report: skipped (../shared/data/otrf is absent)")
        print("otrf-report: 0 passed, 0 failed")
        return 0
    verdicts = load_verdicts(os.path.join(HERE, "otrf-verdicts.tsv"))
    meta = metadata()
    cache = convert(zips)
    rows, total_events = [], 0
    judged, unjudged, attack_caps = collections.Counter(), [], 0
    per_rule = collections.defaultdict(lambda: collections.Counter())
    for z in zips:
        name = os.path.basename(z)[:-4]
        src = os.path.join(cache, name + ".jsonl")
        p = subprocess.run([binary, "-r", src, "--alerts-only", "--stats"], capture_output=True, text=True)
        n = 0
        for line in p.stderr.splitlines():
            if "stats: read=" in line:
                n = int(line.split("read=")[1].split()[0])
        total_events += n
        hits = collections.Counter()
        for line in p.stdout.splitlines():
            if line.startswith("{"):
                hits[json.loads(line)["rule"]] += 1
        found = False
        vs = []
        for r in sorted(hits):
            v = verdicts.get((name, r)) or verdicts.get(("*", r))
            if not v:
                unjudged.append((name, r))
                judged["unjudged"] += hits[r]
                vs.append("%s (%d): unjudged" % (r, hits[r]))
                continue
            judged[v[0]] += hits[r]
            per_rule[r][v[0]] += hits[r]
            found = found or v[0] == "attack"
            vs.append("%s (%d): %s" % (r, hits[r], "attack" if v[0] == "attack" else "false: " + v[1]))
        attack_caps += found
        title, techs = meta.get(name, ("(no metadata)", ""))
        rows.append("| %s | %s | %s | %d | %s | %s |" % (name, title.replace("|", "/"), techs, n,
                                                          "yes" if found else "no", "<br>".join(vs) or "-"))
    rate = 10000.0 * judged["false"] / max(total_events, 1)
    out = ["# Rule library over the OTRF Security-Datasets captures", "",
           "Generated by `tests/rules/otrf.py` from `../shared/data/otrf` (58 zipped exports of Sysmon, Security and",
           "PowerShell logs recorded on lab machines during one documented attack each, with all their background",
           "activity).  `_metadata/` names each attack; every alert below is judged in",
           "`tests/rules/otrf-verdicts.tsv` as the documented attack (or a step of it) or a false alert, with why.",
           "CI fails when the hits change without this report being regenerated, or when an alert has no verdict.", "",
           "- captures: %d, events: %d, alerts: %d" % (len(zips), total_events, sum(judged.values())),
           "- documented attack flagged: %d of %d captures (%.1f%%)" % (attack_caps, len(zips), 100.0 * attack_caps / len(zips)),
           "- alerts on the attack: %d; false alerts: %d, %.2f per 10,000 events; unjudged: %d" %
           (judged["attack"], judged["false"], rate, judged["unjudged"]), "",
           "## Per rule", "", "| rule | attack | false |", "|---|---|---|"]
    for r in sorted(per_rule):
        out.append("| %s | %d | %d |" % (r, per_rule[r]["attack"], per_rule[r]["false"]))
    out += ["", "## Per capture", "", "| capture | documented attack | ATT&CK | events | attack flagged | alerts and verdicts |",
            "|---|---|---|---|---|---|"] + rows
    text = "\n".join(out) + "\n"
    if len(sys.argv) > 3 and sys.argv[2] == "--check":
        old = open(sys.argv[3]).read()
        if old != text:
            import difflib
            sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), text.splitlines(True), "committed", "now"))
            print("otrf-report: 0 passed, 1 failed (the rules' hits changed: run tests/rules/otrf.py to regenerate)")
            return 1
        if unjudged:
            for c, r in unjudged:
                print("unjudged: %s %s" % (c, r))
            print("otrf-report: 0 passed, 1 failed (alerts without a verdict in tests/rules/otrf-verdicts.tsv)")
            return 1
        print("otrf-report: 1 passed, 0 failed")
        return 0
    open(sys.argv[2], "w").write(text)
    for c, r in unjudged:
        print("unjudged: %s\t%s" % (c, r))
    return 0


sys.exit(main())
