#!/usr/bin/env python3
"""railtop through the real binary in tmux against real PostgreSQL and raild:
start-up validation, the header, navigation (j/k/g/G/PgDn/PgUp), `/` filter and its
inversion, `:` command mode, payment detail, the generated help, a change committed by
another process appearing without a key press, pause, NO_COLOR, and the too-small screen."""
import os, re, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uikit import *

# no background workers: other test files leave payments that expire meanwhile, and a
# sweeper expiring them is a real change the idle check below would (rightly) wake for
srv = Raild("--no-workers")
W = key("watcher")
OPS_NAME = uniq("ui-ops")
OPS = admin("create-key", "--role", "ops", "--name", OPS_NAME, "--env", "sandbox", check=True)[1].strip()
m = Merchant(rails=("tron:usdt", "ethereum:usdt"), addresses=60)

# ---------------------------------------------------------------- flag and config validation
def run(args, env=None):
    e = dict(os.environ, PGUSER="railtop_console", HOME=os.path.join(LOGDIR, "nohome"))
    e.pop("RAILTOP_KEY", None)
    e.update(env or {})
    r = subprocess.run([RAILTOP] + args, capture_output=True, text=True, env=e, timeout=20)
    return r.returncode, r.stdout + r.stderr

rc, out = run(["--version"])
ok(rc == 0 and re.match(r"railtop \d+\.\d+\.\d+", out), "--version prints the version", out)
rc, out = run(["--help"])
ok(rc == 0 and "--read-only" in out and "RAILTOP_KEY" in out and "--key-file" in out, "--help documents flags", out)
bad = [
    (["--key", OPS], {}, "command line"),
    (["--env", "staging"], {}, "sandbox or production"),
    (["--api", "localhost:8080"], {}, "not a URL"),
    (["--theme", "nope"], {}, "theme 'nope' not found"),
    (["--theme", "../x"], {}, "not a theme name"),
    (["--bogus"], {}, "unknown option"),
    (["--key-file", key_file(OPS, 0o644)], {"RAILTOP_API": srv.base}, "chmod 600"),
    (["--key-file", "/nonexistent/key"], {"RAILTOP_API": srv.base}, "cannot read key file"),
    ([], {"RAILTOP_KEY": "not a key!"}, "does not hold an API key"),
    ([], {"RAILTOP_KEY": OPS}, "RAILTOP_API"),
]
for args, env, want in bad:
    rc, out = run(args, env)
    ok(rc == 2 and want in out, "railtop %s → exit 2 saying '%s'" % (" ".join(a if a != OPS else "<key>" for a in args) or
                                                                     sorted(env), want), out)
    ok(OPS not in out, "the key never appears in the message")
cfgdir = os.path.join(LOGDIR, uniq("xdg"))
os.makedirs(os.path.join(cfgdir, "railtop"))
with open(os.path.join(cfgdir, "railtop", "config"), "w") as f:
    f.write("# test\napi = http://127.0.0.1:1\ncolour = yes\n")
rc, out = run([], {"XDG_CONFIG_HOME": cfgdir})
ok(rc == 2 and "config:3: unknown setting 'colour'" in out, "config file: unknown setting named with file:line", out)

# themes from the user's config dir: errors name file:line; a valid one is used
tdir = os.path.join(LOGDIR, uniq("xdg"))
os.makedirs(os.path.join(tdir, "railtop", "themes"))
with open(os.path.join(tdir, "railtop", "themes", "bad.theme"), "w") as f:
    f.write("# mine\nnormal default default\nheadr #ffffff #000000 bold\n")
rc, out = run(["--theme", "bad"], {"XDG_CONFIG_HOME": tdir})
ok(rc == 2 and "bad.theme:3: unknown style 'headr'" in out, "a bad user theme: exit 2 naming file:line", out)
with open(os.path.join(tdir, "railtop", "themes", "bad.theme"), "w") as f:
    f.write("normal default #12345\n")
rc, out = run(["--theme", "bad"], {"XDG_CONFIG_HOME": tdir})
ok(rc == 2 and "bad.theme:1: bad colour" in out, "a bad colour: exit 2 naming file:line", out)
with open(os.path.join(tdir, "railtop", "themes", "mine.theme"), "w") as f:
    f.write("normal default default\nheader #000000 #00ff00 bold # green header\n")

