"""A real control plane for the length of a `with`: started in a fresh state folder under the
kernel lock, then stopped and `facade cleanup` run, and checked to leave no fcd-* namespace, no
workload process, no sandbox leftover and no new root-namespace link, even when a test failed.
The `cp` fixture (conftest.py) holds one per module; the doc test one per document."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.integration import nsclient
from tests.integration.controlplane import (
    ControlPlane,
    cleanup,
    start_control_plane,
    stop_control_plane,
)
from tests.integration.kernel_lock import kernel_lock


@contextmanager
def plane(tmp_path_factory: pytest.TempPathFactory, args: tuple[str, ...] = (),
          env: dict[str, str] | None = None) -> Iterator[ControlPlane]:
    """`args`: more of the server's options; `env`: more of its environment."""
    if os.geteuid() != 0:
        pytest.skip("needs root: real network namespaces")
    with kernel_lock():
        before = nsclient.root_links()
        if nsclient.facade_netns():
            pytest.fail(f"Facade namespaces exist before the test: {nsclient.facade_netns()}")
        home = tmp_path_factory.mktemp("cp") / "home"
        home.mkdir()
        started = start_control_plane(home, args=args, env=env)
        try:
            yield started
        finally:
            stop_control_plane(started)
            cleanup(home)
            left = nsclient.facade_netns()
            workloads = nsclient.processes_mentioning("facade.workloads", wrappers=True)
            sandboxes = nsclient.sandbox_leftovers(home)
            after = nsclient.root_links()
            assert not left, f"namespaces left behind: {left}"
            assert not workloads, f"workload processes left behind: {workloads}"
            assert not sandboxes, f"sandbox leftovers: {sandboxes}"
            assert after == before, f"root namespace links changed: {after ^ before}"
