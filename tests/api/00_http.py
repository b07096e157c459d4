#!/usr/bin/env python3
"""The HTTP layer: health, metrics, error envelopes, auth failures, body limits."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

srv = Raild()
st, body, _ = srv.call("GET", "/healthz")
is_(st, 200, "healthz answers 200")
is_(body, {"status": "ok"}, "healthz body")

st, body, _ = srv.call("GET", "/v1/nope")
is_(st, 404, "unknown path is 404")
is_(body["error"]["code"], "not_found", "unknown path has code not_found")

st, body, _ = srv.call("DELETE", "/healthz")
is_(st, 405, "wrong method on a known path is 405")

ops = key("ops")
st, body, _ = srv.call("POST", "/v1/nope", key=ops, raw=b"x" * (64 * 1024 + 1))
is_(st, 413, "body over 64 KiB is 413")
is_(body["error"]["code"], "body_too_large", "413 carries body_too_large")

st, text, hdrs = srv.call("GET", "/metrics")
is_(st, 200, "metrics answers 200")
ok('raild_http_requests_total{route="/healthz",status="200"}' in text, "metrics counts requests by route and status")
ok("raild_http_request_duration_seconds_bucket" in text, "metrics has a latency histogram")
ok('raild_exceptions_open{type="underpaid"}' in text, "metrics has open exceptions by type")
ok(srv.alive(), "raild still serving")
