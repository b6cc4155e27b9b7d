"""The fabric's security rules (port_rules.py renders them): the tables read back with the
fabric's bridges and the port guard's entries (the fabric in one look, for observe.py), and
replaced in one transaction with the bridges' br_netfilter flags (the driver's
`set_port_rules`, under the fabric's lock held alone).
"""

from __future__ import annotations

from typing import Any

from facade.dataplane.linux import netns as ns
from facade.dataplane.linux import port_guard, port_rules
from facade.dataplane.linux.errors import DataPlaneError
from facade.dataplane.linux.links import FABRIC, fabric_links, fabrics, ipr_in, link_kind
from facade.dataplane.linux.nft import Nft, NftError
from facade.dataplane.linux.node_tables import nft_tables
from facade.domain import names
from facade.domain.specs import PortRuleSpec


def observe_fabric(where: str = FABRIC) -> tuple[frozenset[str], tuple[str | None, dict[str, tuple[
        PortRuleSpec, ...]] | None, tuple[str, ...]], set[port_guard.Entry]]:
    """The fabric (or a simulated host's namespace: `where`) in one look (its links once, one
    nftables context): its bridges, the security rules read back (`port_rules_of`) and the
    port guard's entries."""
    def read() -> tuple[list[dict[str, Any]], set[port_guard.Entry]]:
        with Nft() as nft:
            listing: list[dict[str, Any]] = []
            for key in sorted(nft_tables(nft)):
                if key in ((port_rules.FAMILY, port_rules.TABLE),
                           (port_rules.CT_FAMILY, port_rules.CT_TABLE)):
                    listing += nft.list(f"table {key[0]} {key[1]}")
            return listing, _read_guard(nft)

    try:
        listing, guarded = ns.run_in_netns(where, read)
    except (ns.NamespaceMissing, FileNotFoundError):
        raise
    except (NftError, OSError):
        listing, guarded = None, set()
    reading = port_rules.read_back(
        [o for o in listing or [] if _family_of(o) == port_rules.FAMILY])
    with ipr_in(where) as fab:  # the bridges, and the ports that have rules
        links = fabric_links(fab, set(reading.rules), where)
    bridges = frozenset(n for n, lk in links.items()
                        if link_kind(lk) == "bridge" and names.is_facade_link(n))
    if listing is None:
        # unreadable (the fabric is going away under us): no rules as far as we know; with
        # rules desired that means one more (atomic, harmless) replacement
        return bridges, (None, None, ()), set()
    return bridges, port_rules_of(listing, reading, links), guarded


def port_rules_of(listing: list[dict[str, Any]], reading: port_rules.Reading,
                  links: dict[str, Any]
                  ) -> tuple[str | None, dict[str, tuple[PortRuleSpec, ...]] | None,
                             tuple[str, ...]]:
    """The rules tables read back (`reading`, of `listing`): the fingerprint recorded in
    them, the rules the port chains enforce, and how the tables and the bridges'
    br_netfilter flags differ from what `set_port_rules` makes of those rules (`links`: the
    bridges and the ports with rules)."""
    wanted = _bridges_of(links, set(reading.rules))
    drift = port_rules.differences(listing, reading.rules, wanted)
    flagged = {n for n, lk in links.items() if link_kind(lk) == "bridge" and _nf_call(lk)}
    drift += [f"conntrack (br_netfilter) off on bridge {b}" for b in sorted(wanted - flagged)]
    drift += [f"conntrack (br_netfilter) on on bridge {b} without rules"
              for b in sorted(flagged - wanted)]
    return reading.fingerprint, reading.rules, tuple(drift)


def set_port_rules(rules: dict[str, tuple[PortRuleSpec, ...]], *,
                   skip: frozenset[str] = frozenset()) -> None:
    """Replace every port's security rules in one nftables transaction; turn br_netfilter
    on for the bridges that carry a port with rules (conntrack for them), off elsewhere.
    Flags are raised before the new rules and lowered after them, so a rule never runs
    without the connection state it relies on. Under the fabric's lock, held alone.

    Every simulated host's namespace gets the same tables (a port's chains match its name,
    and each port is in one namespace: the rules follow the port wherever it is made), except
    the namespaces in `skip`: those of hosts whose agents set their own (agent_host.py)."""
    rules = {port: rs for port, rs in rules.items() if rs}
    if not ns.exists(FABRIC):
        if rules:
            raise DataPlaneError("set_port_rules: no fabric")
        return
    for where in fabrics():
        if where not in skip:
            _set_in(where, rules)


def set_port_rules_in(where: str, rules: dict[str, tuple[PortRuleSpec, ...]]) -> None:
    """set_port_rules in one namespace only: a host agent's, for its own host's ports (its
    namespace must exist)."""
    if not ns.exists(where):
        raise DataPlaneError(f"set_port_rules: no namespace {where}")
    _set_in(where, {port: rs for port, rs in rules.items() if rs})


def _set_in(where: str, rules: dict[str, tuple[PortRuleSpec, ...]]) -> None:
    """set_port_rules in one namespace that holds ports."""
    with ipr_in(where) as fab:
        links = fabric_links(fab, set(rules), where)
        wanted = _bridges_of(links, set(rules))
        bridges = {n: lk for n, lk in links.items()
                   if link_kind(lk) == "bridge" and names.is_facade_link(n)}
        for name in sorted(wanted):
            if not _nf_call(bridges[name]):
                fab.link("set", index=bridges[name]["index"], kind="bridge",
                         br_nf_call_iptables=1)

        def apply() -> None:
            with Nft() as nft:
                nft.apply(port_rules.table_commands(rules, wanted))

        ns.run_in_netns(where, apply)
        for name, link in sorted(bridges.items()):
            if name not in wanted and _nf_call(link):
                fab.link("set", index=link["index"], kind="bridge",
                         br_nf_call_iptables=0)


def _read_guard(nft: Nft) -> set[port_guard.Entry]:
    """In the fabric: the guard's `addrs` elements (none if the table is missing)."""
    try:
        return port_guard.read_entries(
            nft.list(f"set {port_guard.FAMILY} {port_guard.TABLE} {port_guard.ADDRS}"))
    except NftError:
        return set()


def _family_of(obj: dict[str, Any]) -> str | None:
    """The family of one object of an nft listing (its table's family)."""
    body = next(iter(obj.values()), None)
    return str(body.get("family")) if isinstance(body, dict) and "family" in body else None


def _nf_call(link: Any) -> bool:
    """Whether a bridge sends its IPv4 frames through br_netfilter (IFLA_BR_NF_CALL_IPTABLES)."""
    info = link.get_attr("IFLA_LINKINFO")
    data = info.get_attr("IFLA_INFO_DATA") if info is not None else None
    value = data.get_attr("IFLA_BR_NF_CALL_IPTABLES") if data is not None else None
    return bool(value)


def _bridges_of(links: dict[str, Any], ports: set[str]) -> set[str]:
    """The bridges that the given ports are enslaved to (ports that do not exist are skipped)."""
    by_index = {lk["index"]: n for n, lk in links.items()}
    return {by_index[lk.get("master")] for n, lk in links.items()
            if n in ports and lk.get("master") in by_index}
