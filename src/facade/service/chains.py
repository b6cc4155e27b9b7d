"""Chained appliances: a service's backends call another appliance (its `upstream`).

A provider names, on its service, the appliance its backends use (`upstream: NAME`, or
`ACCOUNT/NAME`: that account's appliance of that name, as every cross-account reference). That
appliance is an ordinary appliance whose customer is the provider itself, created in the
service's backend subnet (or in one of the service's extra subnets, where every backend has a
leg of its own), so its front-end's endpoint is an address the backends reach on a segment
they are on. The name may be given before the appliance exists; it is resolved here, on every
read, to a live appliance *in one of those subnets* (only a subnet's owner can put an appliance
there, so nobody else can capture the name). A bare NAME two accounts' appliances in those
subnets have is the provider's own first, else refused when named (400 asking for
ACCOUNT/NAME) and, should the second appear later, the oldest (a working chain is not moved
by a newcomer). Called by catalog and
appliances (checks), views and topology (uses / used_by) and desired (the upstream file the
controller writes for the backends). docs/composition.md describes the whole design.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from facade.domain import names
from facade.domain.errors import Conflict, InUse, Invalid
from facade.domain.states import ApplianceStatus, NodeRole, NodeStatus
from facade.service import lookup
from facade.service.context import Caller
from facade.store.models import Appliance, Service

MAX_DEPTH = 32  # a chain longer than this is refused (and never walked further)


def _named(session: Session, names_: Iterable[str]) -> dict[str, list[Appliance]]:
    """The appliances of these names, by name, oldest first. Names are unique per account only
    (docs/api.md, "Names"): a service's upstream is the one of them in a subnet its backends
    are on, and only a subnet's owner places appliances there."""
    found: dict[str, list[Appliance]] = {}
    wanted = sorted(set(names_))
    if wanted:
        for app in session.scalars(select(Appliance).where(Appliance.name.in_(wanted))
                                   .order_by(Appliance.id)):
            found.setdefault(app.name, []).append(app)
    return found


def reachable_subnets(svc: Service) -> set[int]:
    """Ids of the subnets the service's backends have legs in, bar management: where an
    appliance they call may sit."""
    return {svc.backend_subnet_id} | {e.subnet_id for e in svc.extra_subnets}


def upstream_of(session: Session, svc: Service) -> Appliance | None:
    """The live appliance the service's backends call, or None (none named, not created yet,
    being deleted, or not in a subnet the service's backends are on)."""
    return upstreams_of(session, [svc])[svc.id]


def upstreams_of(session: Session, services: Iterable[Service]) -> dict[int, Appliance | None]:
    """`upstream_of` for many services (by id) in one query, whatever their number: what the
    list views use."""
    services = list(services)
    named = _named(session, (names.split_ref(s.upstream)[1] for s in services if s.upstream))
    found: dict[int, Appliance | None] = {}
    for svc in services:
        account, name = names.split_ref(svc.upstream or "")
        live = [a for a in named.get(name, []) if a.status != ApplianceStatus.DELETING
                and a.subnet_id in reachable_subnets(svc)
                and (account is None or a.account.name == account)]
        found[svc.id] = _own_first(live, svc.account_id)
    return found


def _own_first(apps: list[Appliance], provider_id: int) -> Appliance | None:
    """Of the appliances a bare upstream name finds (oldest first), the provider's own, else
    the oldest."""
    return next((a for a in apps if a.account_id == provider_id), apps[0] if apps else None)


def names_it(upstream: str | None, app_name: str, account: str) -> bool:
    """Whether a service's `upstream` (NAME or ACCOUNT/NAME) names an appliance `app_name` of
    `account` (where it sits is the other half of resolving it)."""
    if upstream is None:
        return False
    owner, name = names.split_ref(upstream)
    return name == app_name and owner in (None, account)


def endpoint(app: Appliance) -> str | None:
    """IP:PORT of an appliance's front-end in the subnet it was created in."""
    fe = next((n for n in app.nodes
               if n.role == NodeRole.FRONTEND and n.status != NodeStatus.DELETING), None)
    if fe is None or not fe.interfaces:
        return None
    return f"{fe.interfaces[0].ip}:{app.service.port}"


def users_of(session: Session, app: Appliance) -> list[Appliance]:
    """Live appliances whose backends call `app` (appliances of services naming it)."""
    return users_of_many(session, [app])[app.id]


def users_of_many(session: Session, apps: Sequence[Appliance]) -> dict[int, list[Appliance]]:
    """`users_of` for many appliances (by id) in two queries, whatever their number: what the
    list views use."""
    users: dict[int, list[Appliance]] = {a.id: [] for a in apps}
    refs = {ref for a in apps if a.status != ApplianceStatus.DELETING
            for ref in (a.name, f"{a.account.name}/{a.name}")}
    if not refs:
        return users
    services = session.scalars(select(Service).where(Service.upstream.in_(sorted(refs)))
                               .options(selectinload(Service.extra_subnets))).all()
    # the service's id -> the appliance it calls (what its upstream resolves to, when that is
    # one of `apps`: a bare name shared by two appliances calls one of them)
    calls = {sid: app for sid, app in upstreams_of(session, services).items()
             if app is not None and app.id in users}
    if not calls:
        return users
    for user in session.scalars(select(Appliance).where(
            Appliance.service_id.in_(list(calls)), Appliance.status != ApplianceStatus.DELETING)
            .order_by(Appliance.id)):
        users[calls[user.service_id].id].append(user)
    return users


