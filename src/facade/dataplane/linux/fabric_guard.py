"""The driver's side of port security (port_guard.py renders the table): the entries of each
tenant's node recorded with it (guard.json in its sandbox folder), made exactly so in the
fabric, and the fabric's set listed (shared by observations through port_guard.Listing).
nodes.py calls `ensure` when a node is made or deleted; observe.py asks `record` and `listing`.
"""

from __future__ import annotations

import dataclasses
import json
import threading

from facade.dataplane.linux import netns as ns
from facade.dataplane.linux import port_guard
from facade.dataplane.linux.errors import DataPlaneError
from facade.dataplane.linux.links import FABRIC, ip_of
from facade.dataplane.linux.nft import Nft, NftError
from facade.dataplane.linux.sandbox import Sandboxes
from facade.domain.specs import NodeSpec

GUARD_READS = 3  # tries of one listing of the port guard before it is an error


def entries_of(spec: NodeSpec) -> list[port_guard.Entry]:
    return [port_guard.Entry(port=p.host, mac=p.mac or "", ip=ip_of(p.address))
            for p in spec.ports if p.mac]


class FabricGuard:
    """The port guard of one driver's nodes."""

    def __init__(self, sandboxes: Sandboxes) -> None:
        self._sandboxes = sandboxes
        self._lock = threading.Lock()  # the guard table is declared once
        # the guard's elements as last listed, shared by observations (port_guard.Listing)
        self.listing = port_guard.Listing(self.current)

    def record(self, netns: str) -> list[port_guard.Entry] | None:
        try:
            raw = json.loads((self._sandboxes.node_dir(netns) / "guard.json").read_text())
            return [port_guard.Entry(**e) for e in raw]
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def ensure(self, netns: str, entries: list[port_guard.Entry], where: str = FABRIC) -> None:
        """Make the guard exactly `entries` for this node's ports (port_guard.py), in the
        namespace that holds them (`where`: the fabric, or the node's simulated host), then
        record them with the node."""
        stale = [e for e in self.record(netns) or [] if e not in entries]
        text = port_guard.remove_commands(stale) + port_guard.add_commands(entries)

        def apply() -> None:
            with Nft() as nft:
                with self._lock:  # (its chain's listing would read the sets whole)
                    if not any(c.get("chain", {}).get("name") == "forward"
                               for c in nft.list(f"chains {port_guard.FAMILY}")
                               if c.get("chain", {}).get("table") == port_guard.TABLE):
                        nft.run(port_guard.DECLARATION)
                if text:
                    nft.run(text)

        try:
            ns.run_in_netns(where, apply)
        finally:
            self.listing.changed()
        record = self._sandboxes.node_dir(netns) / "guard.json"
        if entries:
            record.write_text(json.dumps([dataclasses.asdict(e) for e in entries]))
        else:
            record.unlink(missing_ok=True)

    def current(self, where: str = FABRIC) -> set[port_guard.Entry]:
        """The guard's `addrs` elements, as the fabric (or a simulated host: `where`) has them
        now (none without that namespace or a table). A listing that fails otherwise (one that met a change of the set made beside
        it, under load) is asked again; one that keeps failing is an error, never "missing":
        a node made again for nothing, and a false "port security missing"."""
        def read() -> set[port_guard.Entry]:
            with Nft() as nft:
                for attempt in range(GUARD_READS):
                    try:
                        return port_guard.read_entries(nft.list(
                            f"set {port_guard.FAMILY} {port_guard.TABLE} {port_guard.ADDRS}"))
                    except NftError as exc:
                        if "No such file or directory" in str(exc):
                            return set()
                        if attempt == GUARD_READS - 1:
                            raise DataPlaneError(f"port guard: cannot list its elements: "
                                                 f"{exc}") from exc
            return set()  # pragma: no cover - the loop returns or raises

        if not ns.exists(where):
            return set()
        try:
            return ns.run_in_netns(where, read)
        except ns.NamespaceMissing:
            return set()
