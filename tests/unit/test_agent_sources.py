"""Where the management agent reads its config (workloads/agent/sources.py): the folder the
control plane writes, one file per node, read file by file as they change; and one file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from facade.domain import agent_layout as layout
from facade.service import files
from facade.workloads.agent import sources

pytestmark = pytest.mark.no_store  # tests/conftest.py

SECRET = "ab" * 32


def entry(name: str, ip: str = "10.0.200.3") -> dict[str, Any]:
    return {"name": name, "netns": f"fcd-i1-{name}", "mgmt_ip": ip, "role": "backend",
            "workload": {"ip": "10.0.1.3", "port": 80, "health_path": "/health",
                         "check": "http", "codes": "200-299", "stats": True}}


def put(folder: Path, name: str, body: object) -> None:
    files.write_atomically(folder / layout.NODES / layout.node_file(name), json.dumps(body),
                           private=True)


def settle(folder: Path) -> None:
    """Age the nodes' folder past the source's racy window (as if written a while ago)."""
    old = os.stat(folder / layout.NODES).st_mtime_ns - 10 * sources.RACY_NS
    os.utime(folder / layout.NODES, ns=(old, old))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    files.write_atomically(tmp_path / layout.SETTINGS,
                           json.dumps({"secret": SECRET, "port": 9700}), private=True)
    (tmp_path / layout.NODES).mkdir()
    return tmp_path


def test_a_folder_is_read_file_by_file_as_files_come_change_and_go(
        folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    put(folder, "a", entry("a"))
    put(folder, "b", entry("b", "10.0.200.4"))
    settle(folder)
    src = sources.source(str(folder))
    assert isinstance(src, sources.FolderSource)
    changed, config = src.read()
    assert changed and config is not None
    assert (config.secret, config.port, sorted(config.nodes)) == (SECRET, 9700, ["a", "b"])
    assert src.read() == (False, config)  # nothing changed: nothing read

    reads: list[str] = []
    load = sources._load
    monkeypatch.setattr(sources, "_load", lambda p: reads.append(os.path.basename(p)) or load(p))
    put(folder, "b", entry("b", "10.0.200.9"))  # replaced
    put(folder, "c", entry("c", "10.0.200.5"))  # new
    (folder / layout.NODES / "a.json").unlink()  # gone
    (folder / layout.NODES / "c.json.tmp").write_text("half a write")  # not a node's file
    settle(folder)
    changed, config = src.read()
    assert changed and config is not None
    assert sorted(reads) == ["b.json", "c.json"]  # only what changed was read
    assert sorted(config.nodes) == ["b", "c"]
    assert config.nodes["b"].mgmt_ip == "10.0.200.9"


def test_a_change_within_the_clock_tick_of_the_last_is_not_missed(folder: Path) -> None:
    put(folder, "a", entry("a"))
    src = sources.FolderSource(str(folder))
    assert sorted(src.read()[1].nodes) == ["a"]  # type: ignore[union-attr]
    # a second file lands with the same folder mtime as the first (one tick of the clock)
    stamp = os.stat(folder / layout.NODES).st_mtime_ns
    put(folder, "b", entry("b", "10.0.200.4"))
    os.utime(folder / layout.NODES, ns=(stamp, stamp))
    changed, config = src.read()
    assert changed and config is not None and sorted(config.nodes) == ["a", "b"]


def test_bad_entries_are_skipped_and_bad_settings_keep_the_last_config(
        folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    put(folder, "a", entry("a"))
    put(folder, "b", {**entry("b"), "mgmt_ip": "not an address"})
    put(folder, "c", entry("other"))  # a file that names another node
    settle(folder)
    src = sources.FolderSource(str(folder))
    config = src.read()[1]
    assert config is not None and sorted(config.nodes) == ["a"]
    err = capsys.readouterr().err
    assert "b.json" in err and "c.json names node other" in err
    files.write_atomically(folder / layout.SETTINGS, json.dumps({"secret": "xyz", "port": 1}),
                           private=True)
    assert src.read() == (False, config)
    assert "secret must be 64 hex characters; keeping current state" in capsys.readouterr().err


def test_no_settings_yet_means_no_config(tmp_path: Path) -> None:
    (tmp_path / layout.NODES).mkdir()
    put(tmp_path, "a", entry("a"))
    assert sources.FolderSource(str(tmp_path)).read()[1] is None


def test_one_file_is_read_whole_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "agent.json"
    files.write_atomically(path, json.dumps({"secret": SECRET, "port": 9700,
                                             "nodes": [entry("a")]}), private=True)
    src = sources.source(str(path))
    assert isinstance(src, sources.FileSource)
    changed, config = src.read()
    assert changed and config is not None and list(config.nodes) == ["a"]
    assert src.read() == (False, config)
    files.write_atomically(path, json.dumps({"secret": SECRET, "port": 9700,
                                             "nodes": [entry("a"), entry("b")]}), private=True)
    assert sorted(src.read()[1].nodes) == ["a", "b"]  # type: ignore[union-attr]
