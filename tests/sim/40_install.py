#!/usr/bin/env python3
"""make install like a Debian program (issue 15): `make install DESTDIR=… PREFIX=/usr` lays out
the binaries, themes, man pages, systemd units, bash completion and examples; the installed
programs run, the installed railtop finds its themes beside itself (PREFIX/share/railtop),
every man page formats without a warning and has a NAME lexgrog reads, the units pass
`systemd-analyze verify` (installed with PREFIX so ExecStart exists), and uninstall removes
every file it installed."""
import os, shutil, subprocess, sys, tempfile
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import ROOT, ok, is_, diag

tmp = tempfile.mkdtemp(prefix="railtop-install-")
dest = os.path.join(tmp, "dest")
r = subprocess.run(["make", "-s", "-C", ROOT, "install", "DESTDIR=" + dest, "PREFIX=/usr"], capture_output=True,
                   text=True)
is_(r.returncode, 0, "make install DESTDIR=… PREFIX=/usr", r.stderr[-2000:])
usr = os.path.join(dest, "usr")
want = ["bin/raild", "bin/railtop", "bin/railsim", "share/man/man1/railtop.1", "share/man/man1/railsim.1",
        "share/man/man8/raild.8", "lib/systemd/system/raild.service", "lib/systemd/system/raild-watch@.service",
        "share/bash-completion/completions/raild", "share/bash-completion/completions/railtop",
        "share/bash-completion/completions/railsim", "share/doc/railtop/raild.env.example",
        "share/doc/railtop/railtop.config.example"] + \
       ["share/railtop/themes/" + t for t in sorted(os.listdir(os.path.join(ROOT, "themes"))) if t.endswith(".theme")]
missing = [w for w in want if not os.path.isfile(os.path.join(usr, w))]
is_(missing, [], "every file is in place under DESTDIR/usr")
ok(all(os.access(os.path.join(usr, "bin", b), os.X_OK) for b in ("raild", "railtop", "railsim")), "binaries are executable")

r = subprocess.run([os.path.join(usr, "bin", "railtop"), "--version"], capture_output=True, text=True)
ok(r.returncode == 0 and r.stdout.startswith("railtop "), "installed railtop --version: %s" % r.stdout.strip())
r = subprocess.run([os.path.join(usr, "bin", "raild"), "--help"], capture_output=True, text=True)
ok(r.returncode == 0 and "usage: raild <command>" in r.stdout + r.stderr, "installed raild --help")
r = subprocess.run([os.path.join(usr, "bin", "railsim"), "--help"], capture_output=True, text=True)
ok("usage: railsim" in r.stdout + r.stderr, "installed railsim --help")
# the theme is looked up before the terminal: "needs a terminal" means it was found
env = {k: v for k, v in os.environ.items() if k not in ("RAILTOP_THEMES", "XDG_CONFIG_HOME")}
env["HOME"] = tmp
r = subprocess.run([os.path.join(usr, "bin", "railtop"), "--theme", "high-contrast", "--db", "host=/nonexistent"],
                   capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
ok("not found" not in r.stderr and "terminal" in r.stderr,
   "installed railtop finds its themes in PREFIX/share/railtop/themes", r.stderr)

for page in ("share/man/man1/railtop.1", "share/man/man1/railsim.1", "share/man/man8/raild.8"):
    path = os.path.join(usr, page)
    r = subprocess.run(["man", "-l", "--warnings", "-E", "UTF-8", path], capture_output=True, text=True,
                       env=dict({k: v for k, v in os.environ.items() if k != "MAN_KEEP_FORMATTING"}, MANWIDTH="80"))
    ok(r.returncode == 0 and r.stderr.strip() == "" and "SYNOPSIS" in r.stdout,
       "man -l %s formats without warnings" % os.path.basename(page), r.stderr)
    r = subprocess.run(["lexgrog", path], capture_output=True, text=True)
    name = os.path.basename(page).split(".")[0]
    ok(r.returncode == 0 and ('"%s - ' % name) in r.stdout, "lexgrog reads its NAME: %s" % r.stdout.strip())

for comp in ("raild", "railtop", "railsim"):
    r = subprocess.run(["bash", "-c", "source %s && complete -p %s" % (
        os.path.join(usr, "share/bash-completion/completions", comp), comp)], capture_output=True, text=True)
    ok(r.returncode == 0 and "-F _%s" % comp in r.stdout, "bash completion for %s loads" % comp, r.stderr)

prefix = os.path.join(tmp, "prefix")
r = subprocess.run(["make", "-s", "-C", ROOT, "install", "PREFIX=" + prefix], capture_output=True, text=True)
is_(r.returncode, 0, "make install PREFIX=… (for the units' ExecStart)", r.stderr[-1000:])
units = os.path.join(prefix, "lib/systemd/system")
text = open(os.path.join(units, "raild.service")).read()
ok("ExecStart=%s/bin/raild serve" % prefix in text, "the unit's ExecStart names PREFIX/bin/raild")
for opt in ("DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "EnvironmentFile=/etc/railtop/raild.env"):
    ok(opt in text, "raild.service has %s" % opt)
if shutil.which("systemd-analyze"):
    r = subprocess.run(["systemd-analyze", "verify", os.path.join(units, "raild.service"),
                        os.path.join(units, "raild-watch@.service")], capture_output=True, text=True,
                       env=dict(os.environ, MANPATH=os.path.join(prefix, "share/man")))
    ok(r.returncode == 0 and not r.stderr.strip(), "systemd-analyze verify passes on both units", r.stderr)
else:
    ok(False, "systemd-analyze is installed (scripts/deps.sh installs systemd)")

r = subprocess.run(["make", "-s", "-C", ROOT, "uninstall", "DESTDIR=" + dest, "PREFIX=/usr"], capture_output=True,
                   text=True)
left = [os.path.join(d, f) for d, _, fs in os.walk(dest) for f in fs]
ok(r.returncode == 0 and left == [], "make uninstall removes every installed file", left[:5])
shutil.rmtree(tmp)
