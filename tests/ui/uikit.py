"""uikit — drive the real railtop in tmux and read its screen.

Each test gets its own tmux server (its own -L socket), so tests never touch anyone
else's sessions. The console runs with TZ/LANG pinned, its stderr to a log file that is
checked for sanitizer reports, and its exit status recorded.
Screens are compared with volatile fields (ids, ages, times, random names) masked against
tests/ui/expected/NAME.txt; RT_UPDATE_EXPECTED=1 rewrites those files.
"""
import atexit, os, re, shlex, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *  # noqa: F401,F403
import rt

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = os.path.join(HERE, "expected")


class Console:
    def __init__(self, args=(), env=None, width=120, height=40, key=None, key_file=None, api=None,
                 name="railtop", pguser="railtop_console"):
        self.sock = "rt-%d-%s" % (os.getpid(), uniq("s"))
        self.session = "ui"
        self.log = os.path.join(LOGDIR, "%s-%s-%s.log" % (os.path.basename(sys.argv[0]), name, self.sock))
        self.rcfile = self.log + ".rc"
        e = {"TZ": "UTC", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PGUSER": pguser, "TERM": "xterm-256color",
             "HOME": os.path.join(LOGDIR, "home-" + self.sock), "XDG_CONFIG_HOME": os.path.join(LOGDIR, "xdg-" + self.sock)}
        for k in ("PGHOST", "PGPORT", "PGDATABASE", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "PATH"):
            if os.environ.get(k):
                e[k] = os.environ[k]
        if api:
            e["RAILTOP_API"] = api
        if key:
            e["RAILTOP_KEY"] = key
        e.update(env or {})
        argv = [RAILTOP] + list(args) + (["--key-file", key_file] if key_file else [])
        exports = " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in e.items() if v is not None)
        unset = " ".join("-u %s" % k for k, v in e.items() if v is None)
        cmd = "env -i %s %s %s 2>%s; echo $? >%s; sleep 600" % (
            unset, exports, " ".join(shlex.quote(a) for a in argv), shlex.quote(self.log), shlex.quote(self.rcfile))
        self.tmux("new-session", "-d", "-x", str(width), "-y", str(height), "-s", self.session, cmd)
        self.closed = False
        self.height = height
        atexit.register(self.close)       # a test that dies mid-way still stops its tmux server

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.sock] + list(args), capture_output=True, text=True)

    def text(self, colors=False):
        r = self.tmux("capture-pane", "-p", "-t", self.session, *(["-e"] if colors else []))
        return r.stdout

    def lines(self):
        return self.text().split("\n")

    def hint(self):
        """the bottom line: the keys valid here"""
        ls = self.lines()
        return ls[self.height - 1] if len(ls) >= self.height else ""

    def keys(self, *keys, literal=False):
        for k in keys:
            if literal:
                self.tmux("send-keys", "-t", self.session, "-l", k)
            else:
                self.tmux("send-keys", "-t", self.session, k)
            time.sleep(0.03)

    def type(self, s):
        self.keys(s, literal=True)

    def wait(self, what, timeout=10.0, absent=False):
        """Waits until the screen contains `what` (a string or compiled regex), or no longer
        does when absent=True. Returns the screen text, or None on timeout."""
        def seen():
            t = self.text()
            hit = what.search(t) if hasattr(what, "search") else what in t
            return t if (hit != absent) else None
        return wait_for(seen, timeout=timeout, interval=0.05)

    def resize(self, w, h):
        self.tmux("resize-window", "-t", self.session, "-x", str(w), "-y", str(h))

    def exit_code(self, timeout=10.0):
        def rc():
            try:
                with open(self.rcfile) as f:
                    s = f.read().strip()
                    return s if s else None
            except OSError:
                return None
        v = wait_for(rc, timeout=timeout)
        return int(v) if v is not None else None

    def stderr(self):
        try:
            return open(self.log, errors="replace").read()
        except OSError:
            return ""

    def close(self):
        if self.closed:
            return
        self.closed = True
        self.tmux("kill-server")
        text = self.stderr()
        if rt.SANITIZER_RE.search(text):
            ok(False, "railtop: no sanitizer reports (%s)" % os.path.basename(self.log), text[:3000])


