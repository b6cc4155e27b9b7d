"""Appliance services: the offers providers make (workload, port, backend and management
subnets). Anyone may see and use an offer; only its provider (or the operator) changes it."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from facade.domain import commands
from facade.domain.errors import Conflict, Forbidden, InUse, Invalid, NotFound
from facade.domain.paging import FIRST, PageRequest
from facade.readmodels.services import ServicePage, ServiceRead
from facade.service import (
    chains,
    health_checks,
    instances,
    load_balancers,
    lookup,
    paging,
    private_api,
    sandboxes,
    views,
)
from facade.service.billing import price_lists
from facade.service.context import Caller, Context
from facade.store.models import Account, Appliance, Service, ServiceSubnet, Subnet


def create(ctx: Context, caller: Caller, **fields: Any) -> ServiceRead:
    with ctx.write() as session:
        return views.service(new_service(ctx, session, caller, **fields), owner_view=True)


def new_service(ctx: Context, session: Session, caller: Caller, *, name: str,
                account: str | None, workload_name: str | None, command: str | None, port: int,
                backend_subnet: str, management_subnet: str,
                health_path: str | None = None, upstream: str | None = None,
                prices: dict[str, Any] | None = None,
                billing_model: str | None = None, frontend: str | None = None,
                extra_subnets: list[str] | None = None,
                limits: dict[str, Any] | None = None,
                health_check: dict[str, Any] | None = None,
                tenancy: str | None = None) -> Service:
    cmd = commands.new_service(name=name, workload_name=workload_name, command=command,
                               port=port, backend_subnet=backend_subnet,
                               management_subnet=management_subnet, health_path=health_path,
                               health_check=health_check, limits=limits,
                               extra_subnets=extra_subnets or (), billing_model=billing_model,
                               upstream=upstream, frontend=frontend, tenancy=tenancy)
    private_api.check_offer(caller, cmd.workload)
    owner = lookup.acting_account(session, caller, account)
    caller = caller.acting_for(owner.id)  # its bare names first (docs/api.md, Names)
    if lookup.taken(session, Service.name, Service.account_id, owner.id, name):
        raise Conflict(f"appliance service {name!r} already exists", where="name")
    subs = {}
    for field, path in (("backend_subnet", backend_subnet),
                        ("management_subnet", management_subnet)):
        sub = lookup.visible_subnet(session, caller, path, where=field)
        if sub.network.account_id != owner.id:
            raise Forbidden(f"{field} {path} belongs to account "
                            f"{sub.network.account.name}, not to the provider {owner.name}",
                            where=field)
        subs[field] = sub
    # (two different subnets: commands.new_service; a path names one subnet)
    carrier = lookup.extra_subnet_of(session, subs["management_subnet"])
    if carrier is not None:
        raise Conflict(f"management_subnet {management_subnet} is an extra subnet of service "
                       f"{carrier}; a management subnet carries management traffic only",
                       where="management_subnet")
    extras = _extra_subnets(session, caller, owner, extra_subnets or [],
                            subs["backend_subnet"], subs["management_subnet"])
    chains.check_upstream(session, caller, [subs["backend_subnet"].id] + [s.id for s in extras],
                          upstream, owner.id)
    offer = None
    if frontend is not None:
        # a third-party front-end provider (docs/composition.md): its offer is public
        offer = load_balancers.find(session, frontend)
        if offer.management_subnet_id == subs["backend_subnet"].id:
            raise Invalid(f"load-balancer offer {frontend} is managed from "
                          f"{backend_subnet}, the service's backend subnet; the front-end's "
                          "backend and management legs need different subnets",
                          where="frontend")
    sheet, model = price_lists.service_terms(session, prices, billing_model)
    row = Service(name=name, account=owner, workload=workload_name, command=command,
                  port=port, health_path=health_path, upstream=upstream, frontend=offer,
                  tenancy=cmd.tenancy,
                  backend_subnet=subs["backend_subnet"],
                  management_subnet=subs["management_subnet"],
                  extra_subnets=[ServiceSubnet(subnet=s, position=k)
                                 for k, s in enumerate(extras)])
    price_lists.apply_terms(session, row, sheet, model)
    sandboxes.store(row, limits or {})
    health_checks.store(row, dict(cmd.health_check))
    session.add(row)
    ctx.event(session, "service.created", name, f"appliance service {name} offered",
              owner.id)
    session.flush()
    return row


def _extra_subnets(session: Session, caller: Caller, owner: Account, paths: list[str],
                   backend: Subnet, mgmt: Subnet) -> list[Subnet]:
    """The subnets every backend also gets an interface in (docs/composition.md, "Backends
    with extra interfaces"): the provider's own or granted to it; not its backend or
    management subnet, no management subnet of anyone (provider internal) and no repeats.
    Their connected routes go in the backends' main table (so the backends reach them from any
    source address): their ranges may overlap neither the backend subnet's nor each other's."""
    out: list[Subnet] = []  # (how many: commands.new_service)
    for k, path in enumerate(paths):
        where = f"extra_subnets[{k}]"
        sub = instances.resolve_subnet(session, caller, owner, path, where=where)
        if sub.id in (backend.id, mgmt.id):
            which = "backend" if sub.id == backend.id else "management"
            raise Invalid(f"subnet {path} is the service's {which} subnet; every backend "
                          "has a leg there already", where=where)
        manager = lookup.management_owner(session, sub)
        if manager is not None:
            raise Invalid(f"subnet {path} is the management subnet of {manager}, which is "
                          "provider internal", where=where)
        for other in [backend, *out]:
            if sub.id == other.id:
                raise Invalid(f"subnet {path} is named twice", where=where)
            if ipaddress.ip_network(sub.cidr).overlaps(ipaddress.ip_network(other.cidr)):
                raise Invalid(f"subnet {path} ({sub.cidr}) overlaps {other.path} "
                              f"({other.cidr}); a backend reaches each of its subnets "
                              "directly, so their ranges must not overlap", where=where)
        out.append(sub)
    return out


ORDER = paging.by_id("services", Service.id)


def list_(ctx: Context, caller: Caller, page: PageRequest = FIRST, *,
          account: str | None = None) -> ServicePage:
    """A page of the services (offers are public); the provider `account`'s, when given."""
    owned = paging.owned_by(Service.account_id, account)
    with ctx.read() as session:
        query = select(Service).where(*owned).options(
            selectinload(Service.extra_subnets).joinedload(ServiceSubnet.subnet))
        rows, cursor = paging.objects(session, query, ORDER, page, lambda r: (r.id,))
        return ServicePage.of([views.service(r, owner_view=caller.may_see(r.account_id))
                              for r in rows], cursor)


def get(ctx: Context, caller: Caller, name: str) -> ServiceRead:
    with ctx.read() as session:
        row = lookup.service(session, name, caller=caller)
        return views.service(row, owner_view=caller.may_see(row.account_id))


def remove(ctx: Context, session: Session, caller: Caller, row: Service) -> None:
    if not caller.may_see(row.account_id):
        raise NotFound(f"appliance service {row.name!r} does not exist", where="service")
    users = list(session.scalars(select(Appliance.name).where(Appliance.service_id == row.id)))
    if users:
        raise InUse(f"appliance service {row.name} is still used by appliances "
                    f"{', '.join(users[:5])}", where="service")
    session.delete(row)
    ctx.event(session, "service.deleted", row.name, f"appliance service {row.name} withdrawn",
              row.account_id)


def delete(ctx: Context, caller: Caller, name: str) -> None:
    with ctx.write() as session:
        remove(ctx, session, caller, lookup.service(session, name, caller=caller))
