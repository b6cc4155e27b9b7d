"""Where the agent reads its configuration: a folder of one file per node (what the control
plane writes, domain/agent_layout.py), or one JSON file with every node (what older releases
wrote, and what a person or a test may write). `source(path)` picks by what the path is.

Each source is asked every poll whether anything changed and reads only what did: the folder's
source stats the settings file and the nodes' folder, and when the folder changed lists it
(without a stat per file: a replaced file has a new inode, which the listing carries) and reads
the files that are new or replaced. A folder whose mtime is within RACY_NS of the clock is
listed again at the next poll: two changes within one tick of the file system's clock leave
the same mtime.
"""

from __future__ import annotations

import json
import os
import stat
import time
from typing import Protocol

from facade.domain import agent_layout as layout
from facade.workloads.agent.config import Config, Node, node_from, parse_config, settings_from
from facade.workloads.agent.diagnostics import log

RACY_NS = 50_000_000  # 50 ms
Stamp = tuple[int, int, int]


class Source(Protocol):
    path: str

    def read(self) -> tuple[bool, Config | None]:
        """(whether the config may have changed, the config: None while there is none)."""


def source(path: str) -> Source:
    return FolderSource(path) if os.path.isdir(path) else FileSource(path)


def _stamp(path: str) -> tuple[Stamp | None, int]:
    """A file's (mtime, inode, size), None when it cannot be read; and its mode bits."""
    try:
        st = os.stat(path)
    except OSError:
        return None, 0
    return (st.st_mtime_ns, st.st_ino, st.st_size), st.st_mode


def _warn_open(path: str, mode: int) -> None:
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log(f"config {path}: readable by others (mode {mode & 0o777:o})")


def _load(path: str) -> object:
    with open(path, "rb") as fh:
        return json.loads(fh.read())


class FileSource:
    """One JSON file: settings and every node (config.parse_config)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.stamp: Stamp | None = None
        self.config: Config | None = None

    def read(self) -> tuple[bool, Config | None]:
        stamp, mode = _stamp(self.path)
        if stamp == self.stamp:
            return False, self.config
        self.stamp = stamp
        if stamp is None:
            log(f"config {self.path}: not found; keeping current state")
            return False, self.config
        _warn_open(self.path, mode)
        try:
            config, skipped = parse_config(_load(self.path))
        except (OSError, ValueError) as exc:
            log(f"config {self.path}: {exc}; keeping current state")
            return False, self.config
        for line in skipped:
            log(line)
        self.config = config
        return True, config


class FolderSource:
    """settings.json and nodes/NAME.json, each read again only when it was replaced."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.settings_path = os.path.join(path, layout.SETTINGS)
        self.nodes_path = os.path.join(path, layout.NODES)
        self.settings_stamp: Stamp | None = None
        self.folder_stamp: Stamp | None = None
        self.settings: tuple[str, int] | None = None  # secret, port
        self.entries: dict[str, tuple[int, Node | None]] = {}  # file -> (inode, node)
        self.config: Config | None = None

    def read(self) -> tuple[bool, Config | None]:
        changed = self._read_settings()
        stamp, _ = _stamp(self.nodes_path)
        if stamp != self.folder_stamp:
            changed = self._read_nodes() or changed
            # a change within the clock's tick of this one would leave the same mtime
            fresh = stamp is not None and time.time_ns() - stamp[0] < RACY_NS
            self.folder_stamp = None if fresh else stamp
        if changed and self.settings is not None:
            nodes = {n.name: n for _, n in self.entries.values() if n is not None}
            self.config = Config(self.settings[0], self.settings[1], nodes)
        return changed, self.config

    def _read_settings(self) -> bool:
        stamp, mode = _stamp(self.settings_path)
        if stamp == self.settings_stamp:
            return False
        self.settings_stamp = stamp
        if stamp is None:
            log(f"config {self.settings_path}: not found; keeping current state")
            return False
        _warn_open(self.settings_path, mode)
        try:
            settings = settings_from(_load(self.settings_path))
        except (OSError, ValueError) as exc:
            log(f"config {self.settings_path}: {exc}; keeping current state")
            return False
        changed, self.settings = settings != self.settings, settings
        return changed

    def _read_nodes(self) -> bool:
        try:
            listing = {e.name: e.inode() for e in os.scandir(self.nodes_path)
                       if layout.node_of(e.name) is not None}
        except OSError:
            listing = {}
        changed = False
        for name in [n for n in self.entries if n not in listing]:
            del self.entries[name]
            changed = True
        for name, inode in listing.items():
            kept = self.entries.get(name)
            if kept is not None and kept[0] == inode:
                continue
            self.entries[name] = (inode, self._node(name))
            changed = True
        return changed

    def _node(self, filename: str) -> Node | None:
        path = os.path.join(self.nodes_path, filename)
        try:
            node = node_from(_load(path))
        except FileNotFoundError:
            return None  # replaced or removed meanwhile: the folder's next change says
        except (OSError, ValueError) as exc:
            log(f"node skipped: {path}: {exc}")
            return None
        if node.name != layout.node_of(filename):
            log(f"node skipped: {path} names node {node.name}")
            return None
        return node
