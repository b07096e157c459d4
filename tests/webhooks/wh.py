"""wh — helpers for the webhook tests (not a test itself): a real `railsim receiver`,
endpoints created through the API, outbox rows inserted the way the gateway core writes
them (the dispatcher's input contract)."""
import json, os, subprocess, sys, time, urllib.request
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *  # noqa: F401,F403
from rt import LOGDIR, RAILSIM, free_port, uniq, wait_for, sql, sql1, ok, terminate, SANITIZER_RE
import atexit, signal


class Receiver:
    """`railsim receiver` on a free loopback port. Secrets go in a file (never argv)."""

    def __init__(self, secrets, *flags, port=None):
        self.port = port or free_port()
        self.url = "http://127.0.0.1:%d/hook" % self.port
        tag = uniq("recv")
        self.secret_file = os.path.join(LOGDIR, tag + ".secret")
        self.log_file = os.path.join(LOGDIR, tag + ".events")
        self.err_path = os.path.join(LOGDIR, "%s-%s.log" % (os.path.basename(sys.argv[0]), tag))
        self.flags = list(flags)
        self.set_secrets(secrets)
        self.proc = None
        self.start()
        atexit.register(self.stop)

    def set_secrets(self, secrets):
        tmp = self.secret_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(secrets) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.secret_file)
        time.sleep(0.01)  # distinct mtime for the reload check

    def start(self):
        self.err = open(self.err_path, "a")
        self.proc = subprocess.Popen([RAILSIM, "receiver", "--listen", "127.0.0.1:%d" % self.port, "--secret-file",
                                      self.secret_file, "--log", self.log_file] + self.flags,
                                     stdout=self.err, stderr=subprocess.STDOUT)
        if not wait_for(lambda: self._up(), timeout=10):
            raise RuntimeError("receiver did not start; see " + self.err_path)

    def _up(self):
        try:
            return self.stats() is not None
        except OSError:
            return False

    def stats(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/_stats" % self.port, timeout=5) as r:
            return json.loads(r.read())

    def control(self, **kw):
        req = urllib.request.Request("http://127.0.0.1:%d/_control" % self.port, data=json.dumps(kw).encode(),
                                     method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def events(self):
        if not os.path.exists(self.log_file):
            return []
        with open(self.log_file) as f:
            return [json.loads(l) for l in f if l.strip()]

    def unique_ids(self):
        return {e["webhook_id"] for e in self.events()}

    def stop(self):
        terminate(self.proc)
        if self.proc:
            self.err.close()
            text = open(self.err_path, errors="replace").read()
            if SANITIZER_RE.search(text):
                ok(False, "receiver log has no sanitizer reports", text[-3000:])
        self.proc = None


def create_endpoint(srv, m, url, **extra):
    body = {"url": url}
    body.update(extra)
    st, b, _ = srv.call("POST", "/v1/webhook-endpoints", key=m.key, body=body)
    if st != 201:
        raise RuntimeError("endpoint create failed: %r %r" % (st, b))
    return b


def endpoint_row_id(public_id):
    return int(sql1("SELECT id FROM webhook_endpoints WHERE public_id = :'p'", p=public_id))


def insert_events(merchant_id, n, env="sandbox", type_="payment.confirmed", tag=None):
    """Writes n outbox rows exactly as the core does: the payload is the envelope bytes."""
    tag = tag or uniq("b")
    sql("INSERT INTO webhook_outbox (event_id, merchant_id, environment, type, sequence, payload)"
        " SELECT 'evt_' || :'t' || '_' || g, :'m', :'e', :'ty', 1,"
        "  json_build_object('id', 'evt_' || :'t' || '_' || g, 'type', :'ty', 'created_at',"
        "    to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'environment', :'e',"
        "    'sequence', 1, 'data', json_build_object('n', g))::text"
        " FROM generate_series(1, :n) g", t=tag, m=merchant_id, e=env, ty=type_, n=n)
    return ["evt_%s_%d" % (tag, i) for i in range(1, n + 1)]


def delivery_counts(endpoint_public_id):
    rows = sql("SELECT d.status, count(*) FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
               " WHERE e.public_id = :'p' GROUP BY 1", p=endpoint_public_id)
    return {r[0]: int(r[1]) for r in rows}


def dispatcher(tag, env=None):
    """a `raild dispatch` of this test's own, logging to LOGDIR (stop it with stop_dispatcher)"""
    from rt import RAILD
    path = os.path.join(LOGDIR, "%s-dispatch-%s.log" % (os.path.basename(sys.argv[0]), tag))
    f = open(path, "w")
    p = subprocess.Popen([RAILD, "dispatch"], stdout=f, stderr=subprocess.STDOUT, env=env)
    p.log_path, p.log_file = path, f
    return p


def stop_dispatcher(p, sig=signal.SIGTERM):
    """stops it (by its PID) and returns its log; a sanitizer report in it fails the test"""
    if p.poll() is None:
        p.send_signal(sig)
        p.wait(timeout=20)
    p.log_file.close()
    text = open(p.log_path, errors="replace").read()
    ok(not SANITIZER_RE.search(text), "%s has no sanitizer reports" % os.path.basename(p.log_path), text[-2000:])
    return text
