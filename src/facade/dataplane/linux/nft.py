"""A thin ctypes wrapper over libnftables (the library behind the `nft` tool).

Why not `nft -j -f -`: one process per change costs milliseconds and a fork from a threaded
program. A libnftables context talks netlink to the namespace it was CREATED in, so a `Nft` must be
made, used and closed inside one namespace thread (see `netns.run_in_netns`). Input is the
nftables JSON schema (`{"nftables": [...]}`, applied as one transaction); output is parsed JSON.
"""

from __future__ import annotations

import ctypes
import json
import threading
from typing import Any

_LIB_NAMES = ("libnftables.so.1", "/usr/lib/x86_64-linux-gnu/libnftables.so.1")
_NFT_CTX_DEFAULT = 0
_NFT_CTX_OUTPUT_JSON = 1 << 4

_lib: ctypes.CDLL | None = None
_lib_lock = threading.Lock()
# One libnftables command at a time in this process: the library is not thread-safe. Debian's
# 1.0.6 prints a set's type in JSON by splitting its name with strtok(), whose state is
# process-wide (upstream moved to strtok_r in 2023, "libnftables shouldn't make assumptions
# about what other threads of the process are doing"): two threads listing sets at once (the
# workers looking at front-ends, the port guard's listing) corrupted each other's tokens and
# the control plane died on libnftables' assertion (json.c:71: set_dtype_json: Assertion
# `__out' failed), twice in a day of suite runs.
_run_lock = threading.Lock()


class NftError(RuntimeError):
    """libnftables refused a command; the message is nft's own."""


def _load() -> ctypes.CDLL:
    global _lib
    with _lib_lock:
        if _lib is not None:
            return _lib
        last: OSError | None = None
        for name in _LIB_NAMES:
            try:
                lib = ctypes.CDLL(name)
                break
            except OSError as exc:
                last = exc
        else:
            raise NftError(f"libnftables not found: {last}")
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_free.restype = None
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        lib.nft_ctx_output_set_flags.restype = None
        lib.nft_ctx_output_get_flags.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_output_get_flags.restype = ctypes.c_uint
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_output.restype = ctypes.c_int
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_error.restype = ctypes.c_int
        lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
        _lib = lib
        return lib


class Nft:
    """One libnftables context, bound to the namespace of the thread that made it."""

    def __init__(self) -> None:
        self._lib = _load()
        ctx = self._lib.nft_ctx_new(_NFT_CTX_DEFAULT)
        if not ctx:
            raise NftError("nft_ctx_new failed")
        self._ctx: int | None = ctx
        self._lib.nft_ctx_output_set_flags(
            ctx, self._lib.nft_ctx_output_get_flags(ctx) | _NFT_CTX_OUTPUT_JSON)
        self._lib.nft_ctx_buffer_output(ctx)
        self._lib.nft_ctx_buffer_error(ctx)

    def __enter__(self) -> Nft:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._ctx is not None:
            self._lib.nft_ctx_free(self._ctx)
            self._ctx = None

    def run(self, cmd: str) -> str:
        """Run one buffer (JSON or nft syntax); return the output text; raise NftError."""
        if self._ctx is None:
            raise NftError("nft context is closed")
        with _run_lock:
            rc = self._lib.nft_run_cmd_from_buffer(self._ctx, cmd.encode())
            out = (self._lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode(
                errors="replace")
            err = (self._lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode(
                errors="replace")
        if rc != 0:
            raise NftError(err.strip() or f"nft failed (rc={rc})")
        return out

    def apply(self, commands: list[dict[str, Any]]) -> None:
        """Apply a list of JSON commands as one transaction."""
        self.run(json.dumps({"nftables": commands}))

    def list(self, what: str) -> list[dict[str, Any]]:
        """`list <what>` (e.g. "table ip fcd_fe") as parsed JSON objects; [] if none."""
        out = self.run(f"list {what}")
        if not out.strip():
            return []
        return list(json.loads(out).get("nftables", []))
