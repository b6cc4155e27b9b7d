"""WireGuard keys (docs/edge.md, "The private channel"): Curve25519 key pairs and preshared
keys, as the `wg` tool writes them (32 bytes, base64). Pure Python (RFC 7748's X25519): a key
pair is made once per channel end, so speed does not matter and no crypto library is needed.
The service layer (service/vpns.py) draws the random bytes; this module only does arithmetic.
"""

from __future__ import annotations

import base64

_P = 2**255 - 19
_A24 = 121665
KEY_BYTES = 32


def clamp(raw: bytes) -> bytes:
    """A private key from 32 random bytes (RFC 7748's clamping, as `wg genkey` does)."""
    if len(raw) != KEY_BYTES:
        raise ValueError(f"a key is {KEY_BYTES} bytes, not {len(raw)}")
    k = bytearray(raw)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    return bytes(k)


def _x25519(scalar: bytes, u_bytes: bytes) -> bytes:
    k = int.from_bytes(clamp(scalar), "little")
    u = int.from_bytes(u_bytes, "little") & ((1 << 255) - 1)
    x1, x2, z2, x3, z3, swap = u, 1, 0, u, 1, 0
    for t in reversed(range(255)):
        bit = (k >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b = (x2 + z2) % _P, (x2 - z2) % _P
        aa, bb = a * a % _P, b * b % _P
        e = (aa - bb) % _P
        c, d = (x3 + z3) % _P, (x3 - z3) % _P
        da, cb = d * a % _P, c * b % _P
        x3 = (da + cb) ** 2 % _P
        z3 = x1 * (da - cb) ** 2 % _P
        x2 = aa * bb % _P
        z2 = e * (aa + _A24 * e) % _P
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, _P - 2, _P) % _P).to_bytes(32, "little")


def encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def private_key(raw: bytes) -> str:
    """A private key, base64, from 32 random bytes."""
    return encode(clamp(raw))


def public_key(private: str) -> str:
    """The public key of a base64 private key (what `wg pubkey` prints)."""
    return encode(_x25519(base64.b64decode(private), (9).to_bytes(32, "little")))
