"""`python -m facade.dataplane.linux.cleanup [--state-dir DIR]`: remove every kernel object and
process Facade made (fcd-* namespaces, the fabric last, their processes and pidfiles; first the
simulated hosts' FRR daemons, nodes, hosts and substrate, and their folder), print what was
removed. Works with the control plane down; safe to run when nothing exists. State dir
default: $FACADE_HOME or ./.facade. `--this-plane`: of the host-wide objects (control groups,
sandbox processes, bridges), this state folder's control plane's only, and of the simulated
hosts' FRR daemons those of this PID namespace only. The simulated hosts' agents' state folders
(DIR/host-agents/HOST, each its own driver's: controller/simulated_agents.py) are cleaned
last, each as the plane it is, once every namespace is gone: their pidfiles, node folders,
control groups and bridges (with `--this-plane` too: an agent's plane is part of this
control plane's)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from facade.dataplane.linux import simhosts
from facade.dataplane.linux.driver import LinuxDataPlane
from facade.domain import names


def default_state_dir() -> Path:
    return Path(os.environ.get("FACADE_HOME") or ".facade")


def agent_folders(state_dir: Path) -> list[Path]:
    """The state folders of the simulated hosts' agents this control plane ran."""
    try:
        return sorted(p for p in (state_dir / names.HOST_AGENTS_DIR).iterdir() if p.is_dir())
    except FileNotFoundError:
        return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m facade.dataplane.linux.cleanup",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="state directory (default: $FACADE_HOME or ./.facade)")
    parser.add_argument("--this-plane", action="store_true",
                        help="control groups, sandbox processes and bridges of this state "
                             "folder's control plane only, not every plane's on the host")
    args = parser.parse_args(argv)
    state_dir = args.state_dir or default_state_dir()
    # before the driver removes their namespaces
    removed = simhosts.cleanup(state_dir, every_plane=not args.this_plane)
    removed += LinuxDataPlane(state_dir, this_plane_only=args.this_plane).cleanup()
    for folder in agent_folders(state_dir):  # what is left of their planes: their records
        removed += LinuxDataPlane(folder, this_plane_only=True).cleanup()
    for item in removed:
        print(f"removed {item}")
    if not removed:
        print("nothing to remove")
    return 0


if __name__ == "__main__":
    sys.exit(main())
