"""The scenario file's accounts, networks (with their subnets), grants and load-balancer offers,
read into declarations (domain.scenario) at their lines; a network and an offer through their
create commands (domain.commands), as an API body is.

Called by the reader (reader.py) in that order: grants and offers are checked against the
networks the file declares.
"""

from __future__ import annotations

import ipaddress

from facade.domain import commands, counts
from facade.domain.errors import Conflict, Invalid, describe
from facade.domain.ipam import Siblings, check_no_overlap, check_subnet_in_network
from facade.domain.scenario import (
    AccountDecl,
    GrantDecl,
    LoadBalancerDecl,
    NetworkDecl,
    ServiceDecl,
    SubnetDecl,
)
from facade.scenario.items import Item, Unique, fields_at, in_file, items, mapping, owned_by
from facade.scenario.yaml_lines import Map


def read_accounts(top: Map, file: str) -> tuple[AccountDecl, ...]:
    unique = Unique("account")
    out = []
    for value, line in items(top, "accounts", file):
        item = mapping(value, line, kind="account", file=file, allowed=("name",),
                       required=("name",))
        name = item.name()
        unique.add(name, item.line, item.at("name"))
        out.append(AccountDecl(name=name, line=item.line, file=file))
    return tuple(out)


def _subnets(net: Item, network: str, net_cidr: ipaddress.IPv4Network,
             file: str) -> tuple[SubnetDecl, ...]:
    unique = Unique("subnet", f" of network {network!r}")
    siblings = Siblings()
    out = []
    for value, line in items(net.data, "subnets", file):
        item = mapping(value, line, kind="subnet", file=file,
                       allowed=("name", "cidr", "internet", "sites"), required=("name", "cidr"))
        name = item.name()
        unique.add(name, item.line, item.at("name"))
        cidr = item.cidr()
        check_subnet_in_network(cidr, net_cidr, where=item.at("cidr"))
        try:
            check_no_overlap(cidr, siblings.overlapping(cidr), where=item.at("cidr"))
        except Conflict as exc:  # within one file it is a mistake in the file: Invalid
            raise Invalid(exc.message, where=exc.where) from None
        siblings.add(name, cidr)
        internet = item.data.get("internet", True)
        if not isinstance(internet, bool):
            item.fail("internet", f"subnet internet must be true or false, not "
                                  f"{describe(internet)}")
        sites = item.data.get("sites", True)
        if not isinstance(sites, bool):
            item.fail("sites", f"subnet sites must be true or false, not {describe(sites)}")
        out.append(SubnetDecl(name=name, cidr=str(cidr), line=item.line, network=network,
                              file=file, internet=internet, sites=sites))
    with fields_at(net):
        counts.check_subnets(len(out), where="subnets")
    return tuple(out)


def read_networks(top: Map, file: str) -> tuple[NetworkDecl, ...]:
    unique = Unique("network")
    out = []
    for value, line in items(top, "networks", file):
        item = mapping(value, line, kind="network", file=file,
                       allowed=("name", "account", "cidr", "subnets", "public_gateway",
                                "outbound_nat"),
                       required=("name", "account", "cidr"))
        name = item.name()
        account = item.name("account", kind="account")
        unique.add(name, item.line, item.at("name"), account)
        subnets = _subnets(item, name, item.cidr(), file)
        with fields_at(item):  # the API's rules, after the file's own words for the same ones
            cmd = commands.new_network(
                name=name, cidr=item.data.get("cidr"),
                subnets=[{"name": v.get("name"), "cidr": v.get("cidr")}
                         for v in item.data.get("subnets") or ()])
        gateway, outbound = item.flag("public_gateway"), item.flag("outbound_nat")
        if outbound and not gateway:
            item.fail("outbound_nat", "outbound_nat needs public_gateway: instances reach out "
                                      "through the network's public gateway")
        out.append(NetworkDecl(name=cmd.name, account=account, cidr=cmd.cidr, subnets=subnets,
                               line=item.line, file=file, public_gateway=gateway,
                               outbound_nat=outbound))
    return tuple(out)