MASKS = [
    (re.compile(r"merchant-[0-9a-f]{10}"), "merchant-XXXXXXXXXX"),
    (re.compile(r"merchant-[0-9a-f]{1,9}\b"), lambda m: "merchant-" + "X" * (len(m.group(0)) - 9)),
    (re.compile(r"\b(ui-ops|ui-viewer|ui-support|ui-finance|ops|viewer|support|finance)-[0-9a-f]{10}\b"), r"\1-XXXXXXXXXX"),
    (re.compile(r"\b(pay|exc|evt|we|whsec)_[a-z0-9]{24}\b"), r"\1_XXXXXXXXXXXXXXXXXXXXXXXX"),
    # an id cut by the right edge of the screen (the crumb on the tabs line)
    (re.compile(r"\b(pay|exc|evt|we|whsec|brk)_[a-z0-9]{1,23}$"), r"\1_CUT"),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"), "YYYY-MM-DD HH:MM:SS"),
    (re.compile(r"\d\d-\d\d \d\d:\d\d:\d\d"), "MM-DD HH:MM:SS"),
    (re.compile(r"\b(awaiting|detected|confirming|confirmed|finalized|expired|canceled) (\d+\+?|\?)"), r"\1 N"),
    # ages are right-aligned: mask the padding too so "3s" and "12s" look alike
    (re.compile(r" *(?<![\w.])-?\d+(?:s|m|h\d\dm|d\d\dh)(?=\s|$)"),
     lambda m: " " * max(0, len(m.group(0)) - 3) + "AGE"),
    (re.compile(r"db \S+@\S+"), "db USER@DB"),
    (re.compile(r"(?<=canceled N)\s+filter: .*$"), "  filter: F"),
    (re.compile(r"\b0x[0-9a-f]{40}\b|\bT[1-9A-HJ-NP-Za-km-z]{33}\b"), "ADDRESS"),
]


# the chains strip at the right of the tabs line (heads of a cluster other tests share;
# whether it fits depends on them): masked away
CHAINS = re.compile(r"\s{2,}(?:(?!\s\s)[^›])*(?:stale|chains? ok|\d+ more|\d+ chains|\d+/\d+|INCIDENT|REFUSED|STOPPED|rpc err)\s*$")


def mask(text, extra=()):
    out = []
    for i, line in enumerate(text.split("\n")):
        if i == 1:
            line = CHAINS.sub("", line)   # present or not, it is tested in tests/chain/50_console.py
        for rx, rep in list(MASKS) + list(extra):
            line = rx.sub(rep, line)
        out.append(line.rstrip())
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


def same_as_expected(screen, name, extra=()):
    """Compares a masked screen with tests/ui/expected/NAME.txt (RT_UPDATE_EXPECTED=1 writes it)."""
    got = mask(screen, extra)
    path = os.path.join(EXPECTED, name + ".txt")
    if os.environ.get("RT_UPDATE_EXPECTED"):
        os.makedirs(EXPECTED, exist_ok=True)
        with open(path, "w") as f:
            f.write(got)
    try:
        want = open(path).read()
    except OSError:
        return ok(False, "screen %s matches expected (missing %s)" % (name, path), got)
    if got == want:
        return ok(True, "screen %s matches tests/ui/expected/%s.txt" % (name, name))
    import difflib
    diff = "\n".join(difflib.unified_diff(want.split("\n"), got.split("\n"), "expected", "got", lineterm=""))
    return ok(False, "screen %s matches tests/ui/expected/%s.txt" % (name, name), diff)


def key_file(k, mode=0o600):
    path = os.path.join(LOGDIR, uniq("key"))
    with open(path, "w") as f:
        f.write(k + "\n")
    os.chmod(path, mode)
    return path


def tron_head(network="tron-nile"):
    return int(sql1("SELECT coalesce(max(head), 1000) FROM chain_heads WHERE network = :'n'", n=network) or 1000)


def underpaid(srv, merchant, watcher, n, amount="20.00", paid="5000000", prefix="ui"):
    """n tron payments of `amount`, each paid `paid` base units and confirmed past depth:
    the engine opens one underpaid exception per payment. Returns the payment JSONs.
    watcher: a watcher key of the merchant's environment's tron network."""
    tron = rails_of(merchant.env)["tron:usdt"]
    pays = []
    for i in range(n):
        st, p, _ = srv.call("POST", "/v1/payments", key=merchant.key,
                            body={"reference": "%s-%04d" % (prefix, i), "amount": amount, "rail": "tron:usdt"})
        assert st == 201, (st, p)
        pays.append(p)
    blk = tron_head(tron["network"]) + 5
    ts = [{"tx_hash": tx_hash(), "log_index": 0, "block_number": blk, "block_hash": tx_hash(),
           "contract": tron["contract"], "from": tron_address(), "to": p["deposit_address"],
           "value": paid} for p in pays]
    st, b, _ = srv.call("POST", "/v1/chain/transfers", key=watcher, body={"network": tron["network"], "transfers": ts})
    assert st == 200, (st, b)
    st, b, _ = srv.call("POST", "/v1/chain/heads", key=watcher, body={"network": tron["network"], "head": blk + 25})
    assert st == 200, (st, b)
    return pays