def dependents(session: Session, app: Appliance) -> list[Appliance]:
    """Every live appliance that needs `app`: its users, their users, and so on (what a
    cascading delete takes with it), nearest first."""
    found: list[Appliance] = []
    seen, frontier = {app.id}, [app]
    while frontier:
        nxt = []
        for current in frontier:
            for user in users_of(session, current):
                if user.id not in seen:
                    seen.add(user.id)
                    found.append(user)
                    nxt.append(user)
        frontier = nxt
    return found


def visible_users(session: Session, caller: Caller, app: Appliance) -> list[str]:
    """Names of the users of `app` the caller may know about: the operator sees all; an
    account sees the users of which it is the provider (which is the upstream's owner)."""
    return visible(caller, users_of(session, app))


def visible(caller: Caller, users: Iterable[Appliance]) -> list[str]:
    """The names of `users` (of some appliance) the caller may know about."""
    return [u.name for u in users if caller.may_see(u.service.account_id)]


def check_upstream(session: Session, caller: Caller, subnet_ids: list[int],
                   upstream: str | None, provider_id: int, *, where: str = "upstream") -> None:
    """A new service's upstream: NAME or ACCOUNT/NAME. A bare NAME means, as every reference
    does, the provider's own appliance first, else the one the caller may see. When it names
    such an appliance already, that appliance must sit in one of `subnet_ids` (the service's
    backend subnet, then its extra subnets); a bare NAME that appliances of two accounts there
    have (none the provider's) is a 400 asking for ACCOUNT/NAME. (An appliance the caller
    cannot see is treated as not created yet: the answer must not reveal it, and it can never
    be resolved, for only the subnet's owner can place an appliance there.)"""
    if upstream is None:
        return
    names.check_ref(upstream, kind="upstream appliance", where=where)
    account, name = names.split_ref(upstream)
    seen = [a for a in _named(session, [name]).get(name, [])
            if caller.may_see(a.account_id, a.service.account_id)
            and account in (None, a.account.name)]
    inside = [a for a in seen if a.subnet_id in subnet_ids]
    if len({a.account_id for a in inside}) > 1 and \
            not any(a.account_id == provider_id for a in inside):
        raise Invalid(lookup.ambiguous(session, "upstream appliance", upstream,
                                       [a.account_id for a in inside]), where=where)
    # elsewhere: the one the name means (the provider's own, else the only one seen)
    elsewhere = [a for a in seen if a.account_id == provider_id] or seen
    if inside or len(elsewhere) != 1:
        return
    app = elsewhere[0]
    raise Invalid(f"appliance {upstream} is in subnet {app.subnet.path}; an upstream must be "
                  "an appliance created in the service's backend subnet (or one of its "
                  "extra subnets), where the backends reach its endpoint", where=where)


def check_new_appliance(session: Session, name: str, account: str, svc: Service,
                        subnet_id: int, *, where: str) -> None:
    """Refuse a new appliance `name` of service `svc` in subnet `subnet_id` that would close a
    loop: it would be the upstream of some service S (S names it, and it sits in S's backend
    subnet) while its own backends' chain (svc's upstream, that one's service's upstream...)
    leads to S (S's backend or extra subnets). Only real resolutions count, so an appliance
    placed elsewhere never is one. `account`: the new appliance's (an upstream may say
    ACCOUNT/NAME)."""
    chain, service, depth = [name], svc, 0
    while service is not None and depth < MAX_DEPTH:
        if names_it(service.upstream, name, account) and subnet_id in reachable_subnets(service):
            raise Conflict(f"appliance {name} would close a loop: {' -> '.join(chain)} -> "
                           f"{name} (service {service.name} names {name} as its upstream)",
                           where=where)
        app = upstream_of(session, service)
        if app is None:
            return
        chain.append(app.name)
        service, depth = app.service, depth + 1
    if depth >= MAX_DEPTH:
        raise Conflict(f"a chain of appliances may be at most {MAX_DEPTH} deep", where=where)


def check_deletable(session: Session, app: Appliance, *, also_deleting: set[str] | None = None,
                    where: str = "appliance") -> None:
    """Refuse (409 in_use) to delete an appliance that live appliances still call, naming
    them; `also_deleting` are users deleted in the same request (destroy of a file)."""
    users = [u.name for u in users_of(session, app) if u.name not in (also_deleting or set())]
    if users:
        raise InUse(f"appliance {app.name} is used by {', '.join(users[:10])} (their backends "
                    f"call it); delete {'them' if len(users) > 1 else 'it'} first, delete "
                    f"with --force (force=true) to take {'them' if len(users) > 1 else 'it'} "
                    f"along (a cascade), or with --detach (detach=true): {app.name} goes "
                    f"and they stay, answering requests that need it with an error",
                    where=where)
