"""demolib — what the demo's colleague scripts and the storm share: one call to raild's API with a key, a free port."""
import json, socket, urllib.error, urllib.request


def call(api, key, method, path, body=None):
    """(status, JSON body); status 0 when raild could not be reached (the demo goes on)."""
    req = urllib.request.Request(api + path, method=method, data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Authorization", "Bearer " + key)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read() or b"{}")
        except ValueError:
            return e.code, {}
    except (OSError, ValueError):
        return 0, {}


def free_port():
    """a free TCP port on loopback"""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p
