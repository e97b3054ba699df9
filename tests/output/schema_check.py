#!/usr/bin/env python3
"""schema_check.py REF FILE [MIN] - checks etwlua's ECS or OCSF output against a
field reference (tests/output/data/ecs_fields.json, ocsf_fields.json).

Every line of FILE is one JSON object.  Each field in it (objects are walked;
an array of objects adds "[]" to the path) must be in the reference's
"fields" with the JSON type the reference gives, and be an array only where
the reference allows it.  Fields under a "custom" namespace are etwlua's own
and are not checked inside.  The reference's "required" fields must be in
every line, its "required_2004" ones in every OCSF Detection Finding.  At
least MIN lines (default 1) must have been checked.  Problems go to stderr
with a non-zero exit.
"""
import json
import sys

JSON_TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
}


def leaves(obj, prefix=""):
    """Yields (path, value) for every field that is not an object."""
    for k, v in obj.items():
        path = prefix + k
        if isinstance(v, dict):
            yield from leaves(v, path + ".")
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for x in v:
                yield from leaves(x, path + "[].")
        else:
            yield path, v


def has(obj, path):
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return False
        obj = obj[part]
    return True


def main():
    ref = json.load(open(sys.argv[1], encoding="utf-8"))
    want = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    fields, custom = ref["fields"], ref.get("custom", {})
    bad, n = [], 0
    for lineno, line in enumerate(open(sys.argv[2], encoding="utf-8"), 1):
        if not line.strip():
            continue
        doc = json.loads(line)
        n += 1
        for ns in custom:
            if ns in doc and not isinstance(doc[ns], dict):
                bad.append(f"line {lineno}: {ns}: the custom namespace is not an object")
        for path, v in leaves({k: v for k, v in doc.items() if k not in custom}):
            f = fields.get(path)
            if f is None:
                bad.append(f"line {lineno}: {path}: not in the reference")
                continue
            vals = v if isinstance(v, list) else [v]
            if isinstance(v, list) and not f.get("array"):
                bad.append(f"line {lineno}: {path}: an array, the reference says {f['type']}")
            for x in vals:
                if not JSON_TYPES[f["json"]](x):
                    bad.append(f"line {lineno}: {path}: {json.dumps(x)[:60]} is not a JSON {f['json']} ({f['type']})")
        required = list(ref.get("required", []))
        if doc.get("class_uid") == 2004:
            required += ref.get("required_2004", [])
        for path in required:
            if not has(doc, path):
                bad.append(f"line {lineno}: {path}: required, missing")
    if n < want:
        bad.append(f"{sys.argv[2]}: {n} line(s) checked, expected at least {want}")
    for b in bad[:40]:
        print(b, file=sys.stderr)
    if bad:
        sys.exit(1)
    print(f"{n} line(s) match {sys.argv[1]}")


main()
