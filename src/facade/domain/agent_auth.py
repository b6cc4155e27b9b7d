"""Request signing between the control plane and the management agent (pure, stdlib only;
both sides import it, so it lives in the domain layer).

    Authorization: Facade-HMAC <unix_ts>:<hex>

hex = HMAC-SHA256(bytes.fromhex(secret), f"{unix_ts}\\n{METHOD}\\n{PATH_WITH_QUERY}\\n{node}").
The node name binds a signature to the node it is meant for; a signature is accepted while
|now - unix_ts| <= WINDOW_S seconds. A request to the agent's own listener (the hub: many of
its nodes in one answer, see facade.workloads.agent) is signed for the name HUB, which no node
may have.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SCHEME = "Facade-HMAC"
WINDOW_S = 30
HUB = "*"
_HEX = frozenset("0123456789abcdef")


def _mac(key: bytes, ts: int, method: str, path: str, node: str) -> str:
    msg = f"{ts}\n{method}\n{path}\n{node}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def sign(secret_hex: str, method: str, path: str, node: str, now: float | None = None) -> str:
    """The full `Authorization` header value for one request to `node`."""
    ts = int(time.time() if now is None else now)
    return f"{SCHEME} {ts}:{_mac(bytes.fromhex(secret_hex), ts, method, path, node)}"


def verify(secret_hex: str, header: str | None, method: str, path: str, node: str,
           now: float | None = None) -> bool:
    """True iff `header` is a valid, fresh signature of (method, path, node). Never raises."""
    try:
        if not header:
            return False
        scheme, _, cred = header.strip().partition(" ")
        if scheme.lower() != SCHEME.lower():
            return False
        ts_text, sep, mac = cred.strip().partition(":")
        mac = mac.lower()
        if not sep or not ts_text.isascii() or not ts_text.isdigit() or len(ts_text) > 12:
            return False
        if len(mac) != 64 or not set(mac) <= _HEX:
            return False
        ts = int(ts_text)
        if abs((time.time() if now is None else now) - ts) > WINDOW_S:
            return False
        expected = _mac(bytes.fromhex(secret_hex), ts, method, path, node)
        return hmac.compare_digest(expected.encode(), mac.encode())
    except (ValueError, TypeError, UnicodeError):
        return False
