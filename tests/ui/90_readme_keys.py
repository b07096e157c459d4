#!/usr/bin/env python3
"""ui/README.md's key table is generated from the request table (ui/requests.h) — the one
that dispatches keys and draws the hints and the ? help — and must not drift from it."""
import os, re, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

out = subprocess.run([RAILTOP, "--keys-markdown"], capture_output=True, text=True)
is_(out.returncode, 0, "railtop --keys-markdown exits 0")
ok(out.stdout.startswith("| keys |") and "| `A` | approve |" in out.stdout, "it prints the table", out.stdout[:300])
readme = open(os.path.join(ROOT, "ui", "README.md")).read()
m = re.search(r"(?s)<!-- keys:begin -->\n(.*?)<!-- keys:end -->", readme)
ok(m is not None, "ui/README.md has the generated section")
got = m.group(1) if m else ""
if got != out.stdout:
    import difflib
    diag("\n".join(difflib.unified_diff(got.splitlines(), out.stdout.splitlines(), "README", "requests.h", lineterm="")))
ok(got == out.stdout, "ui/README.md's key table is the request table (run `make readme-keys`)")
rows = [l for l in out.stdout.splitlines()[2:] if l.startswith("|")]
header = open(os.path.join(ROOT, "ui", "requests.h")).read()
is_(len(rows), len(re.findall(r"^\s*X\(REQ_", header, re.M)), "one row per request")
