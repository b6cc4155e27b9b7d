"""Security rules on subnets and on instance interfaces: create, list, delete.

Validation is domain.security's; visibility is lookup's (what the caller may not see is 404).
Only the subnet's owner (or the operator) manages a subnet's rules, only the instance's owner
an interface's. Rules of a subnet or an instance go with it (see docs/security.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from facade.domain import names, security
from facade.domain.errors import Conflict, Invalid, NotFound
from facade.domain.paging import FIRST, PageRequest
from facade.domain.specs import PortRuleSpec
from facade.domain.states import NodeRole, NodeStatus
from facade.readmodels.rules import RulePage, RuleRead
from facade.service import lookup, paging
from facade.service.context import Caller, Context
from facade.store.models import Instance, SecurityRule, Subnet


@dataclass(frozen=True)
class Scope:
    """Where rules are attached: a subnet or one interface of an instance."""

    key: str  # SecurityRule.scope
    label: str  # "subnet net/sub" or "interface web/eth0"
    account_id: int
    subnet_id: int | None = None
    instance_id: int | None = None
    ifname: str | None = None


def subnet_scope(session: Session, caller: Caller, path: str, *,
                 where: str = "subnet") -> Scope:
    sub = lookup.visible_subnet(session, caller, path, where=where)
    return Scope(key=f"subnet:{sub.id}", label=f"subnet {sub.path}",
                 account_id=sub.network.account_id, subnet_id=sub.id)


def interface_scope(session: Session, caller: Caller, instance: str, ifname: str, *,
                    where: str = "interface") -> Scope:
    inst = lookup.instance(session, caller, instance, where=where)
    if inst.role != NodeRole.INSTANCE:
        raise Invalid(f"{instance} is a {inst.role} node of an appliance: its interfaces are "
                      "the provider's, not subject to customer rules", where=where)
    if inst.status == NodeStatus.DELETING:
        raise NotFound(f"instance {instance!r} is being deleted", where=where)
    if ifname not in {names.inner_ifname(i.index) for i in inst.interfaces}:
        raise NotFound(f"instance {instance} has no interface {ifname!r}", where=where)
    return Scope(key=f"interface:{inst.id}:{ifname}", label=f"interface {instance}/{ifname}",
                 account_id=inst.account_id, instance_id=inst.id, ifname=ifname)


def split_interface(path: str, *, where: str = "interface") -> tuple[str, str]:
    parts = path.split("/") if isinstance(path, str) else []
    if len(parts) != 2 or not all(parts):
        raise Invalid(f"interface {path!r} must be written INSTANCE/IFNAME (e.g. web/eth0)",
                      where=where)
    return parts[0], parts[1]


def read(row: SecurityRule) -> RuleRead:
    return RuleRead(direction=row.direction, action=row.action, protocol=row.protocol,
                    ports=row.ports, cidr=row.cidr, priority=row.priority)


def view(row: SecurityRule) -> dict[str, Any]:
    """A rule's plain form: what the domain checks, and a conflict message shows."""
    return read(row).model_dump()


def view_of(spec: PortRuleSpec) -> dict[str, Any]:
    return {"direction": spec.direction, "action": spec.action, "protocol": spec.protocol,
            "ports": spec.ports, "cidr": spec.cidr, "priority": spec.priority}


def spec_of(row: SecurityRule) -> PortRuleSpec:
    return security.check_rule(view(row))


def rows(session: Session, scope: Scope) -> list[SecurityRule]:
    return list(session.scalars(select(SecurityRule).where(SecurityRule.scope == scope.key)
                                .order_by(SecurityRule.direction, SecurityRule.priority)))


def find(session: Session, scope: Scope, direction: str, priority: int) -> SecurityRule | None:
    return session.scalar(select(SecurityRule).where(
        SecurityRule.scope == scope.key, SecurityRule.direction == direction,
        SecurityRule.priority == priority))


