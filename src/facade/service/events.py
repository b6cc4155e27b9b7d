"""The event log: what Facade did and why, read newest first; each account sees its own part,
told by the account an event is about (`Event.account_id`), so that an event about a name two
accounts share reaches its owner.
An event names the API request that caused it (`request_id`: its X-Request-ID), or none when
the controller acted on its own (service/request_ids.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    String,
    and_,
    bindparam,
    false,
    or_,
    select,
)
from sqlalchemy.orm import Session

from facade.domain import names
from facade.domain.paging import FIRST, PageRequest
from facade.readmodels.system import EventPage, EventRead
from facade.service import paging, request_ids
from facade.service.context import Caller, Context
from facade.store.models import Account, Appliance, Event, Instance, Network, Service, Subnet


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


def _shown_to(session: Session, viewer: Caller) -> ColumnElement[bool]:
    """Which events `viewer` (an account, not the operator) is shown, as SQL: those of its own
    objects (an event's `account`), but for the ones naming an appliance's nodes, which only
    the provider sees; those of the appliances it provides; and, of events with no account
    (older than 0022, or about a kernel object whose row was gone), those its names match,
    as before."""
    me = viewer.account_id
    provided = select(Appliance.id).join(Service, Appliance.service_id == Service.id).where(
        Service.account_id == me, Appliance.account_id == Event.account_id,
        Appliance.name == Event.object).exists()
    mine, as_customer = _visible_objects(session, viewer)
    return or_(
        and_(Event.account_id == me, Event.kind.not_in(NODE_DETAIL)),
        and_(Event.kind.startswith("appliance."), provided),
        and_(Event.account_id.is_(None), or_(
            Event.object.in_(_one_of(mine)),
            and_(Event.object.in_(_one_of(as_customer)), Event.kind.not_in(NODE_DETAIL)))))


def _of_account(session: Session, caller: Caller, account: str | None
                ) -> ColumnElement[bool] | None:
    """The condition of the list: what the caller is shown (everything, for the operator),
    narrowed by `?account=` to what that account is shown. Another account's name, or one
    nobody has, is an empty page for an account (never a hint); a name no account could have
    is a 400 naming `account`."""
    if account is not None:
        names.check_name(account, kind="account", where="account")
        row = session.scalar(select(Account).where(Account.name == account))
        if row is None or not caller.may_see(row.id):
            return false()
        if caller.operator:
            return None if row.operator else _shown_to(session, Caller(row.id, row.name))
    return None if caller.operator else _shown_to(session, caller)


def list_(ctx: Context, caller: Caller, page: PageRequest = FIRST, *,
          request_id: str | None = None, account: str | None = None) -> EventPage:
    """A page of events, newest first (only those `request_id` caused, if given; only those
    `account` is shown, if given). The operator sees all; an account the events of its own
    objects (an event's account: its networks, subnets, instances and nodes, services,
    appliances...) and of the appliances it provides, except, as a customer, those naming the
    provider's nodes. Events without an account are matched by their objects' current names,
    as before 0022. The match is part of the query, so a page is full until the caller's own
    events run out."""
    query = select(Event)
    if request_id is not None:
        query = query.where(Event.request_id == request_ids.check(request_id, "request_id"))
    with ctx.read() as session:
        shown = _of_account(session, caller, account)
        if shown is not None:
            query = query.where(shown)
        rows, cursor = paging.objects(session, query, ORDER, page, lambda r: (r.id,))
        ids = sorted({r.account_id for r in rows if r.account_id is not None})
        owners = {i: n for i, n in session.execute(
            select(Account.id, Account.name).where(Account.id.in_(ids)))}
        return EventPage.of([EventRead(time=_utc(r.time).isoformat(timespec="milliseconds"),
                                        kind=r.kind, object=r.object, message=r.message,
                                        request_id=r.request_id,
                                        account=owners.get(r.account_id or 0))
                              for r in rows], cursor)
