"""The scenario file's instances (with their interfaces) and appliances, read into declarations
(domain.scenario) at their lines, through the create commands of domain.commands.

Called by the reader (reader.py).
"""

from __future__ import annotations

import ipaddress

from facade.domain import commands, names
from facade.domain.errors import Invalid, describe
from facade.domain.ipam import SubnetRange, parse_ip
from facade.domain.names import check_subnet_ref
from facade.domain.scenario import (
    ApplianceDecl,
    ExternalDecl,
    InstanceDecl,
    InterfaceDecl,
    PublicIpDecl,
)
from facade.scenario.items import Item, Unique, fields_at, in_file, items, mapping
from facade.scenario.yaml_lines import Map


def _interface(value: object, line: int, file: str) -> InterfaceDecl:
    where = f"{file}:{line}"
    if isinstance(value, str):
        ref, sep, ip_text = value.partition("=")
        subnet = check_subnet_ref(ref.strip(), where=where, what="interface")
        ip = ip_text.strip() if sep else None
        if sep and not ip:
            raise Invalid(f"interface {value!r} has '=' but no address; write "
                          "network/subnet=10.0.1.50 or just network/subnet", where=where)
    elif isinstance(value, Map):
        item = Item(value, kind="interface", file=file, allowed=("subnet", "ip"),
                    required=("subnet",))
        subnet = item.subnet_ref("subnet")
        raw = item.data.get("ip")
        if raw is not None and not isinstance(raw, str):
            item.fail("ip", f"interface ip must be an IPv4 address like 10.0.1.50, not "
                            f"{describe(raw)}")
        ip = raw
        where = item.at("ip")
        line = item.line
    else:
        raise Invalid("each interface must be network/subnet, network/subnet=IP or "
                      f"{{subnet: network/subnet, ip: IP}}, not {describe(value)}", where=where)
    if ip is not None:
        ip = str(parse_ip(ip, where=where))
    return InterfaceDecl(subnet=subnet, ip=ip, line=line, file=file)


def read_instances(top: Map, file: str,
                   subnets: dict[str, str]) -> tuple[InstanceDecl, ...]:
    """instances: the fields of POST /v1/instances; `subnets`: the file's subnets'
    ACCOUNT/NETWORK/SUBNET -> CIDR, where a requested address must fall."""
    unique = Unique("instance")
    addresses: dict[tuple[str, str], str] = {}
    out = []
    for value, line in items(top, "instances", file):
        item = mapping(value, line, kind="instance", file=file,
                       allowed=("name", "account", "interfaces", "limits", "public_ip",
                                "host"),
                       required=("name", "account", "interfaces"))
        name = item.name()
        account = item.name("account", kind="account")
        unique.add(name, item.line, item.at("name"), account)
        interfaces = tuple(_interface(v, n, file) for v, n in items(item.data, "interfaces", file))
        with fields_at(item):
            cmd = commands.new_instance(
                name=name, interfaces=[{"subnet": i.subnet, "ip": i.ip} for i in interfaces],
                limits=item.data.get("limits"))
        for iface in interfaces:
            if iface.ip is None:
                continue
            where = f"{file}:{iface.line}"
            subnet = in_file(iface.subnet, account, subnets, subnet=True) or iface.subnet
            cidr = subnets.get(subnet)
            if cidr is not None:
                SubnetRange.of(cidr).check_requested(ipaddress.IPv4Address(iface.ip),
                                                     where=where)
            key = (subnet, iface.ip)
            if key in addresses:
                raise Invalid(f"address {iface.ip} in subnet {iface.subnet} is asked for twice "
                              f"(first by {addresses[key]})", where=where)
            addresses[key] = f"instance {name!r} at line {iface.line}"
        out.append(InstanceDecl(name=name, account=account, interfaces=interfaces,
                                line=item.line, file=file,
                                limits=tuple(sorted(cmd.limits.items())),
                                public_ip=item.flag("public_ip"),
                                host=item.name("host", kind="host")
                                if item.data.get("host") is not None else None))
    return tuple(out)


