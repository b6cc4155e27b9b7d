"""The pidfiles' index by namespace (dataplane/linux/processes.py): a node's deletion finds its
own pidfiles without reading every other's, pidfiles written before the index existed are
found too, and nothing of the index outlives its pidfiles. Files only: no process is started."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest

from facade.dataplane.linux.processes import Processes
from facade.dataplane.linux.sandbox import Sandboxes

pytestmark = pytest.mark.no_store  # tests/conftest.py


def _pidfile(procs: Processes, key: str, netns: str) -> None:
    procs.run_dir.mkdir(parents=True, exist_ok=True)
    (procs.run_dir / f"{key}.json").write_text(json.dumps(
        {"key": key, "pid": 1, "netns": netns, "fingerprint": "f", "starttime": 1}))


def _procs(tmp_path: Path) -> Processes:
    return Processes(tmp_path / "state", cast(Sandboxes, cast(Any, object())))


def test_a_namespace_finds_its_own_pidfiles_even_those_written_before_the_index(
        tmp_path: Path) -> None:
    procs = _procs(tmp_path)
    for i in range(5):
        _pidfile(procs, f"wl{i}", f"fcd-i{i}-b")
    _pidfile(procs, "agent1", "fcd-r1")
    _pidfile(procs, "agent1b", "fcd-r1")
    assert [pf.key for pf in procs.in_netns("fcd-r1")] == ["agent1", "agent1b"]
    assert [pf.key for pf in procs.in_netns("fcd-i3-b")] == ["wl3"]
    assert procs.in_netns("fcd-i9-gone") == []


def test_the_index_follows_its_pidfiles_and_goes_with_the_last(tmp_path: Path) -> None:
    procs = _procs(tmp_path)
    _pidfile(procs, "wl1", "fcd-i1-b")
    _pidfile(procs, "wl2", "fcd-i2-b")
    assert [pf.key for pf in procs.in_netns("fcd-i1-b")] == ["wl1"]
    procs.remove_pidfile("wl1")
    assert not (procs.run_dir / "wl1.json").exists()
    assert not (procs.index_dir / "fcd-i1-b").exists()  # its folder went with its last entry
    assert [pf.key for pf in procs.in_netns("fcd-i2-b")] == ["wl2"]
    # an entry whose pidfile now names another namespace does not count there
    _pidfile(procs, "wl2", "fcd-i7-b")
    assert procs.in_netns("fcd-i2-b") == []
    procs.remove_pidfile("wl2")
    procs.drop_index()
    assert not procs.index_dir.exists()
    assert sorted(p.name for p in procs.run_dir.iterdir()) == []