# config file + libpq service file: every setting taken from them (no flags, no RAILTOP_* variables)
svc = os.path.join(LOGDIR, uniq("pg_service") + ".conf")
with open(svc, "w") as f:
    f.write("[rt-console]\nhost=%s\nport=%s\ndbname=%s\nuser=railtop_console\n" % (
        os.environ.get("PGHOST", ""), os.environ.get("PGPORT", "5432"), os.environ.get("PGDATABASE", "railtop")))
cfg2 = os.path.join(LOGDIR, uniq("xdg"))
os.makedirs(os.path.join(cfg2, "railtop"))
SVC_OPS_NAME = uniq("ui-ops")
svc_key = admin("create-key", "--role", "ops", "--name", SVC_OPS_NAME, "--env", "sandbox", check=True)[1].strip()
with open(os.path.join(cfg2, "railtop", "config"), "w") as f:
    f.write("# railtop\ndb = service=rt-console\napi = %s\nkey_file = %s\ntheme = light\nread_only = yes\n" % (
        srv.base, key_file(svc_key)))
c = Console(env={"XDG_CONFIG_HOME": cfg2, "PGSERVICEFILE": svc, "PGUSER": "nobody", "PGHOST": None, "PGPORT": None})
s = c.wait("LIVE")
ok(s is not None and "railtop_console@" in c.lines()[0] and SVC_OPS_NAME in c.lines()[0] and "[read-only]" in c.lines()[0],
   "config file (db via a libpq service, api, key_file, read_only) is used", c.text() + c.stderr())
c.keys("q")
c.exit_code()
c.close()

# ---------------------------------------------------------------- data: 45 payments for one merchant
for i in range(45):
    st, p, _ = srv.call("POST", "/v1/payments", key=m.key,
                        body={"reference": "ui-%04d" % i, "amount": "%d.25" % (100 + i),
                              "rail": "ethereum:usdt" if i % 3 == 0 else "tron:usdt"})
    assert st == 201, (st, p)
last = p

kf = key_file(OPS)
c = Console(api=srv.base, key_file=kf)
s = c.wait("LIVE")
ok(s is not None, "console starts and shows LIVE", c.text())
head = c.lines()[0]
ok("env sandbox" in head and "railtop_console@" in head and OPS_NAME in head and "(ops)" in head,
   "header: environment, database, operator and role", head)
ok(OPS not in c.text(), "the key is not on screen")

c.keys(":")
c.type("payments merchant=" + m.name)
c.keys("Enter")
s = c.wait("ui-0044")
ok(s is not None and "ui-0000" not in s, ":payments merchant=NAME shows that merchant, newest first", c.text())
same_as_expected(c.text(), "payments")

# idle: nothing changes → the console issues no queries (it sleeps in poll())
def console_query_start():
    return sql1("SELECT query_start FROM pg_stat_activity WHERE application_name = 'railtop'"
                " ORDER BY backend_start DESC LIMIT 1")
time.sleep(1.0)
q0 = console_query_start()
time.sleep(2.5)
is_(console_query_start(), q0, "idle for 2.5 s: no query at all (pg_stat_activity.query_start unchanged)")

# other filters and commands
c.keys(":")
c.type("payments rail=ethereum:usdt merchant=" + m.name)
c.keys("Enter")
s = c.wait("ui-0042")
rows = [l for l in c.lines() if re.search(r"\bui-\d{4}\b", l)]
ok(rows and all("ethereum:usdt" in l for l in rows) and len(rows) == 15, ":payments rail=ethereum:usdt: the 15 ethereum rows",
   c.text())
c.keys(":")
c.type("payment " + last["id"])
c.keys("Enter")
ok(c.wait("Payment " + last["id"]) is not None and "ui-0044" in c.text(), ":payment ID opens that payment", c.text())
c.keys("Escape")
c.keys(":")
c.type("payments merchant=" + m.name)
c.keys("Enter")
c.wait("ui-0044")

# navigation: cursor row is the one Enter opens
c.keys("j", "j", "Enter")
s = c.wait("Payment pay_")
ok(s is not None and "ui-0042" in s and "Timeline" in s and "payment.created" in s,
   "j j Enter opens the third payment's detail with its timeline", c.text())
same_as_expected(c.text(), "payment_detail")
c.keys("Escape")
ok(c.wait("REFERENCE") is not None, "Esc returns to the list")

