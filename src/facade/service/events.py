"""The event log: what Facade did and why, read newest first; each account sees its own part.
An event names the API request that caused it (`request_id`: its X-Request-ID), or none when
the controller acted on its own (service/request_ids.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BindParameter, String, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from facade.domain import names
from facade.domain.paging import FIRST, PageRequest
from facade.service import paging, request_ids
from facade.service.context import Caller, Context
from facade.store.models import Appliance, Event, Instance, Network, Service, Subnet


def _utc(t: dt.datetime) -> dt.datetime:
    # SQLite keeps no time zone; every time Facade writes is UTC.
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


# events about an appliance that name its provider's nodes: not for its customer's eyes
NODE_DETAIL = frozenset({"appliance.node_replaced", "appliance.replace_failed"})
# newest first: the first page is the latest events, next_cursor goes back in time
ORDER = paging.Order(kind="events", columns=(Event.id,), shape=(int,), descending=True)


def _visible_objects(session: Session, caller: Caller) -> tuple[set[str], set[str]]:
    """(names of objects whose events the caller sees in full, appliance names it sees as a
    customer only). Kernel names count: the netns of its nodes, the router and bridges of its
    networks, its workload processes and agents."""
    mine: set[str] = {caller.account}
    as_customer: set[str] = set()
    for net_id, net in session.execute(select(Network.id, Network.name)
                                       .where(Network.account_id == caller.account_id)):
        mine |= {net, names.router_netns(net_id), f"agent-n{net_id}"}
    for sub_id, sub, net in session.execute(
            select(Subnet.id, Subnet.name, Network.name).join(Network)
            .where(Network.account_id == caller.account_id)):
        mine |= {f"{net}/{sub}", names.bridge(sub_id)}
    for inst_id, inst in session.execute(select(Instance.id, Instance.name)
                                         .where(Instance.account_id == caller.account_id)):
        mine |= {inst, names.node_netns(inst_id, inst), f"wl{inst_id}"}
    mine |= set(session.scalars(select(Service.name)
                                .where(Service.account_id == caller.account_id)))
    for app, customer, provider in session.execute(
            select(Appliance.name, Appliance.account_id, Service.account_id)
            .join(Service, Appliance.service_id == Service.id)
            .where(or_(Appliance.account_id == caller.account_id,
                       Service.account_id == caller.account_id))):
        if provider == caller.account_id:
            mine.add(app)
        elif customer == caller.account_id:
            as_customer.add(app)
    # names are unique per account only (docs/api.md, "Names"), and an event names its object
    # by name: one another account's object also has is nobody's but the operator's, so that
    # no account reads another's events
    shared = _held_by_others(session, caller, mine | as_customer)
    return mine - shared, as_customer - shared


def _held_by_others(session: Session, caller: Caller, names_: set[str]) -> set[str]:
    """Which of `names_` an object the caller does not own or provide also has."""
    if not names_:
        return set()
    me = caller.account_id
    wanted = _one_of(names_)
    found = {*session.scalars(select(Network.name).where(
        Network.account_id != me, Network.name.in_(wanted))),
        *session.scalars(select(Instance.name).where(
            Instance.account_id != me, Instance.name.in_(wanted))),
        *session.scalars(select(Service.name).where(
            Service.account_id != me, Service.name.in_(wanted))),
        *session.scalars(select(Appliance.name).join(
            Service, Appliance.service_id == Service.id).where(
            Appliance.account_id != me, Service.account_id != me,
            Appliance.name.in_(wanted)))}
    paths = {n for n in names_ if n.count("/") == 1}
    if paths:
        found |= {f"{net}/{sub}" for sub, net in session.execute(
            select(Subnet.name, Network.name).join(Network).where(
                Network.account_id != me, Network.name.in_(
                    _one_of({p.split("/")[0] for p in paths}))))} & paths
    return found


def _one_of(names_: set[str]) -> BindParameter[Any]:
    # rendered into the statement as literals: a tenant with many objects is no limit to the
    # database's number of bound parameters
    return bindparam(None, sorted(names_), expanding=True, literal_execute=True,
                     type_=String())


def list_(ctx: Context, caller: Caller, page: PageRequest = FIRST, *,
          request_id: str | None = None) -> dict[str, Any]:
    """A page of events, newest first (only those `request_id` caused, if given). The operator
    sees all; an account the events of its own objects (its networks, subnets, instances and
    nodes, services, the appliances it provides) and of the appliances it consumes, except
    those naming the provider's nodes. Objects are matched by their current names, so events
    of deleted objects are the operator's. The match is part of the query, so a page is full
    until the caller's own events run out."""
    query = select(Event)
    if request_id is not None:
        query = query.where(Event.request_id == request_ids.check(request_id, "request_id"))
    with ctx.read() as session:
        if not caller.operator:
            mine, as_customer = _visible_objects(session, caller)
            query = query.where(or_(
                Event.object.in_(_one_of(mine)),
                and_(Event.object.in_(_one_of(as_customer)), Event.kind.not_in(NODE_DETAIL))))
        rows, cursor = paging.objects(session, query, ORDER, page, lambda r: (r.id,))
        return paging.answer([{"time": _utc(r.time).isoformat(timespec="milliseconds"),
                               "kind": r.kind, "object": r.object, "message": r.message,
                               "request_id": r.request_id}
                              for r in rows], cursor)