def add(ctx: Context, session: Session, scope: Scope, fields: dict[str, Any], *,
        where: str | None = None) -> SecurityRule:
    spec = security.check_rule(fields, where=where)
    if find(session, scope, spec.direction, spec.priority) is not None:
        raise Conflict(f"{scope.label} already has a {spec.direction} rule at priority "
                       f"{spec.priority}", where=f"{where}.priority" if where else "priority")
    row = SecurityRule(scope=scope.key, account_id=scope.account_id, subnet_id=scope.subnet_id,
                       instance_id=scope.instance_id, ifname=scope.ifname,
                       direction=spec.direction, action=spec.action, protocol=spec.protocol,
                       ports=spec.ports, cidr=spec.cidr, priority=spec.priority)
    session.add(row)
    ctx.event(session, "rule.created", scope.label,
              f"{spec.direction} {spec.action} {spec.protocol} {spec.ports or '*'} "
              f"{spec.cidr} at priority {spec.priority}",
              account=scope.account_id)
    session.flush()
    return row


def remove(ctx: Context, session: Session, scope: Scope, direction: str, priority: int) -> None:
    security.check_direction(direction)
    security.check_priority(priority)
    row = find(session, scope, direction, priority)
    if row is None:
        raise NotFound(f"{scope.label} has no {direction} rule at priority {priority}",
                       where="priority")
    session.delete(row)
    ctx.event(session, "rule.deleted", scope.label, f"{direction} rule at priority {priority} "
              "deleted",
              account=scope.account_id)


def delete_for_subnet(session: Session, sub: Subnet) -> None:
    session.execute(delete(SecurityRule).where(SecurityRule.subnet_id == sub.id))


def delete_for_instance(session: Session, inst: Instance) -> None:
    session.execute(delete(SecurityRule).where(SecurityRule.instance_id == inst.id))


# ---------------------------------------------------------------------- API entry points
def _scope(session: Session, caller: Caller, subnet: str | None,
           interface: tuple[str, str] | None) -> Scope:
    if subnet is not None:
        return subnet_scope(session, caller, subnet)
    assert interface is not None
    return interface_scope(session, caller, *interface)


def create(ctx: Context, caller: Caller, fields: dict[str, Any], *, subnet: str | None = None,
           interface: tuple[str, str] | None = None) -> RuleRead:
    with ctx.write() as session:
        row = add(ctx, session, _scope(session, caller, subnet, interface), fields)
        result = read(row)
    ctx.converge()
    return result


# a scope's rules are unique by (direction, priority): egress before ingress, by priority
ORDER = paging.Order(kind="rules", columns=(SecurityRule.direction, SecurityRule.priority),
                     shape=(str, int))


def list_(ctx: Context, caller: Caller, *, subnet: str | None = None,
          interface: tuple[str, str] | None = None,
          page: PageRequest = FIRST) -> RulePage:
    """A page of the rules of a subnet or an interface, by direction then priority."""
    with ctx.read() as session:
        scope = _scope(session, caller, subnet, interface)
        found, cursor = paging.objects(
            session, select(SecurityRule).where(SecurityRule.scope == scope.key), ORDER, page,
            lambda r: (r.direction, r.priority))
        return RulePage.of([read(r) for r in found], cursor)


def delete_(ctx: Context, caller: Caller, direction: str, priority: int, *,
            subnet: str | None = None, interface: tuple[str, str] | None = None) -> None:
    with ctx.write() as session:
        remove(ctx, session, _scope(session, caller, subnet, interface), direction, priority)
    ctx.converge()


def desired(session: Session) -> dict[int, tuple[list[PortRuleSpec], list[PortRuleSpec]]]:
    """Per interface id of a customer instance: (its interface rules, its subnet's rules), each
    ordered by priority. Subnet rules apply to the subnet owner's own instances only."""
    by_scope: dict[str, list[PortRuleSpec]] = {}
    for row in session.scalars(select(SecurityRule).order_by(SecurityRule.priority,
                                                             SecurityRule.id)):
        by_scope.setdefault(row.scope, []).append(spec_of(row))
    result: dict[int, tuple[list[PortRuleSpec], list[PortRuleSpec]]] = {}
    if not by_scope:
        return result
    for inst in session.scalars(select(Instance).where(Instance.role == NodeRole.INSTANCE)):
        if inst.status == NodeStatus.DELETING:
            continue
        for iface in inst.interfaces:
            mine = by_scope.get(f"interface:{inst.id}:{names.inner_ifname(iface.index)}", [])
            sub = iface.subnet
            shared = (by_scope.get(f"subnet:{sub.id}", [])
                      if sub.network.account_id == inst.account_id else [])
            if mine or shared:
                result[iface.id] = (mine, shared)
    return result
