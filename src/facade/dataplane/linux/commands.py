"""A command run once in a node and waited for (the driver's `exec`, behind `facade exec`): in
the node's sandbox, or with `host` as one of Facade's own processes (`ip netns exec`); what it
printed, its exit code, and a kill of its whole process group on a timeout.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

from facade.dataplane.linux import netns as ns
from facade.dataplane.linux.errors import DataPlaneError
from facade.dataplane.linux.locks import NodeLocks, SharedLock
from facade.dataplane.linux.processes import wait_entered
from facade.dataplane.linux.sandbox import NoSandbox, Sandboxes
from facade.domain.specs import ExecResult


def run(netns: str, argv: list[str], *, timeout: float, stdin: str | None, host: bool,
        sandboxes: Sandboxes, fabric: SharedLock, nodes: NodeLocks) -> ExecResult:
    """The driver's `exec`: `argv` run in the node and waited for; every failure is an
    ExecResult (exit code 255 when nothing ran). The locks are taken only to launch in the
    sandbox (the node's init may have to be started)."""
    if not ns.exists(netns):
        return ExecResult(returncode=255, stdout="", stderr=f"no namespace {netns}\n")
    stdin_mode = subprocess.PIPE if stdin is not None else subprocess.DEVNULL
    victim: int | None = None  # the process group to kill on a timeout
    try:
        if host:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", netns, *argv], stdin=stdin_mode,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True,
                start_new_session=True)
            victim = proc.pid
            wait_entered(proc.pid, netns)
            ns.SCAN.spawned()
        else:
            # the node's init may have to be started
            with fabric.shared(), nodes.hold(netns):
                launched = sandboxes.launch(
                    netns, argv, stdin=stdin_mode, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, die_with_parent=True)
            proc, victim = launched.monitor, launched.pid
    except NoSandbox:
        return ExecResult(returncode=255, stdout="", stderr=f"node {netns} has no sandbox "
                          "yet; try again in a moment\n")
    except (OSError, DataPlaneError) as exc:
        return ExecResult(returncode=255, stdout="", stderr=f"{exc}\n")
    try:
        out, err = proc.communicate(stdin.encode() if stdin is not None else None,
                                    timeout=timeout)
    except subprocess.TimeoutExpired:
        for pgid in {proc.pid} | ({victim} if victim is not None else set()):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        try:
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = b"", b""
            proc.wait()
        return ExecResult(returncode=proc.returncode if proc.returncode is not None else -9,
                          stdout=out.decode(errors="replace"),
                          stderr=err.decode(errors="replace"), timed_out=True)
    return ExecResult(returncode=proc.returncode, stdout=out.decode(errors="replace"),
                      stderr=err.decode(errors="replace"))
