"""netns.ProcessScan: one /proc scan shared by the deletions of the moment, never one older than
the last process started in a namespace (which it would miss)."""

from __future__ import annotations

from typing import Any

import pytest

from facade.dataplane.linux import netns
from tests.unit.clock import Clock

pytestmark = pytest.mark.no_store  # tests/conftest.py


def test_a_scan_is_shared_for_its_ttl_and_made_again_after_a_start(monkeypatch: Any) -> None:
    scans: list[int] = []
    monkeypatch.setattr(netns, "path", lambda name: "/proc/self/ns/net")
    ident = netns._ns_ident("any")
    assert ident is not None

    def scan() -> dict[tuple[int, int], list[int]]:
        scans.append(1)
        return {ident: [100 + len(scans)]}

    monkeypatch.setattr(netns, "_scan", scan)
    clock = Clock()
    table = netns.ProcessScan(ttl=1.0, clock=clock)
    assert table.pids_in("a") == [101] and table.pids_in("b") == [101]  # one scan for both
    clock.t += 0.5
    assert table.pids_in("a") == [101] and len(scans) == 1
    table.spawned()  # a process started since: the scan may miss it
    assert table.pids_in("a") == [102] and len(scans) == 2
    clock.t += 0.5
    assert table.pids_in("a") == [102]
    clock.t += 0.6  # older than its ttl
    assert table.pids_in("a") == [103] and len(scans) == 3


def test_a_namespace_that_is_gone_has_no_process(monkeypatch: Any) -> None:
    monkeypatch.setattr(netns, "path", lambda name: "/nonexistent/netns/" + name)
    assert netns.ProcessScan().pids_in("gone") == []
