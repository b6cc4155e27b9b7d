"""One test run at a time touches Facade's kernel objects on this machine.

Tests that make `fcd-*` namespaces (and run `facade cleanup`, which removes all of them) hold
an exclusive lock on a file under /run for as long as their objects exist, so two pytest runs
on one machine (two developers, or a developer and a helper) wait for each other instead of
tearing down each other's namespaces."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

LOCK_PATH = "/run/facade-kernel-tests.lock"


@contextmanager
def kernel_lock() -> Iterator[None]:
    fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
