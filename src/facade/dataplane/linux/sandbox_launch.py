"""Starting bwrap for a sandbox (sandbox.py's Sandboxes, for a node's init and for every
launch): the command's head that enters the node's network namespace as its host uid, the
spawn, and the handshake over bwrap's --info-fd and --block-fd that holds the child until the
driver has given it what it needs (its control groups, its uid map).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
from collections.abc import Callable
from typing import IO

from facade.dataplane.linux import netns as ns
from facade.dataplane.linux.errors import DataPlaneError
from facade.dataplane.linux.sandbox_view import PATH
from facade.domain.specs import SandboxSpec

HANDSHAKE_TIMEOUT = 10.0


def read_info(fd: int, popen: subprocess.Popen[bytes]) -> int | None:
    """The sandboxed process's host pid from bwrap's --info-fd; None if bwrap gave up."""
    data = b""
    deadline = HANDSHAKE_TIMEOUT
    while True:
        ready, _, _ = select.select([fd], [], [], deadline)
        if not ready:
            popen.kill()
            raise DataPlaneError(f"sandbox: bwrap did not start in {HANDSHAKE_TIMEOUT:g} s")
        chunk = os.read(fd, 4096)
        if not chunk:
            return None
        data += chunk
        with contextlib.suppress(ValueError):
            return int(json.loads(data)["child-pid"])


def spawn(args: list[str], *, pass_fds: list[int],
          stdin: int | IO[bytes] | None, stdout: int | IO[bytes] | None,
          stderr: int | IO[bytes] | None) -> subprocess.Popen[bytes]:
    """Start `args` (nsenter_argv's head: it changes to the node's uid itself, so Python
    may vfork)."""
    try:
        return subprocess.Popen(
            args, stdin=stdin, stdout=stdout, stderr=stderr, pass_fds=pass_fds,
            close_fds=True, start_new_session=True, env={"PATH": PATH})
    finally:
        for fd in pass_fds:
            os.close(fd)


def handshake(popen: subprocess.Popen[bytes], info_r: int, block_w: int,
              before: Callable[[int], None]) -> int | None:
    """Read the child's pid, run `before(pid)` while it waits, then let it go on."""
    try:
        pid = read_info(info_r, popen)
        if pid is not None:
            try:
                before(pid)
            except BaseException:
                # the child would go on when its block pipe closes: it must not run
                # without what `before` was to give it (its limits, its uid map)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                popen.kill()
                popen.wait()
                raise
            with contextlib.suppress(BrokenPipeError):
                os.write(block_w, b"1")
        return pid
    finally:
        os.close(info_r)
        os.close(block_w)


def nsenter_argv(netns: str | None, spec: SandboxSpec, mounts: str) -> list[str]:
    """Into the plane's launch mount namespace (`mounts`, sandbox_mounts.py) and the node's
    network namespace (None: stay in the host's, for an init that makes the node's own), then
    the node's host uid and gid (nsenter drops the supplementary groups)."""
    net = [f"--net={ns.path(netns)}"] if netns is not None else []
    return ["nsenter", f"--mount={mounts}", *net, "-S", str(spec.uid), "-G", str(spec.uid),
            "--", "bwrap"]
