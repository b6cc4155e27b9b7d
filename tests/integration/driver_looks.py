"""What exists, read around a data-plane driver, for the contract suite (test_driver_contract).

The contract suite asks both drivers the same questions through the `DataPlane` protocol, and
checks their answers against a second, independent view of the same state: for the linux driver
the kernel itself (`ip -j`, `nft -j`, /proc), for the fake its memory (which stands for the
kernel there). Only the objects the suite makes are looked at (names below), so Facade objects
that exist already on the host are left out of every answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from facade.dataplane.fake import FakeDataPlane
from facade.dataplane.linux import nft_rules, port_rules
from facade.domain.names import FABRIC_NETNS
from facade.domain.specs import Inventory
from tests.integration.driver_fixtures import driver_json, driver_netns_list

# every name the contract suite makes starts with one of these
NODE_PREFIX = "fcd-i97"
BRIDGE_PREFIX = "fcdb97"  # fcdb9...: driver_fixtures' teardown removes them from a shared fabric
PROCESS_PREFIX = "c97-"


def mine(inv: Inventory) -> Inventory:
    """The suite's own objects of an inventory."""
    return Inventory(
        namespaces=frozenset(n for n in inv.namespaces if n.startswith(NODE_PREFIX)),
        subnets=frozenset(b for b in inv.subnets if b.startswith(BRIDGE_PREFIX)),
        processes=frozenset(k for k in inv.processes if k.startswith(PROCESS_PREFIX)))


class Look(Protocol):
    # Facade namespaces of others (not the fake's) that existed before the test: a test that
    # would touch them (cleanup() removes every namespace it can see) skips instead
    others: set[str]

    def namespaces(self) -> set[str]:
        """The suite's node namespaces."""

    def bridges(self) -> set[str]:
        """The suite's subnet segments."""

    def bridge_ports(self, bridge: str) -> set[str]:
        """The fabric ends (PortSpec.host) of the ports on a segment."""

    def addresses(self, netns: str) -> set[tuple[str, str]]:
        """(ifname, "ip/prefix") of a node's interfaces, loopback left out."""

    def rotation(self, netns: str) -> set[str] | None:
        """A front-end's backends (None: the node has no load-balancing rules)."""

    def running(self, pid: int) -> bool: ...

    def rule_ports(self) -> set[str]:
        """The fabric ports that have security rules."""


@dataclass
class FakeLook:
    """The fake's memory: what its 'kernel' holds."""

    fake: FakeDataPlane
    others: set[str]

    def namespaces(self) -> set[str]:
        return {n for n in self.fake.nodes if n.startswith(NODE_PREFIX)}

    def bridges(self) -> set[str]:
        return {b for b in self.fake.subnets if b.startswith(BRIDGE_PREFIX)}

    def bridge_ports(self, bridge: str) -> set[str]:
        return {p.host for spec in self.fake.nodes.values() for p in spec.ports
                if p.bridge == bridge}

    def addresses(self, netns: str) -> set[tuple[str, str]]:
        spec = self.fake.nodes.get(netns)
        return {(p.ifname, p.address) for p in spec.ports} if spec else set()

    def rotation(self, netns: str) -> set[str] | None:
        spec = self.fake.nodes.get(netns)
        if spec is None or spec.frontend is None:
            return None
        return set(self.fake.backends.get(netns, ()))

    def running(self, pid: int) -> bool:
        return pid in {p for _, p in self.fake.processes.values()}

    def rule_ports(self) -> set[str]:
        return {p for p, rules in self.fake.port_rules.items() if rules}


@dataclass
class KernelLook:
    """The kernel, read with the system's tools (never through the driver)."""

    others: set[str]

    def namespaces(self) -> set[str]:
        return {n for n in driver_netns_list() if n.startswith(NODE_PREFIX)}

    @staticmethod
    def _fabric_links() -> list[dict[str, Any]]:
        if FABRIC_NETNS not in driver_netns_list():
            return []
        links = driver_json("ip", "-n", FABRIC_NETNS, "-j", "-d", "link")
        assert isinstance(links, list)
        return links

    def bridges(self) -> set[str]:
        return {lk["ifname"] for lk in self._fabric_links()
                if lk.get("linkinfo", {}).get("info_kind") == "bridge"
                and lk["ifname"].startswith(BRIDGE_PREFIX)}

    def bridge_ports(self, bridge: str) -> set[str]:
        return {lk["ifname"] for lk in self._fabric_links() if lk.get("master") == bridge}

    def addresses(self, netns: str) -> set[tuple[str, str]]:
        if netns not in driver_netns_list():
            return set()
        data = driver_json("ip", "-n", netns, "-j", "addr")
        assert isinstance(data, list)
        return {(lk["ifname"], f"{a['local']}/{a['prefixlen']}")
                for lk in data if lk["ifname"] != "lo"
                for a in lk.get("addr_info", []) if a["family"] == "inet"}

    @staticmethod
    def _nft(netns: str, *what: str) -> list[dict[str, Any]]:
        data = driver_json("ip", "netns", "exec", netns, "nft", "-j", "list", *what)
        assert isinstance(data, dict)
        objects: list[dict[str, Any]] = data["nftables"]
        return objects

    def _has_table(self, netns: str, family: str, name: str) -> bool:
        return any(o.get("table", {}).get("family") == family
                   and o.get("table", {}).get("name") == name
                   for o in self._nft(netns, "tables"))

    def rotation(self, netns: str) -> set[str] | None:
        if netns not in driver_netns_list() \
                or not self._has_table(netns, nft_rules.FAMILY, nft_rules.TABLE):
            return None
        for obj in self._nft(netns, "map", nft_rules.FAMILY, nft_rules.TABLE, nft_rules.MAP):
            if "map" in obj:
                return {elem[1] for elem in obj["map"].get("elem", [])}
        raise AssertionError(f"{netns}: a front-end table without its backends map")

    def running(self, pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            return False

    def rule_ports(self) -> set[str]:
        if FABRIC_NETNS not in driver_netns_list() \
                or not self._has_table(FABRIC_NETNS, port_rules.FAMILY, port_rules.TABLE):
            return set()
        chains = self._nft(FABRIC_NETNS, "table", port_rules.FAMILY, port_rules.TABLE)
        # one chain per port and direction: in_<port>, out_<port>
        return {name.split("_", 1)[1] for o in chains if "chain" in o
                for name in [o["chain"]["name"]] if name.startswith(("in_", "out_"))}
