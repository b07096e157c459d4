#!/usr/bin/env python3
"""Deterministic, valid deposit/wallet addresses for the demo and bench:
   demo-addresses.py NETWORK COUNT [LABEL]   -> one address a line
tron: base58check (0x41 + 20 bytes); EVM networks: 0x + 40 lower-case hex."""
import hashlib, sys

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58(b):
    n, out = int.from_bytes(b, "big"), ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    return "1" * (len(b) - len(b.lstrip(b"\0"))) + out


def address(net, seed):
    raw = hashlib.sha256(seed.encode()).digest()[:20]
    if not net.startswith("tron"):
        return "0x" + raw.hex()
    body = b"\x41" + raw
    return b58(body + hashlib.sha256(hashlib.sha256(body).digest()).digest()[:4])


if __name__ == "__main__":
    net, n = sys.argv[1], int(sys.argv[2])
    label = sys.argv[3] if len(sys.argv) > 3 else "demo"
    out = sys.stdout
    for i in range(n):
        out.write(address(net, "%s-%s-%d" % (label, net, i)) + "\n")