c.keys("G")
s = c.wait(re.compile(r"ui-0000"))
ok(s is not None, "G jumps to the last row (oldest payment)", c.text())
c.keys("Enter")
ok(c.wait("ui-0000") and c.wait("Payment pay_") is not None, "the cursor is on the last row after G")
c.keys("Escape")
c.keys("g")
s = c.wait("ui-0044")
ok(s is not None, "g returns to the top", c.text())
c.keys("NPage")
s = c.wait(re.compile(r"ui-00(0\d|1\d)\s"))
ok(s is not None and "ui-0044" not in s, "PgDn shows the next page (keyset)", c.text())
c.keys("PPage")
ok(c.wait("ui-0044") is not None, "PgUp returns to the first page")

# filter: substring, then inverted
c.keys("/")
c.type("ui-003")
c.keys("Enter")
s = c.wait('filter: "ui-003"')
rows = [l for l in c.lines() if re.search(r"\bui-\d{4}\b", l)]
ok(len(rows) == 10 and all("ui-003" in l for l in rows), "/ui-003 keeps exactly the ten matching rows", c.text())
c.keys("/")
c.keys("C-u")
c.type("!ethereum")
c.keys("Enter")
s = c.wait('filter: not "ethereum"')
rows = [l for l in c.lines() if re.search(r"\bui-\d{4}\b", l)]
ok(rows and not any("ethereum" in l for l in rows) and all("tron:usdt" in l for l in rows),
   "/!ethereum inverts: no ethereum rows remain", c.text())
c.keys("/", "C-u", "Enter")
ok(c.wait("filter cleared") is not None, "an empty filter clears it")

# command mode errors are explained in the status line
c.keys(":")
c.type("payments state=bogus")
c.keys("Enter")
ok(c.wait("state=bogus: not a state") is not None, ":payments state=bogus explains the allowed states", c.text())
c.keys(":")
c.type("frobnicate")
c.keys("Enter")
ok(c.wait("unknown command ':frobnicate'") is not None, "unknown commands are named", c.text())
c.keys(":")
c.type("payments state=canceled merchant=" + m.name)
c.keys("Enter")
s = c.wait("no rows match")
ok(s is not None, ":payments state=canceled → empty list says so", c.text())

# live: a change committed by another process appears without a key press
st, _, _ = srv.call("POST", "/v1/payments/%s/cancel" % last["id"], key=m.key)
ok(st == 200, "payment canceled through the merchant API")
s = c.wait("ui-0044", timeout=5)
ok(s is not None and "canceled" in [l for l in s.split("\n") if "ui-0044" in l][0],
   "the canceled payment appears on the filtered board without a key press", c.text())

# pause: no updates while paused, caught up on resume
c.keys("p")
ok(c.wait("PAUSED") is not None, "p pauses live updates (PAUSED in the header)")
st, p2, _ = srv.call("POST", "/v1/payments", key=m.key, body={"reference": "ui-late", "amount": "1", "rail": "tron:usdt"})
srv.call("POST", "/v1/payments/%s/cancel" % p2["id"], key=m.key)
time.sleep(0.8)
ok("ui-late" not in c.text(), "while paused the new row does not appear")
c.keys("p")
ok(c.wait("ui-late", timeout=5) is not None, "p resumes and the row appears", c.text())

# tabs, digits, help
c.keys("2")
ok(c.wait("Exceptions  queue") is not None, "2 switches to the exceptions view")
c.keys("Tab")
ok(c.wait("Webhook endpoints") is not None, "Tab moves to the next view")
c.keys("4")
ok(c.wait("Audit log") is not None, "4 shows the audit log")
c.keys("5")
ok(c.wait("Reconciliation") is not None, "5 shows the reconciliation slot")
c.keys("?")
s = c.wait("keys (from the same table")
ok(s is not None and "claim the exception" in s and "retry the delivery now" in s and "filter rows" in s,
   "? lists every request from the key table", c.text())
c.keys("Escape")
c.keys("1")
ok(c.wait("REFERENCE") is not None, "1 returns to payments")
hint = c.hint()
ok("quit" in hint and "filter" in hint and "open" in hint, "the hint line lists the keys of the view", hint)

# resize below 80x24 → clear message; back → the board again; q still quits from small
c.resize(70, 20)
ok(c.wait("terminal too small") is not None, "below 80x24: 'terminal too small'", c.text())
c.resize(120, 40)
ok(c.wait("REFERENCE") is not None, "resized back: the board returns", c.text())
c.keys("q")
is_(c.exit_code(), 0, "q quits with status 0")
c.close()

# too small from the start, q quits
c = Console(api=srv.base, key_file=kf, width=60, height=20)
s = c.wait("terminal too small")
ok(s is not None and "60x20" in s and "press q" in s, "started at 60x20: too-small screen", c.text())
same_as_expected(c.text(), "too_small")
c.keys("q")
is_(c.exit_code(), 0, "q quits from the too-small screen")
c.close()

