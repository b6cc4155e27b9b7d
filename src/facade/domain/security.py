"""Security rules: validation of one rule, as plain data, without I/O.

A rule says, for the instance's side of a port: `direction` (ingress: towards the instance,
egress: from it), `action` (allow|deny), `protocol` (tcp|udp|icmp|any), `ports` ("80" or
"8000-8100", tcp/udp only), `cidr` (the remote side, IPv4) and `priority` (1..1000, lower first,
unique per scope and direction). The semantics (first match wins, default allow, stateful) are in
docs/security.md.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal, cast

from facade.domain.errors import Invalid
from facade.domain.specs import PortRuleSpec
from facade.domain.workload import PORTS

DIRECTIONS = ("ingress", "egress")
ACTIONS = ("allow", "deny")
PROTOCOLS = ("tcp", "udp", "icmp", "any")
MIN_PRIORITY, MAX_PRIORITY = 1, 1000
_PORTS = re.compile(r"([0-9]{1,5})(?:-([0-9]{1,5}))?")
FIELDS = ("direction", "action", "protocol", "ports", "cidr", "priority")


def _where(prefix: str | None, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _choice(value: object, allowed: tuple[str, ...], *, field: str, where: str | None) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise Invalid(f"{field} must be one of {', '.join(allowed)}, not {value!r}",
                      where=_where(where, field))
    return value


def check_direction(value: object, *, where: str | None = None) -> str:
    return _choice(value, DIRECTIONS, field="direction", where=where)


def check_priority(value: object, *, where: str | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) \
            or not MIN_PRIORITY <= value <= MAX_PRIORITY:
        raise Invalid(f"priority must be an integer from {MIN_PRIORITY} to {MAX_PRIORITY}, "
                      f"not {value!r}", where=_where(where, "priority"))
    return value


def check_ports(value: object, protocol: str, *, where: str | None = None) -> str | None:
    field = _where(where, "ports")
    if value is None or value == "":
        return None
    if protocol not in ("tcp", "udp"):
        raise Invalid(f"ports apply to tcp and udp only, not to protocol {protocol!r}",
                      where=field)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    match = _PORTS.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise Invalid(f"ports must be a port (\"80\") or a range (\"8000-8100\"), not {value!r}",
                      where=field)
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) else low
    if not PORTS[0] <= low <= PORTS[1] or not PORTS[0] <= high <= PORTS[1]:
        raise Invalid(f"ports {value!r}: ports are {PORTS[0]} to {PORTS[1]}", where=field)
    if high < low:
        raise Invalid(f"ports {value!r}: the range ends before it starts", where=field)
    return str(low) if low == high else f"{low}-{high}"


def check_cidr(value: object, *, where: str | None = None) -> str:
    field = _where(where, "cidr")
    if value is None:
        return "0.0.0.0/0"
    if not isinstance(value, str):
        raise Invalid(f"cidr must be an IPv4 network such as 10.0.0.0/8, not {value!r}",
                      where=field)
    try:
        net = ipaddress.IPv4Network(value if "/" in value else f"{value}/32", strict=True)
    except ValueError as exc:
        raise Invalid(f"cidr {value!r} is not an IPv4 network ({exc})", where=field) from None
    return str(net)


def check_rule(fields: dict[str, Any], *, where: str | None = None) -> PortRuleSpec:
    """One rule from user input (API body, CLI, YAML); every bad field is an Invalid naming it."""
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise Invalid(f"unknown field {unknown[0]!r}; a rule has {', '.join(FIELDS)}",
                      where=_where(where, unknown[0]))
    direction = check_direction(fields.get("direction"), where=where)
    action = _choice(fields.get("action"), ACTIONS, field="action", where=where)
    protocol = _choice(fields.get("protocol", "any"), PROTOCOLS, field="protocol", where=where)
    ports = check_ports(fields.get("ports"), protocol, where=where)
    cidr = check_cidr(fields.get("cidr"), where=where)
    priority = check_priority(fields.get("priority"), where=where)
    return PortRuleSpec(direction=cast(Literal["ingress", "egress"], direction),
                        action=cast(Literal["allow", "deny"], action),
                        protocol=cast(Literal["tcp", "udp", "icmp", "any"], protocol),
                        ports=ports, cidr=cidr, priority=priority)
