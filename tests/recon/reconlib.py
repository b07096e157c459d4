"""Helpers for the reconciliation tests (not a test itself: not executable).
Payments are driven through the real API: created by the merchant, paid by chain
ingest from a watcher key, finalized by moving the chain head above the current one."""
import hashlib, os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

CLASSES = ["fulfilled_before_finality", "missing_in_finance", "orphan_posting", "amount_mismatch",
           "missing_in_provider", "commerce_lagging", "unapplied_transfer"]


class Chain:
    """Chain ingest for one network, always above the current head."""

    def __init__(self, srv, net="tron-nile"):
        self.srv, self.net, self.w = srv, net, key("watcher")
        self.rail = [r for r, c in RAILS.items() if c["network"] == net][0]
        self.cfg = RAILS[self.rail]

    def head(self):
        return int(sql1("SELECT coalesce(max(head), 1000) FROM chain_heads WHERE network = :'n'", n=self.net) or 1000)

    def transfer(self, to, units, block=None, frm=None):
        tx = tx_hash()
        if self.net == "tron-nile":
            tx = tx[2:]
        t = {"tx_hash": tx, "log_index": 0, "block_number": block,
             "block_hash": (("cd" * 32) if self.net == "tron-nile" else "0x" + "ab" * 32) if block is not None else None,
             "contract": self.cfg["contract"], "from": frm or address(self.net), "to": to, "value": str(units)}
        st, b, _ = self.srv.call("POST", "/v1/chain/transfers", key=self.w, body={"network": self.net, "transfers": [t]})
        assert st == 200, (st, b)
        return b["transfers"][0], tx

    def heads(self, h):
        st, b, _ = self.srv.call("POST", "/v1/chain/heads", key=self.w, body={"network": self.net, "head": h})
        assert st == 200, (st, b)

    def pay(self, m, ref, amount_units, paid_units=None, state="finalized"):
        """A payment for ref, paid with paid_units, driven to `state` (confirming|confirmed|finalized)."""
        dec = self.cfg["decimals"]
        amount = "%d.%0*d" % (amount_units // 10 ** dec, dec, amount_units % 10 ** dec)
        st, p, _ = self.srv.call("POST", "/v1/payments", key=m.key, headers={"Idempotency-Key": uniq("idem")},
                                 body={"reference": ref, "amount": amount, "rail": self.rail})
        assert st == 201, (st, p)
        h = self.head() + 1
        self.transfer(p["deposit_address"], paid_units if paid_units is not None else amount_units, block=h)
        self.heads(h + {"finalized": self.cfg["final"], "confirmed": self.cfg["confirm"] - 1}.get(state, 0))
        return p["id"]

    def finalize_all(self):
        self.heads(self.head() + self.cfg["final"] + 1)


def payment_state(pid):
    return sql1("SELECT state FROM payments WHERE public_id = :'p'", p=pid)


def order(srv, m, ref, amount, status, ts):
    return srv.call("PUT", "/v1/orders/" + urllib.parse.quote(ref, safe=""), key=m.key,
                    body={"amount": amount, "status": status, "updated_at": ts})


def recon(mode="incremental"):
    r = subprocess.run([RAILD, "recon", "--" + mode], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def break_id(cls, merchant_id, env, ref):
    return "brk_" + hashlib.md5(("%s|%s|%s|%s" % (cls, merchant_id, env, ref)).encode()).hexdigest()[:24]


def breaks(merchant_id, open_only=True):
    """{(class, reference): (public_id, state)} for a merchant"""
    rows = sql("SELECT class, reference, public_id, state FROM recon_breaks WHERE merchant_id = :'m'"
               + (" AND state <> 'resolved'" if open_only else ""), m=merchant_id)
    return {(r[0], r[1]): (r[2], r[3]) for r in rows}


import urllib.parse, subprocess  # noqa: E402
