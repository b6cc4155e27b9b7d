"""The layout of a management agent's configuration folder, which the control plane writes and
the agent (and the fake data plane's agents) read: one small file per node, so a node that
comes or goes costs one file written and read, not the whole configuration.

    <folder>/settings.json      {"secret": HEX64, "port": PORT}
    <folder>/nodes/<NAME>.json  {"name", "netns", "mgmt_ip", "role", "workload"}

Files are replaced atomically (a new inode each time), so a reader keeps a file's inode to know
whether it changed; the folder's mtime says that a node came or went.
"""

from __future__ import annotations

SETTINGS = "settings.json"
NODES = "nodes"
SUFFIX = ".json"  # a node's file; anything else in NODES (a write's ".tmp") is not a node


def node_file(name: str) -> str:
    return name + SUFFIX


def node_of(filename: str) -> str | None:
    """The node a file in NODES stands for (None: not a node's file)."""
    return filename[:-len(SUFFIX)] if filename.endswith(SUFFIX) and len(filename) > len(SUFFIX) \
        else None
