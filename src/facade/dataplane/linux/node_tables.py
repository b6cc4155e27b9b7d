"""The nftables a node holds, read and written inside its namespace: a front-end's load-balancing
table (rendered by nft_rules.py; its rotation is an nft map replaced atomically) and a filtering
router's or public gateway's table (rendered by router_rules.py). nodes.py makes them current, observe.py reads them
back, and the driver's `set_backends` replaces a front-end's rotation here.
"""

from __future__ import annotations

import os
from typing import Any

from facade.dataplane.linux import conntrack, neighbours, nft_rules, router_rules
from facade.dataplane.linux import netns as ns
from facade.dataplane.linux.errors import DataPlaneError, fatal
from facade.dataplane.linux.links import get_link, ipr_in
from facade.dataplane.linux.nft import Nft, NftError
from facade.domain.specs import NodeSpec


def nft_tables(nft: Nft) -> set[tuple[str, str]]:
    """(family, name) of every table that has a chain (each of Facade's has). Not `list
    tables`: libnftables fills its cache whole for it, every set's elements included (7 ms at
    1,000 port guard entries, 19 ms at 3,000); `list chains` reads no element (0.15 ms)."""
    out: set[tuple[str, str]] = set()
    for obj in nft.list("chains"):
        chain = obj.get("chain")
        if chain:
            out.add((str(chain.get("family")), str(chain.get("table"))))
    return out


def list_fe_table(nft: Nft) -> list[dict[str, Any]] | None:
    """The front-end table's listing, None if there is none (read-only: no transaction)."""
    if (nft_rules.FAMILY, nft_rules.TABLE) not in nft_tables(nft):
        return None
    return nft.list(f"table {nft_rules.FAMILY} {nft_rules.TABLE}")


def list_rt_table(nft: Nft) -> list[dict[str, Any]] | None:
    """The router filter table's listing, None if there is none (read-only)."""
    if (router_rules.FAMILY, router_rules.TABLE) not in nft_tables(nft):
        return None
    return nft.list(f"table {router_rules.FAMILY} {router_rules.TABLE}")


def router_digest() -> str | None:
    """Inside a router: the digest of its filter table, None if there is none."""
    with Nft() as nft:
        listing = list_rt_table(nft)
    return router_rules.digest(listing) if listing is not None else None


def ensure_router_filter(spec: NodeSpec, created: bool) -> str | None:
    """Inside a router: its table exactly as desired, or none when no leg is isolated and it is
    no public gateway. Writes only when the kernel's table differs, and then forgets the
    tracked connections whose translation no longer holds (conntrack.py); returns its digest
    (None: no table)."""
    wanted = router_rules.wanted(spec)
    with Nft() as nft:
        listing = None if created and not wanted else list_rt_table(nft)
        if not wanted:
            if listing is not None:
                nft.run(router_rules.delete_command())
                if "prerouting" in router_rules.parse_table(listing)[0]:
                    conntrack.forget_stale(None, None)  # a gateway no more
            return None
        if listing is None or not router_rules.is_current(listing, spec):
            present = router_rules.parse_table(listing)[0] if listing is not None else {}
            nft.apply(router_rules.table_commands(
                spec, present, router_rules.counters_of(listing) if listing else ()))
            if spec.gateway is not None or "prerouting" in present:
                conntrack.forget_stale(spec.gateway, _gateway_leg_ip(spec))
            listing = list_rt_table(nft) or []
        return router_rules.digest(listing)


def read_gateway_counters(netns: str) -> dict[str, tuple[str, int]] | None:
    """A router's named counters (its public addresses' meters): name -> (epoch, bytes),
    None when there is no such router. The epoch is the namespace's inode, the table's handle
    and the counter's: it changes exactly when the count starts again from 0 (the router or
    its table made again, the counter deleted and made again)."""
    if not ns.exists(netns):
        return None

    def read() -> dict[str, tuple[str, int]]:
        inode = os.stat("/proc/thread-self/ns/net").st_ino
        with Nft() as nft:
            listing = list_rt_table(nft)
        if listing is None:
            return {}
        table = router_rules.table_handle(listing)
        return {name: (f"{inode}:{table}:{handle}", value)
                for name, (handle, value) in router_rules.counters_of(listing).items()}

    try:
        return ns.run_in_netns(netns, read)
    except FileNotFoundError:  # gone meanwhile
        return None


def _gateway_leg_ip(spec: NodeSpec) -> str | None:
    gw = spec.gateway
    leg = next((p for p in spec.ports if gw is not None and p.ifname == gw.ifname), None)
    return leg.address.split("/")[0] if leg is not None else None


def read_frontend(name: str) -> tuple[tuple[str, ...] | None, str | None, str | None]:
    """A front-end's rotation (None: no map), how its map and `active` set differ from
    what set_backends writes for it (nft_rules.rotation_drift), and the digest of its
    chains (None: one is missing), from one listing of its table (as ensure_node digests it;
    libnftables reads the kernel's state again for every command, about 0.6 ms each: the
    map, the set and the five chains one by one cost 4 ms a look). Its meters come with it:
    an element per backend address of its rotation."""
    def read() -> tuple[tuple[str, ...] | None, str | None, str | None]:
        with Nft() as nft:
            listing = list_fe_table(nft)
        elems: list[Any] | None = None
        active: list[Any] | None = None
        for obj in listing or []:
            if "map" in obj and obj["map"].get("name") == nft_rules.MAP:
                elems = list(obj["map"].get("elem", []))
            elif "set" in obj and obj["set"].get("name") == nft_rules.ACTIVE:
                active = list(obj["set"].get("elem", []))
        if listing is None or elems is None:
            return None, None, None
        backends = nft_rules.backends_from_elems(elems)
        if active is None:
            return backends, "set active missing", None
        chains = nft_rules.parse_table(listing)[0]
        endpoint = nft_rules.endpoint_of(listing)
        return (backends, nft_rules.rotation_drift(elems, active, endpoint),
                nft_rules.chains_digest(listing) if set(nft_rules.CHAINS) <= set(chains)
                else None)

    return ns.run_in_netns(name, read)


def set_rotation(netns: str, backends: tuple[str, ...]) -> None:
    """A front-end's rotation replaced (the driver's `set_backends`, under the node's lock):
    its map in one transaction, then its permanent neighbour entries for exactly those
    backends."""
    if not ns.exists(netns):
        raise DataPlaneError(f"set_backends {netns}: no front-end {netns}")

    def apply() -> tuple[str, str] | None:
        """The map replaced; returns the front-end's backend leg and address."""
        with Nft() as nft:
            try:
                listing = list_fe_table(nft) or []
                endpoint = nft_rules.endpoint_of(listing)
                if endpoint is None:
                    raise NftError("no front-end table")
                nft.apply(nft_rules.map_commands(tuple(backends), endpoint))
            except NftError as exc:
                raise fatal(f"set_backends {netns}: not a front-end "
                            f"(nft: {exc})") from exc
        return nft_rules.backend_leg_of(listing)

    leg = ns.run_in_netns(netns, apply)
    with ipr_in(netns) as fe:  # the rotation resolves without ARP (neighbours.py)
        link = get_link(fe, leg[0]) if leg else None
        mac = link.get("address") if link is not None else None
        if link is not None and leg and mac and neighbours.on_segment(mac, leg[1]):
            neighbours.resolve(fe, link["index"], mac, backends, exactly=True)
