#!/usr/bin/env python3
"""Secrets at rest in production (issue 14: without RAILD_SECRETS_KEY webhook secrets, RPC and
signer URLs were stored in plain text). In a private cluster:
- raild without a key starts on a database with no production secret, and warns;
- a sandbox endpoint is then stored plain, a production one is refused 503 secrets_unsealed
  with nothing written; `admin set-rpc` for a production network is refused, nothing changed;
- with a key, a production endpoint is stored sealed;
- from then on `raild serve`, `raild dispatch` and `raild watch` without the key refuse to
  start, saying why (they could neither seal nor open those secrets)."""
import base64, os, re, subprocess, sys
sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import rt
from rt import RAILD, LOGDIR, ROOT, uniq, ok, is_, sql1

PGDIR = os.path.join(LOGDIR, uniq("pg-unsealed"))
os.makedirs(PGDIR)
out = subprocess.run(["bash", os.path.join(ROOT, "scripts", "pgtmp.sh"), "start", PGDIR], capture_output=True, text=True)
assert out.returncode == 0, out.stderr
os.environ.update(dict(re.findall(r"(PG\w+)='?([^'\s]+)'?", out.stdout)))
KEY = os.environ.pop("RAILD_SECRETS_KEY", None) or base64.b64encode(os.urandom(32)).decode()
is_(subprocess.run([RAILD, "migrate"], capture_output=True).returncode, 0, "the private cluster is migrated")
from wh import Raild, Merchant

srv = Raild("--no-workers")
ok("secrets.plain" in open(srv.log_path).read() or rt.wait_for(lambda: "secrets.plain" in open(srv.log_path).read(), 3),
   "raild without a key starts on a database with no production secret, with a warning")
sand, prod = Merchant(), Merchant(env="production")
st, ep, _ = srv.call("POST", "/v1/webhook-endpoints", key=sand.key, body={"url": "http://127.0.0.1:9/hook"})
is_(st, 201, "a sandbox endpoint is created", ep)
ok(sql1("SELECT secret FROM webhook_endpoints WHERE public_id = :'p'", p=ep["id"]).startswith("plain:"),
   "…stored plain (sandbox only)")
n0 = sql1("SELECT count(*) FROM webhook_endpoints")
st, b, _ = srv.call("POST", "/v1/webhook-endpoints", key=prod.key, body={"url": "http://127.0.0.1:9/hook"})
is_((st, b.get("error", {}).get("code")), (503, "secrets_unsealed"), "a production endpoint is refused", b)
ok("RAILD_SECRETS_KEY" in b.get("error", {}).get("message", ""), "…and the message names RAILD_SECRETS_KEY")
is_(sql1("SELECT count(*) FROM webhook_endpoints"), n0, "…with nothing written")
urls = os.path.join(PGDIR, "rpc.urls")
open(urls, "w").write("http://127.0.0.1:8545/\n")
rc, _, err = rt.admin("set-rpc", "--network", "ethereum", "--url-file", urls)
ok(rc == 2 and "plain text" in err and "RAILD_SECRETS_KEY" in err, "admin set-rpc for a production network is refused", err)
is_(sql1("SELECT count(*) FROM network_rpc") + sql1("SELECT count(*) FROM governed_changes"), "00", "…nothing changed")
srv.stop()

os.environ["RAILD_SECRETS_KEY"] = KEY
keyed = Raild("--no-workers", name="keyed")
st, pep, _ = keyed.call("POST", "/v1/webhook-endpoints", key=prod.key, body={"url": "http://127.0.0.1:9/hook"})
is_(st, 201, "with a key the production endpoint is created", pep)
ok(sql1("SELECT secret FROM webhook_endpoints WHERE public_id = :'p'", p=pep["id"]).startswith("aes:"), "…sealed")
keyed.stop()
del os.environ["RAILD_SECRETS_KEY"]
for cmd in (["serve", "--listen", "127.0.0.1:%d" % rt.free_port()], ["dispatch"], ["watch", "--network", "ethereum"]):
    r = subprocess.run([RAILD] + cmd, capture_output=True, text=True, timeout=20,
                       env=dict(os.environ, PGUSER="railtop_app"))
    ok(r.returncode == 1 and "production secrets" in r.stderr and "RAILD_SECRETS_KEY" in r.stderr,
       "raild %s without the key now refuses to start, saying why" % cmd[0], r.stderr[-500:])
subprocess.run(["bash", os.path.join(ROOT, "scripts", "pgtmp.sh"), "stop", PGDIR], capture_output=True)
