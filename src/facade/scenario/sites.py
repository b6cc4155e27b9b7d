"""A scenario's `sites` (with their `hosts`) and `vpns` (docs/edge.md, docs/scenario.md): the
fields of POST /v1/sites, /v1/sites/NAME/hosts and /v1/vpns, checked here with the file's
lines."""

from __future__ import annotations

from facade.domain import commands
from facade.domain.errors import Invalid
from facade.domain.ipam import parse_ip
from facade.domain.scenario import InstanceDecl, SiteDecl, SiteHostDecl, VpnDecl
from facade.scenario.items import Unique, fields_at, items, mapping
from facade.scenario.yaml_lines import Map


def read_sites(top: Map, file: str, instances: tuple[InstanceDecl, ...]
               ) -> tuple[tuple[SiteDecl, ...], tuple[SiteHostDecl, ...]]:
    """sites: [{name, account, cidr, hosts: [{name, ip}]}]; hosts share the instances' names.
    Both are unique per account, as networks and instances are (docs/api.md, "Names")."""
    unique = Unique("site")
    hosts_seen = Unique("site host")
    taken = {(i.account, i.name): i.line for i in instances}
    sites, hosts = [], []
    for value, line in items(top, "sites", file):
        item = mapping(value, line, kind="site", file=file,
                       allowed=("name", "account", "cidr", "hosts"),
                       required=("name", "account", "cidr"))
        name = item.name()
        account = item.name("account", kind="account")
        unique.add(name, item.line, item.at("name"), account)
        with fields_at(item):
            cmd = commands.new_network(name=name, cidr=item.data.get("cidr"))
        sites.append(SiteDecl(name=name, account=account, cidr=cmd.cidr, line=item.line,
                              file=file))
        for hvalue, hline in items(item.data, "hosts", file):
            host = mapping(hvalue, hline, kind="site host", file=file,
                           allowed=("name", "ip"), required=("name",))
            hname = host.name()
            hosts_seen.add(hname, host.line, host.at("name"), account)
            if (account, hname) in taken:
                host.fail("name", f"{hname!r} is also an instance of account {account} in this "
                                  f"file (line {taken[account, hname]}); site hosts and "
                                  "instances share their names")
            ip = str(parse_ip(host.string("ip", "an IPv4 address like 192.168.1.10"),
                              where=host.at("ip"))) if host.has("ip") else None
            hosts.append(SiteHostDecl(name=hname, site=name, ip=ip, line=host.line,
                                      file=file, account=account))
    return tuple(sites), tuple(hosts)


def read_vpns(top: Map, file: str) -> tuple[VpnDecl, ...]:
    """vpns: [{name, network, site}]; one channel per site."""
    unique = Unique("vpn")
    by_site: dict[str, int] = {}
    out = []
    for value, line in items(top, "vpns", file):
        item = mapping(value, line, kind="vpn", file=file,
                       allowed=("name", "network", "site"), required=("name", "network", "site"))
        name = item.name()
        unique.add(name, item.line, item.at("name"))
        network = item.name("network", kind="network")
        site = item.name("site", kind="site")
        if site in by_site:
            raise Invalid(f"site {site} has a channel already (line {by_site[site]}); a site "
                          "has one", where=item.at("site"))
        by_site[site] = item.line
        out.append(VpnDecl(name=name, network=network, site=site, line=item.line, file=file))
    return tuple(out)
