#!/usr/bin/env python3
"""The bulk-resolve benchmark (see scripts/bench.d/bulk.sh). Prints ROW| lines."""
import json, os, re, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import ROOT, log, row, rt  # noqa: E402
import uikit as U  # noqa: E402
N = int(os.environ.get("BENCH_BULK_N", "1000"))
TYPE = os.environ.get("BENCH_BULK_TYPE", "underpaid")   # the console's; write_off must be allowed


srv = rt.Raild("--no-workers", name="bench-bulk")
ops_name = rt.uniq("bench-ops")
OPS = rt.admin("create-key", "--role", "ops", "--name", ops_name, "--env", "sandbox", check=True)[1].strip()
# curl resolves N open overpaid exceptions of the sandbox one call at a time (accept); the
# console tags up to N open underpaid ones through its filter (write_off)
total = int(rt.sql1("SELECT count(*) FROM exceptions WHERE environment = 'sandbox' AND type = :'t'"
                    " AND state = 'open'", t=TYPE))
log("%d open %s exceptions in sandbox for the console; curl resolves overpaid ones" % (total, TYPE))
ids = [r[0] for r in rt.sql("SELECT public_id FROM exceptions WHERE environment = 'sandbox' AND type = 'overpaid'"
                            " AND state = 'open' ORDER BY id LIMIT %d" % N)]

# ---------------------------------------------------------------- baseline: curl, one call each
script = os.path.join(os.environ["RT_LOGDIR"], "bulk-curl.sh")
hdr = os.path.join(os.environ["RT_LOGDIR"], "bulk-curl.hdr")
with open(hdr, "w") as f:
    f.write("Authorization: Bearer %s\nContent-Type: application/json\n" % OPS)
os.chmod(hdr, 0o600)
with open(script, "w") as f:
    for i in ids:
        f.write("curl -s -o /dev/null -w '%%{http_code}\\n' -X POST -H @%s %s/v1/exceptions/%s/resolve -d '%s'\n" % (
            hdr, srv.base, i, json.dumps({"resolution": "accept", "note": "bench: keep the excess", "version": 1})))
t0 = time.time()
out = subprocess.run(["bash", script], capture_output=True, text=True).stdout.split()
curl_s = time.time() - t0
log("curl loop: %d calls in %.1f s, statuses %s" % (len(out), curl_s, sorted(set(out))))

# ---------------------------------------------------------------- the console
c = U.Console(api=srv.base, key_file=U.key_file(OPS), name="bench-bulk")
c.wait("Payments", timeout=30)
c.keys(":")
c.type("exceptions type=%s state=open" % TYPE)
c.keys("Enter")
c.wait(TYPE, timeout=30)
c.keys("*")
c.wait(re.compile(r"\d+ tagged"), timeout=60)
c.keys("r")
menu = c.wait("Resolve all tagged as", timeout=20) or ""
mm = re.search(r"(\d)\W{1,4}write_off", menu)
c.keys(mm.group(1) if mm else "4", "Enter")
c.wait("Note for all", timeout=20)
c.type("bench: shortfalls under the threshold are written off")
c.keys("Enter")
conf = c.wait(re.compile(r"Resolve \d+ tagged\?"), timeout=20) or ""
m = re.search(r"Resolve (\d+) tagged\?", conf)
ntag = int(m.group(1)) if m else 0
c.keys("Tab")
t0 = time.time()
c.keys("Enter")
progress = None
end = time.time() + 120
result = ""
while time.time() < end:
    s = c.text()
    if progress is None and re.search(r"\d+ of \d+|\d+/\d+", s) and "Bulk result" not in s:
        progress = s
    if "Bulk result" in s:
        result = s
        break
    time.sleep(0.05)
console_s = time.time() - t0
mres = re.search(r"(\d+) succeeded, (\d+) failed", result)
audits = int(rt.sql1("SELECT count(*) FROM audit_log WHERE action = 'exception.resolve' AND actor = :'a'", a=ops_name))
curl_ok = len([x for x in out if x == "200"])
done = audits - curl_ok   # the console's: one audit row each, beside curl's
log("console: %d tagged, result %r in %.2f s; %d resolved and audited; progress seen: %s" % (
    ntag, mres.group(0) if mres else None, console_s, done, progress is not None))
c.close()
ok = bool(mres) and done == ntag and ntag >= min(N, total) and console_s <= 10
row("bulk resolve of %d exceptions from the console (* then r), end to end" % ntag, "%.2f" % console_s, "s",
    "%d single resolves with curl" % len(out), "%.2f s" % curl_s, "%.2fx" % (console_s / curl_s if curl_s else 0),
    "<= 10 s, every one resolved and audited", ok)
srv.stop()
