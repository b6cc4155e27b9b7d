"""`python -m facade.workloads.host_agent` (what `facade host-agent` runs): the host agent,
until SIGTERM or SIGINT (exit 0), or a refusal of the control plane (exit 2: a wrong or revoked
token; 3: another agent holds this host, or the request is refused otherwise). With --apply it
also runs the kernel work the control plane sends for its host (work.py)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from facade.workloads.host_agent.loop import HostAgent

if TYPE_CHECKING:
    from facade.dataplane.executor import HostKernel


STATE = Path("/var/lib/facade-agent")


def _linux(state: Path) -> Callable[[str], HostKernel]:
    """The linux driver for the host, once its name is known (imported only then: an agent
    that only heartbeats needs no pyroute2)."""

    def make(host: str) -> HostKernel:
        from facade.dataplane.linux.agent_host import HostDataPlane

        return HostDataPlane(state, host)

    return make


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facade host-agent", description=__doc__)
    parser.add_argument("--control-plane", required=True,
                        help="the control plane's URL, or unix:PATH (its unix socket)")
    parser.add_argument("--token", default=os.environ.get("FACADE_HOST_TOKEN"),
                        help="its host's token (default $FACADE_HOST_TOKEN)")
    parser.add_argument("--underlay", required=True, help="this host's underlay address")
    parser.add_argument("--cacert", help="the CA file to trust for an https control plane")
    parser.add_argument("--apply", action="store_true",
                        help="apply the kernel work the control plane sends for this host")
    parser.add_argument("--agent", default=None,
                        help="this agent's id (default: the machine's name and a random part); "
                             "a run that replaces a dead one of the same id registers at once")
    parser.add_argument("--state", default=str(STATE),
                        help=f"the agent's state folder, with --apply (default {STATE})")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("a host token is needed: --token or $FACADE_HOST_TOKEN")
    agent = HostAgent(url=args.control_plane, token=args.token, underlay=args.underlay,
                      cacert=args.cacert, say=lambda line: print(line, flush=True),
                      kernel=_linux(Path(args.state)) if args.apply else None)
    if args.agent is not None:
        agent.agent = args.agent

    def stop(_sig: int, _frame: FrameType | None) -> None:
        agent.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return agent.run()


if __name__ == "__main__":
    sys.exit(main())
