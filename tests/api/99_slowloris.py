#!/usr/bin/env python3
"""Slow-header floods (issue 14: 1,000 sockets dripping a header line every ~10 s kept
/healthz timing out for 42 s): one client address may hold at most RAILD_HTTP_PER_IP
connections (default 250). Past that its new connections are closed at once, while another
address is served as usual; once the flood stops the first address is served again."""
import os, socket, sys, time, http.client
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

os.environ["RAILD_HTTP_PER_IP"] = "20"
srv = Raild("--no-workers")


def healthz_from(src_ip, timeout=5):
    """(status or the error, seconds) of GET /healthz from a chosen loopback source address"""
    t0 = time.time()
    try:
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout, source_address=(src_ip, 0))
        c.request("GET", "/healthz")
        st = c.getresponse().status
        c.close()
        return st, time.time() - t0
    except Exception as e:
        return type(e).__name__, time.time() - t0


slow = []
for i in range(30):   # headers begun, never finished
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow-%d: 1\r\n" % i)
    slow.append(s)
time.sleep(0.5)
st, took = healthz_from("127.0.0.2")
ok(st == 200 and took < 1.5, "another address is served at once during the flood (%s in %.2f s)" % (st, took))
st, took = healthz_from("127.0.0.1")
ok(st != 200 and took < 3, "the flooding address's next connection is closed at once (%s in %.2f s)" % (st, took))
for s in slow:
    s.close()
time.sleep(0.5)
st, took = healthz_from("127.0.0.1")
is_(st, 200, "after the flood the address is served again")
srv.stop()

os.environ["RAILD_HTTP_PER_IP"] = "0"
srv = Raild("--no-workers", name="raild-bad")
is_(healthz_from("127.0.0.1")[0], 200, "RAILD_HTTP_PER_IP=0 (out of range): raild serves with the default")
ok("http.bad_per_ip" in open(srv.log_path, errors="replace").read(), "…and the log names the setting")
srv.stop()
