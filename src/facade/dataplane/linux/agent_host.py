"""The linux driver as a host agent runs it on its host (docs/multi-host.md, "The host agent
applies its host's kernel work"): the same driver and functions the control plane runs for a
node whose spec names a host (nodes.py, hostplane.py), but
- the host's own part of the overlay only (its namespace, FRR and segments): the shared part
  (the reflector, the fabric's leg, FRR and VXLAN ports) is the control plane's
  (`overlay_hub` False);
- the security rules meaning this host's own: set in, and read back from, its namespace only;
- its inventory and observation listing its host's nodes only (every namespace of the
  machine is in the one /run/netns: the nodes whose ports are on its host,
  `hostplane.nodes_on`), with the processes of its own state folder;
- a node it is asked to delete whose ports another host took over (a front-end moved: the
  new host's agent moves its ports and keeps its namespace, then this one is asked) let go,
  not deleted: its records here, and its segments left empty (driver.py `delete_node`).

The agent's executor (dataplane/executor.py) runs every intent on it; `python -m
facade.workloads.host_agent --apply` makes one once its host's name is known (at its
registration).
"""

from __future__ import annotations

from pathlib import Path

from facade.dataplane.linux import hostplane
from facade.dataplane.linux.driver import LinuxDataPlane
from facade.domain import names
from facade.domain.specs import PortRuleSpec, RulesObservation


class HostDataPlane(LinuxDataPlane):
    """LinuxDataPlane for host HOST's agent."""

    overlay_hub = False

    def __init__(self, state_dir: Path, host: str, *, this_plane_only: bool = False) -> None:
        super().__init__(state_dir, this_plane_only=this_plane_only)
        self.host = host

    def set_port_rules(self, rules: dict[str, tuple[PortRuleSpec, ...]]) -> None:
        self.set_host_port_rules(self.host, rules)

    def observe_rules(self) -> RulesObservation:
        return self.observe_host_rules(self.host)

    def _own_nodes(self) -> frozenset[str]:
        return hostplane.nodes_on(self.host)

    def _drives(self, host: str | None) -> bool:
        return host == self.host

    def _home(self) -> str | None:
        return names.host_netns(self.host)

    def _release_emptied(self) -> list[str]:
        return hostplane.release_segments(self.host, hostplane.segments(self.host), hub=False)
