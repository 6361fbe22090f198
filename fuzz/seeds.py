#!/usr/bin/env python3
"""seeds.py - rebuilds the generated seeds of fuzz/corpus/ from the project's
own examples and tests. Run it from the repository root after the examples
or tests change: python3 fuzz/seeds.py

It writes only files named seed-*; anything else in a corpus folder (the
regression inputs fuzzing found, named after what they broke) is kept.

  charter/  every charter YAML file of examples/ and tests/data/, and each
            example merged into one file
  cel/      every `when` and `spend` of those charters, the expressions the
            CEL unit tests evaluate, and a few with their own variables
            (expression, a NUL byte, a JSON object)
  condition/ the expressions of cel/ without variables (fuzz_condition puts
            each into a charter as the `when` of a rule)
  request/  the example requests and every request of the *.test.yaml files
"""
import glob
import hashlib
import json
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def charter_files():
    pats = ["examples/*/charter/*.yaml", "tests/data/**/*.yaml", "tests/data/**/*.yml"]
    out = set()
    for p in pats:
        for f in glob.glob(os.path.join(ROOT, p), recursive=True):
            if not f.endswith(".test.yaml"):
                out.add(f)
    return sorted(out)


def test_files():
    return sorted(glob.glob(os.path.join(ROOT, "examples/*/tests/*.test.yaml")) +
                  glob.glob(os.path.join(ROOT, "tests/data/**/*.test.yaml"), recursive=True))


def write(folder, data):
    if isinstance(data, str):
        data = data.encode()
    os.makedirs(folder, exist_ok=True)
    name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def clear(folder):
    for f in glob.glob(os.path.join(folder, "seed-*")):
        os.remove(f)


def load_yaml(path):
    try:
        with open(path) as f:
            return yaml.safe_load(f)
    except yaml.YAMLError:
        return None


def walk(node, fn):
    fn(node)
    if isinstance(node, dict):
        for v in node.values():
            walk(v, fn)
    elif isinstance(node, list):
        for v in node:
            walk(v, fn)


def charter_seeds():
    folder = os.path.join(CORPUS, "charter")
    clear(folder)
    for f in charter_files():
        with open(f, "rb") as fh:
            write(folder, fh.read())
    # Each example as one file: the sections of its files merged.
    for d in sorted(glob.glob(os.path.join(ROOT, "examples/*/charter"))):
        merged = {}
        for f in sorted(glob.glob(os.path.join(d, "*.yaml"))):
            doc = load_yaml(f) or {}
            for k, v in doc.items():
                if isinstance(v, list):
                    merged.setdefault(k, []).extend(v)
                else:
                    merged[k] = v
        write(folder, yaml.safe_dump(merged, sort_keys=False))


CEL_EXTRA = [
    "input.amount > 100 && subject.tenure_years >= 2",
    "input.tags.exists(t, t == 'a') && input.tags.all(t, size(t) == 1)",
    "input.tags.map(t, t + '!').filter(t, t.startsWith('a'))",
    "[1, 2, 3].exists_one(x, x > 2)",
    "input.nested.k.map(x, x * 2).size() == 3",
    "{'a': 1, 'b': [1, 2]}.b[1] == 2",
    "subject.name.matches('^A[a-z]+$')",
    "'abc'.contains('b') && 'abc'.endsWith('c') && size('héllo') == 5",
    "timestamp(input.when) + duration('1h30m') > now",
    "now.getHours() == 10 && now.getDayOfWeek('Europe/Paris') >= 0",
    "duration('90s').getSeconds() == 90",
    "int('42') + uint(3) == 45",
    "double(input.amount) * input.rate",
    "string(1.5) + string(true) + string(b'x')",
    "bytes('abc').size()",
    "type(input) == map && type(1u) == uint",
    "has(input.nested.k) ? input.nested.k[0] : -1",
    "n < 0 ? -n : n",
    "big + 1u",
    "nothing == null",
    "ok && !nothing",
    "input.amount in [100, 250, 500]",
    "'EUR' in ['EUR', 'USD'] && !('GBP' in {'EUR': 1})",
    "dyn(input.amount) == 250.0",
    "[[1], [2, 3]].all(l, l.size() > 0)",
    "r'\\d+'.size() > 0 && '''multi\nline'''.size() > 0",
    "0x7fffffffffffffff + 1",
    "1.0 / 0.0",
    "-9223372036854775808",
    "'a' * 3",
    "[1, 2] + [3] == [1, 2, 3]",
]

CEL_WITH_VARS = [
    ("x.all(i, i > 0)", {"x": [1, 2, 3]}),
    ("m['k'] + m.other", {"m": {"k": 1, "other": 2}}),
    ("s.matches(p)", {"s": "aaaaaaaaaaaaaaaaaaaaaaaa!", "p": "^(a+)+$"}),
    ("t.size() > 2 && t[0] == 'é'", {"t": "éàü"}),
    ("timestamp(ts) < now", {"ts": "2020-01-01T00:00:00Z"}),
    ("d > 1e308 || d < -1e308", {"d": 1.7976931348623157e308}),
]


def cel_seeds():
    folder = os.path.join(CORPUS, "cel")
    clear(folder)
    exprs = set(CEL_EXTRA)

    def grab(node):
        if isinstance(node, dict):
            for k in ("when", "spend"):
                if isinstance(node.get(k), str):
                    exprs.add(node[k])

    for f in charter_files():
        walk(load_yaml(f), grab)
    lit = re.compile(r'\b(?:is_true|error_of|is_error|run|eval|compile)\(\s*"((?:[^"\\]|\\.)*)"')
    for f in sorted(glob.glob(os.path.join(ROOT, "tests/unit/test_cel_*.c"))):
        with open(f) as fh:
            for m in lit.finditer(fh.read()):
                try:
                    s = m.group(1).encode().decode("unicode_escape").encode("latin-1").decode()
                except (UnicodeDecodeError, UnicodeEncodeError):
                    continue
                exprs.add(s)
    cond = os.path.join(CORPUS, "condition")
    clear(cond)
    for e in sorted(exprs):
        write(folder, e)
        write(cond, e)
    for e, v in CEL_WITH_VARS:
        write(folder, e.encode() + b"\0" + json.dumps(v).encode())


def request_seeds():
    folder = os.path.join(CORPUS, "request")
    clear(folder)
    for f in sorted(glob.glob(os.path.join(ROOT, "examples/*/requests/*.json"))):
        with open(f, "rb") as fh:
            write(folder, fh.read())
    for f in test_files():
        doc = load_yaml(f)
        if not isinstance(doc, dict):
            continue
        for case in doc.get("tests") or []:
            req = case.get("request") if isinstance(case, dict) else None
            if isinstance(req, dict):
                write(folder, json.dumps(req, default=lambda o: o.isoformat().replace("+00:00", "Z")))


def main():
    charter_seeds()
    cel_seeds()
    request_seeds()
    for name in ("charter", "cel", "condition", "request"):
        files = glob.glob(os.path.join(CORPUS, name, "*"))
        size = sum(os.path.getsize(f) for f in files)
        print(f"{name}: {len(files)} files, {size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
