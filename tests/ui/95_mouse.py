#!/usr/bin/env python3
"""The mouse, opt-in (`mouse = on`): a click on the tabs line switches tab, a click on a row
selects it, the wheel scrolls three rows. Without the setting, clicks do nothing. (Events
are sent as the terminal would: xterm SGR mouse reports.)"""
import os, re, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uikit import *

srv = Raild("--no-workers")
m = Merchant(rails=("tron:usdt",), addresses=12)
refs = []
for i in range(10):
    r = "mouse-%02d-%s" % (i, uniq("r")[-6:])
    refs.append(r)
    assert srv.call("POST", "/v1/payments", key=m.key, body={"reference": r, "amount": "1", "rail": "tron:usdt"})[0] == 201


def click(c, x, y, button=0):   # 0-based screen cell
    c.tmux("send-keys", "-t", c.session, "-l", "\x1b[<%d;%d;%dM\x1b[<%d;%d;%dm" % (button, x + 1, y + 1, button, x + 1, y + 1))


def wheel_down(c, x, y):
    c.tmux("send-keys", "-t", c.session, "-l", "\x1b[<65;%d;%dM" % (x + 1, y + 1))


def open_selected(c):
    c.keys("Enter")
    s = c.wait("Payment pay_")
    mm = re.search(r"reference\s+(\S+)", s or "")
    c.keys("Escape")
    c.wait("REFERENCE")
    return mm.group(1) if mm else None


cfg = os.path.join(LOGDIR, uniq("cfg"))
open(cfg, "w").write("mouse = on\n")
c = Console(api=srv.base, key_file=key_file(key("ops")), env={"RAILTOP_CONFIG": cfg})
c.keys(":")
c.type("payments merchant=" + m.name)
c.keys("Enter")
c.wait(refs[0])
rows = [i for i, l in enumerate(c.lines()) if l.startswith("mouse-")]
ok(len(rows) == 10, "ten rows on screen", c.text())
want = c.lines()[rows[4]].split()[0]
click(c, 5, rows[4])
time.sleep(1.0)   # the selection has no text of its own to wait for
got = open_selected(c)
is_(got, want, "a click selects a row")
c.keys("g")
wheel_down(c, 5, rows[2])
first = [l.split()[0] for l in c.lines() if l.startswith("mouse-")]
ok(open_selected(c) == first[3], "the wheel moves three rows down", first[:4])
tabs = c.lines()[1]
click(c, tabs.index("Exceptions"), 1)
ok(c.wait("Exceptions  ") is not None, "a click on a tab switches to it", c.text())
on = c.tmux("display-message", "-p", "-t", c.session, "#{mouse_any_flag}#{mouse_button_flag}").stdout.strip()
ok("1" in on, "with mouse = on the terminal is asked for mouse reports", on)
c.close()

# the terminal is asked for mouse reports only with mouse = on (tmux shows the pane's mode)
d = Console(api=srv.base, key_file=key_file(key("ops")))
d.wait("Payments")
off = d.tmux("display-message", "-p", "-t", d.session, "#{mouse_any_flag}#{mouse_button_flag}").stdout.strip()
ok("1" not in off, "without mouse = on the terminal is not asked for mouse reports", off)
d.close()
srv.stop()
