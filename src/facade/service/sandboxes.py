"""Sandbox limits of nodes (docs/security.md, "Sandboxes"): what a node gets, and changing them.

An instance's limits are its own, a backend's its service's, a front-end's fixed
(domain.sandbox.FRONTEND_LIMITS). A change applies to running nodes: the node's control groups
are rewritten by the controller at once, nothing restarts. Only the owner (or the operator)
changes them: an instance of someone else is the same 404 as one that does not exist; a
service, being a public offer, answers another account 403.
"""

from __future__ import annotations

from typing import Any

from facade.domain import sandbox
from facade.domain.errors import Invalid
from facade.domain.states import NodeRole
from facade.readmodels.nodes import LimitsRead
from facade.service import lookup
from facade.service.context import Caller, Context
from facade.store.models import Instance, Service

COLUMNS = {"memory_mb": "limit_memory_mb", "pids": "limit_pids",
           "cpu_weight": "limit_cpu_weight"}


def limits_of(inst: Instance) -> sandbox.Limits:
    """A node's sandbox limits: an instance's own, a backend's service's, a front-end's."""
    if inst.role == NodeRole.FRONTEND:
        return sandbox.FRONTEND_LIMITS
    if inst.role == NodeRole.BACKEND and inst.appliance is not None:
        return of_row(inst.appliance.service)
    return of_row(inst)


def of_row(row: Instance | Service) -> sandbox.Limits:
    return sandbox.effective(row.limit_memory_mb, row.limit_pids, row.limit_cpu_weight)


def store(row: Instance | Service, raw: object, *, where: str = "limits") -> bool:
    """Check a partial limits mapping and store it on the row (a null value resets that limit
    to the default); True if something changed."""
    checked = sandbox.check_limits(raw, where=where)
    changed = False
    for key, column in COLUMNS.items():
        if isinstance(raw, dict) and key in raw:
            value = checked.get(key)
            if getattr(row, column) != value:
                setattr(row, column, value)
                changed = True
    return changed


def set_instance(ctx: Context, caller: Caller, name: str, raw: dict[str, Any]) -> LimitsRead:
    with ctx.write() as session:
        row = lookup.instance(session, caller, name)
        if row.role != NodeRole.INSTANCE:
            raise Invalid(f"{name} is a {row.role} node of an appliance; its limits are its "
                          "service's (facade service limits)", where="instance")
        if store(row, raw):
            ctx.event(session, "instance.limits", name, f"limits now {_describe(of_row(row))}",
                      row.name_scope_id)
        out = LimitsRead(**of_row(row).as_dict())
    ctx.kick()
    return out


def set_service(ctx: Context, caller: Caller, name: str, raw: dict[str, Any]) -> LimitsRead:
    with ctx.write() as session:
        row = lookup.own_service(session, caller, name, "its limits")
        if store(row, raw):
            ctx.event(session, "service.limits", name,
                      f"backend limits now {_describe(of_row(row))}",
                      account=row.account_id)
        out = LimitsRead(**of_row(row).as_dict())
    ctx.kick()
    return out


def _describe(limits: sandbox.Limits) -> str:
    return (f"memory {limits.memory_mb} MiB, {limits.pids} processes, "
            f"CPU weight {limits.cpu_weight}")