def read_external_hosts(top: Map, file: str, instances: tuple[InstanceDecl, ...]
                        ) -> tuple[ExternalDecl, ...]:
    """external_hosts: [{name, account, ip}], the fields of POST /v1/externals (docs/edge.md);
    their names share the instances' (an external host is an instance of the Internet)."""
    unique = Unique("external host")
    taken = {(i.account, i.name): i.line for i in instances}
    out = []
    for value, line in items(top, "external_hosts", file):
        item = mapping(value, line, kind="external host", file=file,
                       allowed=("name", "account", "ip"), required=("name", "account"))
        name = item.name()
        account = item.name("account", kind="account")
        unique.add(name, item.line, item.at("name"), account)
        if (account, name) in taken:
            item.fail("name", f"{name!r} is also an instance of account {account} in this file "
                              f"(line {taken[(account, name)]}); external hosts and instances "
                              "share their names")
        ip = str(parse_ip(item.string("ip", "an IPv4 address like 198.18.0.9"),
                          where=item.at("ip"))) if item.has("ip") else None
        out.append(ExternalDecl(name=name, account=account, ip=ip, line=item.line, file=file))
    return tuple(out)


def read_public_ips(top: Map, file: str) -> tuple[PublicIpDecl, ...]:
    """public_ips: [{account, instance, iface} | {account, appliance}]: one customer address
    per target, associated with it."""
    seen: dict[str, int] = {}
    out = []
    for value, line in items(top, "public_ips", file):
        item = mapping(value, line, kind="public IP", file=file,
                       allowed=("account", "instance", "iface", "appliance", "site",
                                "address"),
                       required=("account",))
        account = item.name("account", kind="account")
        if sum(item.has(k) for k in ("instance", "appliance", "site")) != 1:
            item.fail("instance", "a public IP names the instance, the appliance or the site "
                                  "it is associated with (one of them)")
        if item.has("site") != item.has("address"):
            item.fail("address", "a public IP on a site names the site and its host's "
                                 "address (site and address)")
        site = item.name("site", kind="site") if item.has("site") else None
        address = str(parse_ip(item.string("address", "an IPv4 address like 192.168.1.10"),
                               where=item.at("address"))) if item.has("address") else None
        instance = item.name("instance", kind="instance") if item.has("instance") else None
        appliance = item.name("appliance", kind="appliance") if item.has("appliance") else None
        iface = item.string("iface", "an interface name like eth0") if item.has("iface") \
            else "eth0"
        names.iface_index(iface, where=item.at("iface"))
        decl = PublicIpDecl(account=account, instance=instance, iface=iface,
                            appliance=appliance, line=item.line, file=file, site=site,
                            address=address)
        if decl.label in seen:
            item.fail("instance", f"{decl.label} is given a public IP twice (first at line "
                                  f"{seen[decl.label]})")
        seen[decl.label] = item.line
        out.append(decl)
    return tuple(out)


def read_appliances(top: Map, file: str) -> tuple[ApplianceDecl, ...]:
    unique = Unique("appliance")
    out = []
    for value, line in items(top, "appliances", file):
        item = mapping(value, line, kind="appliance", file=file,
                       allowed=("name", "account", "service", "subnet", "backends",
                                "tenancy"),
                       required=("name", "account", "service", "subnet"))
        name = item.name()
        account = item.name("account", kind="account")
        unique.add(name, item.line, item.at("name"), account)
        service = item.ref("service", kind="service")
        subnet = item.subnet_ref("subnet")
        with fields_at(item):
            cmd = commands.new_appliance(name=name, backends=item.data.get("backends"),
                                         tenancy=item.data.get("tenancy"))
        out.append(ApplianceDecl(name=name, account=account, service=service, subnet=subnet,
                                 backends=cmd.backends, tenancy=cmd.tenancy, line=item.line,
                                 file=file))
    return tuple(out)
