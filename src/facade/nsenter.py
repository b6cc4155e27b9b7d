"""Run code in a network namespace: the one helper the linux driver and the management agent share.

Namespace membership is per thread, so entering one is done by a thread, with libc `setns`.
`in_new_thread` runs a callable in a thread of its own that ends when the callable returns
(a thread that entered a namespace is never reused); `in_namespace` does that after entering
the namespace open at a descriptor. The driver (`dataplane/linux/netns.py`) uses `setns` and
`in_new_thread` for its namespaces by name; the management agent (`workloads/agent`) keeps a
descriptor of each node's namespace and works in it through `in_namespace`.

It sits at the bottom of the layers, beside `domain`, so that both may import it; it imports
only the standard library.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

CLONE_NEWNET = 0x40000000

T = TypeVar("T")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]


def setns(fd: int) -> None:
    """Move the calling thread into the network namespace open at `fd`; OSError if it cannot."""
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def in_new_thread(fn: Callable[[], T], name: str = "facade-netns") -> T:
    """Run `fn()` in a new thread, wait for it, and return its result or raise its exception."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def in_namespace(ns_fd: int, fn: Callable[[], T], name: str = "facade-netns") -> T:
    """Run `fn()` in a new thread that entered the namespace open at `ns_fd`; the thread then
    ends. The caller's thread never changes namespace."""

    def inside() -> T:
        setns(ns_fd)
        return fn()

    return in_new_thread(inside, name)
