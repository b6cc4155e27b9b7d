"""Load-balancer offers: third-party front-end providers (docs/composition.md).

A front-end provider (an account that runs load balancers) offers its front-ends under a name,
with the management subnet from which it manages them. An appliance service that names the
offer (`frontend: NAME`) gets, for every appliance, a front-end node owned by the offer's
account, managed from the offer's management subnet (by that network's agent), while its
backend leg stays in the appliance provider's backend subnet. Like appliance services, an
offer is public: any provider may name it (the front-end provider is paid per front-end hour
through its front-end price list, docs/billing.md); only its owner (or the operator) changes
or withdraws it, and it cannot be withdrawn while a service names it. Called by the API,
catalog (a service's `frontend`), appliances (whose front-end node) and scenario.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from facade.domain import commands, names
from facade.domain.errors import Conflict, Forbidden, InUse, NotFound
from facade.domain.paging import FIRST, PageRequest
from facade.domain.states import NodeRole
from facade.readmodels.nodes import NodeRead
from facade.readmodels.services import LoadBalancerPage, LoadBalancerRead
from facade.service import lookup, paging, views
from facade.service.context import Caller, Context
from facade.store.models import Appliance, Instance, Interface, LoadBalancer, Service, Subnet


def find(session: Session, name: str, *, where: str = "frontend",
         caller: Caller | None = None) -> LoadBalancer:
    """An offer by NAME or ACCOUNT/NAME: offers are public, so any caller may find one (a bare
    name: the caller's own first, else the only one of that name)."""
    if not isinstance(name, str) or len(name) > names.MAX_REF:
        raise NotFound(f"load-balancer offer {name!r} does not exist", where=where)
    return lookup.load_balancer(session, caller, name, where=where)


def frontend_owner_and_management(svc: Service) -> tuple[int, Subnet]:
    """Who owns a new front-end node of `svc` and where its management leg goes."""
    if svc.frontend is not None:
        return svc.frontend.account_id, svc.frontend.management_subnet
    return svc.account_id, svc.management_subnet


def view(session: Session, caller: Caller, row: LoadBalancer,
         management: Mapping[str, dict[str, Any]] | None = None) -> LoadBalancerRead:
    """Everyone sees the offer; its owner (and the operator) its management subnet, the
    services that name it and its front-end nodes (every leg, management state)."""
    return view_all(session, caller, [row], management)[0]


def view_all(session: Session, caller: Caller, rows: list[LoadBalancer],
             management: Mapping[str, dict[str, Any]] | None = None) -> list[LoadBalancerRead]:
    """`view` of many offers: the services naming them and their front-ends in two queries."""
    owned = {r.id: r for r in rows if caller.may_see(r.account_id)}
    services: dict[int, list[str]] = {i: [] for i in owned}
    frontends: dict[int, list[NodeRead]] = {i: [] for i in owned}
    if owned:
        for offer, name in session.execute(
                select(Service.frontend_id, Service.name)
                .where(Service.frontend_id.in_(list(owned))).order_by(Service.id)):
            if offer is not None:  # always: the query asks for these offers
                services[offer].append(name)
        nodes = session.execute(
            select(Service.frontend_id, Instance, Appliance.name)
            .join(Appliance, Instance.appliance_id == Appliance.id)
            .join(Service, Appliance.service_id == Service.id)
            .join(LoadBalancer, Service.frontend_id == LoadBalancer.id)
            .where(LoadBalancer.id.in_(list(owned)), Instance.role == NodeRole.FRONTEND,
                   Instance.account_id == LoadBalancer.account_id)
            .options(selectinload(Instance.interfaces).joinedload(Interface.subnet))
            .order_by(Instance.id)).all()
        for offer, node, appliance in nodes:
            if offer is not None:  # always: the query asks for these offers
                frontends[offer].append(views.node(node, appliance, management))
    return [LoadBalancerRead(name=r.name, account=r.account.name,
                             management_subnet=r.management_subnet.path if r.id in owned
                             else None,
                             services=services.get(r.id, []), frontends=frontends.get(r.id, []))
            for r in rows]


def create(ctx: Context, caller: Caller, *, name: str, account: str | None,
           management_subnet: str) -> LoadBalancerRead:
    with ctx.write() as session:
        row = new_offer(ctx, session, caller, name=name, account=account,
                        management_subnet=management_subnet)
        return view(session, caller, row)


def new_offer(ctx: Context, session: Session, caller: Caller, *, name: str,
              account: str | None, management_subnet: str) -> LoadBalancer:
    commands.new_load_balancer(name=name, management_subnet=management_subnet)
    owner = lookup.acting_account(session, caller, account)
    caller = caller.acting_for(owner.id)  # its bare names first (docs/api.md, Names)
    if lookup.taken(session, LoadBalancer.name, LoadBalancer.account_id, owner.id, name):
        raise Conflict(f"load-balancer offer {name!r} already exists", where="name")
    sub = lookup.visible_subnet(session, caller, management_subnet, where="management_subnet")
    if sub.network.account_id != owner.id:
        raise Forbidden(f"management_subnet {management_subnet} belongs to account "
                       f"{sub.network.account.name}, not to the front-end provider {owner.name}",
                       where="management_subnet")
    used = lookup.data_user(session, sub)
    if used is not None:
        raise Conflict(f"management_subnet {management_subnet} is {used}; a management subnet "
                       "carries management traffic only", where="management_subnet")
    row = LoadBalancer(name=name, account=owner, management_subnet=sub)
    session.add(row)
    ctx.event(session, "load_balancer.created", name,
              f"load-balancer offer {name} of {owner.name}, managed from {sub.path}",
              account=owner.id)
    session.flush()
    return row


ORDER = paging.by_id("load-balancers", LoadBalancer.id)


def list_(ctx: Context, caller: Caller, page: PageRequest = FIRST) -> LoadBalancerPage:
    """A page of the load-balancer offers (public; the owner's details to the owner)."""
    with ctx.read() as session:
        rows, cursor = paging.objects(session, select(LoadBalancer), ORDER, page,
                                      lambda r: (r.id,))
        return LoadBalancerPage.of(view_all(session, caller, rows, ctx.management), cursor)


def get(ctx: Context, caller: Caller, name: str) -> LoadBalancerRead:
    with ctx.read() as session:
        row = find(session, name, where="load_balancer", caller=caller)
        return view(session, caller, row, ctx.management)


def remove(ctx: Context, session: Session, caller: Caller, row: LoadBalancer) -> None:
    if not caller.may_see(row.account_id):
        raise NotFound(f"load-balancer offer {row.name!r} does not exist",
                       where="load_balancer")
    users = session.scalars(select(Service.name).where(Service.frontend_id == row.id)).all()
    if users:
        raise InUse(f"load-balancer offer {row.name} is still named by services "
                    f"{', '.join(users[:5])}; they must be withdrawn first",
                    where="load_balancer")
    session.delete(row)
    ctx.event(session, "load_balancer.deleted", row.name,
              f"load-balancer offer {row.name} withdrawn",
              account=row.account_id)


def delete(ctx: Context, caller: Caller, name: str) -> None:
    with ctx.write() as session:
        remove(ctx, session, caller, find(session, name, where="load_balancer",
                                            caller=caller))