def _subnet_of(ref: str, account: str, networks: tuple[NetworkDecl, ...]) -> str:
    """ACCOUNT/NETWORK/SUBNET of a subnet the file declares that a declaration of `account`
    means by `ref` (items.in_file), else `ref` as written."""
    return in_file(ref, account, (f"{n.account}/{s.ref}" for n in networks for s in n.subnets),
                   subnet=True) or ref


def _owner(ref: str, account: str, networks: tuple[NetworkDecl, ...]) -> str | None:
    """The account of the network the file declares that `ref` (a subnet) means, else None.
    (A grant names the subnet's owner's subnet: without an account, the grantee's first.)"""
    net = in_file(ref.rpartition("/")[0], account, (f"{n.account}/{n.name}" for n in networks))
    return net.split("/")[0] if net is not None else None


def read_grants(top: Map, file: str, networks: tuple[NetworkDecl, ...]) -> tuple[GrantDecl, ...]:
    """grants: [{subnet, account, subnet_account?}]: `account` is the grantee; `subnet_account`
    says whose the subnet is (the API's `?subnet_account=`), for a file of several accounts
    that have that path: the subnet is then ACCOUNT/NETWORK/SUBNET."""
    seen: dict[tuple[str, str], int] = {}
    out = []
    for value, line in items(top, "grants", file):
        item = mapping(value, line, kind="grant", file=file,
                       allowed=("subnet", "account", "subnet_account"),
                       required=("subnet", "account"))
        subnet = item.subnet_ref("subnet")
        account = item.name("account", kind="account")
        if item.has("subnet_account"):
            owner = item.name("subnet_account", kind="account")
            owned_by(item, "subnet", subnet, owner)
            subnet = subnet if subnet.count("/") == 2 else f"{owner}/{subnet}"
        if _owner(subnet, account, networks) == account:
            item.fail("account", f"account {account} owns subnet {subnet} (its network is "
                                 "declared in this file); it needs no grant")
        if (subnet, account) in seen:
            item.fail("account", f"subnet {subnet} is granted to {account} twice (first at "
                                 f"line {seen[(subnet, account)]})")
        seen[(subnet, account)] = item.line
        out.append(GrantDecl(subnet=subnet, account=account, line=item.line, file=file))
    return tuple(out)


def read_load_balancers(top: Map, file: str, networks: tuple[NetworkDecl, ...],
                        services: tuple[ServiceDecl, ...]) -> tuple[LoadBalancerDecl, ...]:
    """load_balancers: [{name, account, management_subnet}], the fields of POST
    /v1/load-balancers (account required here, as for every declaration of a file)."""
    backends = {_subnet_of(s.backend_subnet, s.account, networks): s.name for s in services}
    unique = Unique("load-balancer offer")
    out = []
    for value, line in items(top, "load_balancers", file):
        item = mapping(value, line, kind="load-balancer offer", file=file,
                       allowed=("name", "account", "management_subnet"),
                       required=("name", "account", "management_subnet"))
        with fields_at(item):
            cmd = commands.new_load_balancer(
                name=item.data.get("name"),
                management_subnet=item.data.get("management_subnet"))
        name, management = cmd.name, cmd.management_subnet
        account = item.name("account", kind="account")
        unique.add(name, item.line, item.at("name"), account)
        owner = _owner(management, account, networks)
        if owner is not None and owner != account:
            item.fail("management_subnet", f"load-balancer offer {name}: management_subnet "
                                           f"{management} belongs to account {owner} (its "
                                           "network is declared in this file), not to the "
                                           f"front-end provider {account}")
        if _subnet_of(management, account, networks) in backends:
            item.fail("management_subnet", f"load-balancer offer {name}: management_subnet "
                                           f"{management} is the backend subnet of service "
                                           f"{backends[management]}; a management subnet "
                                           "carries management traffic only")
        out.append(LoadBalancerDecl(name=name, account=account, management_subnet=management,
                                    line=item.line, file=file))
    return tuple(out)
