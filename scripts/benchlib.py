"""benchlib — what the Python benchmarks (scripts/bench-*.py) share: the test library (tests/lib,
tests/chain, tests/ui, tests/webhooks on the path) set up for a benchmark — logs under BENCH_DIR, no TAP plan
line at exit — and the ROW| lines bench.sh collects into its table."""
import atexit, os, sys
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("RT_LOGDIR", os.path.join(os.environ.get("BENCH_DIR", os.path.join(ROOT, "build", "bench")),
                                                "logs"))
for _d in ("ui", "chain", "webhooks", "lib"):
    sys.path.insert(0, os.path.join(ROOT, "tests", _d))
import rt  # noqa: E402
atexit.unregister(rt.T._end)   # not a TAP test: no plan line


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def row(fig, val, unit, bname, bval, ratio, target, ok):
    """one figure: ok is True/False (PASS/FAIL), or "info" for a reference row without a target"""
    status = ok if ok == "info" else ("PASS" if ok else "FAIL")
    print("ROW|%s|%s|%s|%s|%s|%s|%s|%s" % (fig, val, unit, bname, bval, ratio, target, status), flush=True)
