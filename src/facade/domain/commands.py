"""Create commands: what a request to make a network, a service, an instance, an appliance or
a load-balancer offer says, checked by every rule its fields alone can tell.

Both ways of asking read into these: an API body (the service layer calls `new_service`...
before it looks anything up) and a scenario file's declaration (facade/scenario/ maps its YAML
onto the same fields and moves an error's `where`, a field path like "health_check.timeout", to
the file line of that key). So a field is accepted or refused the same way, with the same
words, whichever way it came. What needs the store (a subnet that exists, a name not taken, a
quota, the operator's currency) is the service layer's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from facade.domain import counts, health, ipam, names, sandbox, workload
from facade.domain.billing import parse_model
from facade.domain.errors import Conflict, Invalid, describe
from facade.domain.tenancy import DEFAULT as DEFAULT_TENANCY
from facade.domain.tenancy import check as check_tenancy

DEFAULT_BILLING_MODEL = "provider-bills"


@dataclass(frozen=True)
class NewService:
    """`health_check` is the service's own settings with `health_path` folded in as its path."""

    name: str
    workload: str | None
    command: str | None
    port: int
    health_path: str | None
    health_check: Mapping[str, Any]
    limits: Mapping[str, int]
    extra_subnets: int
    billing_model: str
    upstream: str | None
    frontend: str | None
    tenancy: str = DEFAULT_TENANCY


def new_service(*, name: object, workload_name: object, command: object, port: object,
                backend_subnet: object = None, management_subnet: object = None,
                health_path: object = None, health_check: object = None,
                limits: object = None, extra_subnets: Sequence[object] = (),
                billing_model: object = None, upstream: object = None,
                frontend: object = None, tenancy: object = None) -> NewService:
    """A new service's own fields, checked in the order a reader meets them."""
    checked_name = names.check_name(name, kind="service", where="name")
    checked_limits = sandbox.check_limits(limits)
    workload.check_source(workload_name, command, where="workload")
    if workload_name is not None:
        workload.check_builtin(workload_name, where="workload")
    if command is not None:
        workload.check_command(command, where="command")
    checked_port = workload.check_port(port, where="port")
    path = None if health_path is None else workload.check_health_path(health_path,
                                                                        where="health_path")
    check = health.combine(path, health.check(health_check))
    builtin = workload_name if isinstance(workload_name, str) else None
    health.effective(check, workload.default_health_path(builtin))
    for field, ref in (("backend_subnet", backend_subnet),
                       ("management_subnet", management_subnet)):
        if ref is not None:
            names.check_subnet_ref(ref, where=field, what=field)
    if backend_subnet is not None and backend_subnet == management_subnet:
        raise Invalid("backend_subnet and management_subnet must be different subnets",
                      where="management_subnet")
    if upstream is not None:
        names.check_ref(upstream, kind="upstream appliance", where="upstream")
    if frontend is not None:
        names.check_ref(frontend, kind="load-balancer offer", where="frontend")
    counts.check_extra_subnets(len(extra_subnets), where="extra_subnets")
    for k, ref in enumerate(extra_subnets):
        names.check_subnet_ref(ref, where=f"extra_subnets[{k}]", what="extra_subnets entry")
    model = parse_model(DEFAULT_BILLING_MODEL if billing_model is None else billing_model)
    checked_tenancy = check_tenancy(tenancy)
    return NewService(name=checked_name, workload=builtin,
                      command=command if isinstance(command, str) else None,
                      port=checked_port,
                      health_path=path,
                      health_check=check, limits=checked_limits,
                      extra_subnets=len(extra_subnets), billing_model=model.value,
                      upstream=upstream if isinstance(upstream, str) else None,
                      frontend=frontend if isinstance(frontend, str) else None,
                      tenancy=checked_tenancy.value)


@dataclass(frozen=True)
class NewAppliance:
    name: str
    backends: int
    tenancy: str = DEFAULT_TENANCY  # what its customer asks for (tenancy.effective)


def new_appliance(*, name: object, backends: object = None,
                  tenancy: object = None) -> NewAppliance:
    """`backends` None: one; `tenancy` None: shared."""
    return NewAppliance(name=names.check_name(name, kind="appliance", where="name"),
                        backends=counts.check_backends(
                            counts.MIN_BACKENDS if backends is None else backends,
                            where="backends"),
                        tenancy=check_tenancy(tenancy).value)


@dataclass(frozen=True)
class NewInstance:
    name: str
    interfaces: int
    limits: Mapping[str, int]


def new_instance(*, name: object, interfaces: Sequence[Mapping[str, object]],
                 limits: object = None) -> NewInstance:
    """`interfaces`: {subnet: "network/subnet", ip: an address or None} each."""
    checked_name = names.check_name(name, kind="instance", where="name")
    count = counts.check_interfaces(len(interfaces), where="interfaces")
    for i, iface in enumerate(interfaces):
        where = f"interfaces[{i}]"
        names.check_subnet_ref(iface.get("subnet"), where=where, what="interface subnet")
        ip = iface.get("ip")
        if ip is not None:
            ipam.parse_ip(_text(ip, where, "an IPv4 address like 10.0.1.50"), where=where)
    return NewInstance(name=checked_name, interfaces=count, limits=sandbox.check_limits(limits))


@dataclass(frozen=True)
class NewLoadBalancer:
    name: str
    management_subnet: str


def new_load_balancer(*, name: object, management_subnet: object) -> NewLoadBalancer:
    return NewLoadBalancer(
        name=names.check_name(name, kind="load-balancer offer", where="name"),
        management_subnet=names.check_subnet_ref(management_subnet, where="management_subnet",
                                                 what="management_subnet"))


@dataclass(frozen=True)
class NewNetwork:
    name: str
    cidr: str
    subnets: tuple[tuple[str, str], ...]  # (name, cidr) as stored


def new_network(*, name: object, cidr: object,
                subnets: Sequence[Mapping[str, object]] = ()) -> NewNetwork:
    """A new network and the subnets it is made with: each inside it, none named twice, none
    overlapping another (a Conflict, as a subnet added later to an existing network would be)."""
    checked_name = names.check_name(name, kind="network", where="name")
    net = ipam.parse_cidr(_text(cidr, "cidr"), where="cidr")
    counts.check_subnets(len(subnets), where="subnets")
    made: dict[str, str] = {}
    siblings = ipam.Siblings()
    for i, sub in enumerate(subnets):
        where = f"subnets[{i}]"
        sub_name = names.check_name(sub.get("name", ""), kind="subnet", where=where)
        sub_cidr = ipam.parse_cidr(_text(sub.get("cidr", ""), where), where=where)
        ipam.check_subnet_in_network(sub_cidr, net, where=where)
        if sub_name in made:
            raise Conflict(f"subnet {checked_name}/{sub_name} already exists", where=where)
        if siblings.overlapping(sub_cidr):  # name the first one given that it overlaps
            ipam.check_no_overlap(sub_cidr, made, where=where)
        siblings.add(sub_name, sub_cidr)
        made[sub_name] = str(sub_cidr)
    return NewNetwork(name=checked_name, cidr=str(net), subnets=tuple(made.items()))


def _text(value: object, where: str, what: str = "an IPv4 CIDR like 10.0.0.0/16") -> str:
    if not isinstance(value, str):
        raise Invalid(f"{where} must be {what}, not {describe(value)}", where=where)
    return value