# NO_COLOR → no colour escapes at all (attributes only)
c = Console(api=srv.base, key_file=kf, env={"NO_COLOR": "1"})
ok(c.wait("LIVE") is not None, "NO_COLOR: starts")
esc = c.text(colors=True)
colour = [e for e in re.findall(r"\x1b\[([0-9;]*)m", esc)
          if any(re.fullmatch(r"3[0-8]|4[0-8]|9[0-7]|10[0-7]", p) for p in e.split(";"))]
ok(not colour, "NO_COLOR: no colour escape sequences on screen", repr(colour[:5]))
ok("\x1b[7m" in esc or "\x1b[1m" in esc or ";7m" in esc, "NO_COLOR: attributes (reverse/bold) still mark things")
c.keys("q")
c.exit_code()
c.close()

# the default theme does use colour
c = Console(api=srv.base, key_file=kf)
ok(c.wait("LIVE") is not None, "default theme: starts")
esc = c.text(colors=True)
ok(re.search(r"\x1b\[[0-9;]*(38;|48;|3[0-7]m|4[0-7]m)", esc) is not None, "default theme: colour on screen")
c.keys("q")
c.exit_code()
c.close()

# every shipped theme loads and draws
for theme in ("default", "light", "high-contrast", "mono"):
    c = Console(api=srv.base, key_file=kf, args=["--theme", theme])
    ok(c.wait("LIVE") is not None and c.wait("REFERENCE") is not None, "--theme %s: loads and draws" % theme,
       c.text() + c.stderr())
    c.keys("q")
    is_(c.exit_code(), 0, "--theme %s: quits cleanly" % theme)
    c.close()

# a user theme from $XDG_CONFIG_HOME/railtop/themes
c = Console(api=srv.base, key_file=kf, args=["--theme", "mine"], env={"XDG_CONFIG_HOME": tdir, "TERM": "xterm-direct"})
ok(c.wait("LIVE") is not None, "--theme mine (user theme): starts")
ok("48;2;0;255;0" in c.text(colors=True).split("\n")[0], "the user theme's green header is on screen",
   repr(c.text(colors=True)[:200]))
c.keys("q")
c.exit_code()
c.close()

# colour depth follows the terminal: 8 colours, 256 (xterm index), truecolor (direct RGB)
for term, want, name in (("xterm", r"\x1b\[[0-9;]*\b(3[0-7]|4[0-7])m", "8 colours: basic SGR colours"),
                         ("xterm-256color", r"38;5;\d+", "256 colours: xterm indexes"),
                         ("xterm-direct", r"38;2;\d+;\d+;\d+", "truecolor: direct RGB")):
    c = Console(api=srv.base, key_file=kf, env={"TERM": term})
    ok(c.wait("LIVE") is not None, "TERM=%s: starts" % term, c.text() + c.stderr())
    esc = c.text(colors=True)
    deeper = {"xterm": r"38;[25];", "xterm-256color": r"38;2;", "xterm-direct": r"38;5;"}[term]
    ok(re.search(want, esc) is not None and re.search(deeper, esc) is None, "TERM=%s: %s" % (term, name),
       repr(esc[:300]))
    c.keys("q")
    c.exit_code()
    c.close()

# ASCII fallback when the locale is not UTF-8
c = Console(api=srv.base, key_file=kf, env={"LANG": "C", "LC_ALL": "C"})
s = c.wait("LIVE")
ok(s is not None and "│" not in s and "|" in c.lines()[0], "C locale: ASCII separators instead of box drawing", c.text())
c.keys("q")
c.exit_code()
c.close()

# an underpaid payment at full depth waits in confirming for its exception: the board says
# "short" rather than confirmations past the requirement like 29/19
TRON = RAILS["tron:usdt"]
underpaid_tron_payment(srv, m, W, "ui-short", amount="50", paid_units="20000000", past_depth=10)
c = Console(api=srv.base, key_file=kf)
c.wait("LIVE")
c.keys("/")
c.type("ui-short")
c.keys("Enter")
row = c.wait("ui-short")
line = next((l for l in c.lines() if l.startswith("ui-short")), "")
ok("confirming" in line and line.split()[-2] == "short" and "/%d" % TRON["confirm"] not in line,
   "an underpaid payment past depth shows 'short' in the CONF column, not n/%d" % TRON["confirm"], c.text())
c.keys("q")
c.exit_code()
c.close()
