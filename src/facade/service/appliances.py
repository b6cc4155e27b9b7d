"""Appliances: a customer asks for an instance of a service in one of its subnets.

The customer's subnet gives exactly one address (the front-end's endpoint); every other
address comes from the provider's backend and management subnets. Creation, scaling and
deletion only change desired state here; the controller makes the kernel follow and decides
`ready` after a real request through the endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from facade.domain import commands, counts, names, states
from facade.domain.errors import Conflict, Forbidden, Invalid
from facade.domain.paging import FIRST, PageRequest
from facade.domain.states import ApplianceStatus, NodeRole, NodeStatus
from facade.readmodels.appliances import AppliancePage, ApplianceRead
from facade.service import (
    chains,
    hosts_placement,
    instances,
    load_balancers,
    lookup,
    paging,
    public_ips,
    quotas,
    views,
)
from facade.service.context import Caller, Context
from facade.store.models import Appliance, Instance, Service, Subnet


def _provider_view(caller: Caller, app: Appliance) -> bool:
    """The operator and the appliance's provider see its nodes; its customer does not."""
    return caller.operator or caller.account_id == app.service.account_id


def _frontend_view(caller: Caller, app: Appliance) -> bool:
    """The front-end's management leg and state: its owner's (a third-party front-end
    provider's, docs/composition.md) and the operator's business."""
    fe = next((n for n in app.nodes if n.role == NodeRole.FRONTEND), None)
    return caller.operator or fe is None or caller.account_id == fe.account_id


def _check_placement(session: Session, sub: Subnet) -> None:
    """The endpoint's subnet may share a network (even an account) with the backend and
    management subnets, and may be a backend subnet (chaining), but not a management subnet:
    that is provider internal, and its customers would sit next to every node's management
    address (docs/composition.md, "Placement")."""
    owner = lookup.management_owner(session, sub)
    if owner is not None:
        raise Invalid(f"subnet {sub.network.name}/{sub.name} is the management subnet of "
                      f"{owner}, which is provider internal; put the appliance in another "
                      "subnet", where="subnet")


def add_backend(ctx: Context, session: Session, app: Appliance, ordinal: int) -> Instance:
    """A new backend of `app`, on the host the scheduler picks, its addresses allocated."""
    svc = app.service
    name = f"{app.name}-b{ordinal}"
    instances.check_free_name(session, app.account.id, name, where="backends")
    # before it counts among app.nodes; a simulated host that does not run now is left out
    host = hosts_placement.backend_host(session, app, ctx.dataplane.host_alive)
    node = Instance(name=name, account=svc.account, name_scope=app.account, role=NodeRole.BACKEND,
                    appliance=app, ordinal=ordinal, status=NodeStatus.PENDING, host=host)
    session.add(node)
    extras = []
    for k, extra in enumerate(svc.extra_subnets):
        sub = extra.subnet
        if not lookup.may_place(session, sub, svc.account_id):
            raise Forbidden(f"account {sub.network.account.name} revoked the grant of subnet "
                            f"{sub.path} to {svc.account.name}; a new backend of {app.name} "
                            f"needs an interface there (service {svc.name}, extra_subnets[{k}])",
                            where="backends")
        extras.append((sub, None, f"service.extra_subnets[{k}]"))
    instances.add_interfaces(session, node, [
        (svc.backend_subnet, None, "backend_subnet"),
        (svc.management_subnet, None, "management_subnet"),
        *extras,
    ])
    return node


# What a page's views read besides the appliances themselves, loaded with them in a query each:
# their services (with their extra subnets, for chains) and their nodes; the nodes'
# interfaces come as plain rows (views.interfaces_of). Accounts are few and come from the
# session's identity map.
VIEWED = (joinedload(Appliance.service).selectinload(Service.extra_subnets),
          selectinload(Appliance.nodes))


# what `get` reads with the appliance it finds: its account, its service and the service's
# account, its subnet and network, in one statement
ONE = (joinedload(Appliance.account), joinedload(Appliance.service).joinedload(Service.account),
       joinedload(Appliance.subnet).joinedload(Subnet.network))


def view(session: Session, caller: Caller, app: Appliance,
         management: Mapping[str, dict[str, Any]] | None = None) -> ApplianceRead:
    """The appliance as `caller` may see it, with what it uses and what uses it."""
    return view_all(session, caller, [app], management)[0]


def view_all(session: Session, caller: Caller, apps: Sequence[Appliance],
             management: Mapping[str, dict[str, Any]] | None = None) -> list[ApplianceRead]:
    """`view` of many appliances: their nodes' interfaces read in one query and their chains
    in three, for all of them."""
    ups = chains.upstreams_of(session, [a.service for a in apps])
    users = chains.users_of_many(session, apps)
    legs = views.interfaces_of(session, [n.id for a in apps for n in a.nodes])
    out = []
    for app in apps:
        up = ups[app.service_id]
        out.append(views.appliance(app, management, provider_view=_provider_view(caller, app),
                                   uses=[up.name] if up is not None else [],
                                   used_by=chains.visible(caller, users[app.id]),
                                   frontend_view=_frontend_view(caller, app),
                                   interfaces=legs))
    return out


def create(ctx: Context, caller: Caller, **fields: Any) -> ApplianceRead:
    with ctx.write() as session:
        app = new_appliance(ctx, session, caller, **fields)
        result = view(session, caller, app)
    ctx.kick()
    return result


def new_appliance(ctx: Context, session: Session, caller: Caller, *, name: str,
                  account: str | None, service: str, subnet: str,
                  backends: int | None = None, tenancy: str | None = None) -> Appliance:
    cmd = commands.new_appliance(name=name, backends=backends, tenancy=tenancy)
    backends = cmd.backends
    owner = lookup.acting_account(session, caller, account)
    caller = caller.acting_for(owner.id)  # its bare names first (docs/api.md, Names)
    if lookup.taken(session, Appliance.name, Appliance.account_id, owner.id, name):
        raise Conflict(f"appliance {name!r} already exists", where="name")
    svc = lookup.service(session, service)
    sub = lookup.visible_subnet(session, caller, subnet)
    if sub.network.account_id != owner.id:
        raise Forbidden(f"subnet {subnet} belongs to account {sub.network.account.name}; "
                        f"an appliance of {owner.name} goes in one of {owner.name}'s subnets",
                        where="subnet")
    _check_placement(session, sub)
    chains.check_new_appliance(session, name, owner.name, svc, sub.id, where="name")
    quotas.check(session, owner, "appliances", where="name")
    quotas.check(session, owner, "backends", backends, where="backends")
    app = Appliance(name=name, account=owner, service=svc, subnet=sub,
                    desired_backends=backends, status=ApplianceStatus.PROVISIONING,
                    status_detail="creating nodes", tenancy=cmd.tenancy)
    session.add(app)
    instances.check_free_name(session, owner.id, f"{name}-fe")
    # the front-end is the provider's own, or a load-balancer provider's (service.frontend)
    fe_owner, fe_mgmt = load_balancers.frontend_owner_and_management(svc)
    fe = Instance(name=f"{name}-fe", account_id=fe_owner, name_scope=owner, role=NodeRole.FRONTEND,
                  appliance=app,
                  status=NodeStatus.PENDING)
    session.add(fe)
    instances.add_interfaces(session, fe, [
        (sub, None, "subnet"),
        (svc.backend_subnet, None, "service.backend_subnet"),
        (fe_mgmt, None, "service.frontend.management_subnet" if svc.frontend
         else "service.management_subnet"),
    ])
    for ordinal in range(1, backends + 1):
        add_backend(ctx, session, app, ordinal)
    # once its backends are placed: away from them where the hosts allow
    fe.host = hosts_placement.frontend_host(session, app, fe, ctx.dataplane.host_alive)
    dedicated = " (dedicated tenancy)" if hosts_placement.is_dedicated(app) else ""
    ctx.event(session, "appliance.created", name,
              f"appliance of {service} requested in {subnet} with {backends} backends"
              f"{dedicated}; endpoint {fe.interfaces[0].ip}:{svc.port}",
              account=owner.id)
    session.flush()
    return app


ORDER = paging.by_id("appliances", Appliance.id)


def list_(ctx: Context, caller: Caller, page: PageRequest = FIRST, *,
          account: str | None = None, status: str | None = None,
          service: str | None = None) -> AppliancePage:
    """A page of the appliances the caller sees: as their customer or their provider (all
    for the operator); of those, only the customer `account`'s, in `status`, of `service` when
    given (a name nothing the caller sees has matches nothing: an empty page, never a hint)."""
    conditions = paging.owned_by(Appliance.account_id, account)
    if status is not None:
        conditions.append(Appliance.status == states.appliance_status(status))
    if service is not None:
        names.check_ref(service, kind="service", where="service")
        provider, service_name = names.split_ref(service)
        conditions.append(Service.name == service_name)
        conditions += paging.owned_by(Service.account_id, provider)
    with ctx.read() as session:
        query = (select(Appliance).join(Service, Appliance.service_id == Service.id)
                 .where(*paging.seen_by(caller, Appliance.account_id, Service.account_id),
                        *conditions)
                 .options(*VIEWED))
        rows, cursor = paging.objects(session, query, ORDER, page, lambda r: (r.id,))
        return AppliancePage.of(view_all(session, caller, rows, observed(ctx)), cursor)


def get(ctx: Context, caller: Caller, name: str) -> ApplianceRead:
    with ctx.read() as session:
        # one appliance: its own rows joined to it in the one statement that finds it (the
        # batched loaders of VIEWED cost more than they save for one)
        return view(session, caller, lookup.appliance(session, caller, name, options=ONE),
                    observed(ctx))


def observed(ctx: Context) -> Mapping[str, dict[str, Any]]:
    """What each node's agent last said (`management`), a front-end's with its rotation: the
    backend addresses its map held when metering last read it. Only the appliance views show
    it, to those who see the front-end's management (its provider, running it, and the
    operator; never the customer: docs/api.md). Merged per node as a view reads it, not for
    every node of the world at each read."""
    return Observed(ctx.management, ctx.rotations) if ctx.rotations else ctx.management


class Observed(Mapping[str, dict[str, Any]]):
    """The agents' answers with each front-end's rotation, merged as a node is looked up."""

    def __init__(self, management: Mapping[str, dict[str, Any]],
                 rotations: Mapping[str, Any]) -> None:
        self.management, self.rotations = management, rotations

    def __getitem__(self, netns: str) -> dict[str, Any]:
        if netns not in self.rotations:
            return self.management[netns]
        return {**self.management.get(netns, {}), "rotation": self.rotations[netns]}

    def __iter__(self) -> Iterator[str]:
        return iter(self.management.keys() | self.rotations.keys())

    def __len__(self) -> int:
        return len(self.management.keys() | self.rotations.keys())


def rescale(ctx: Context, session: Session, app: Appliance, backends: int) -> None:
    """Grow (new backends, addresses from the provider's subnets) or shrink (the newest
    backends leave: out of rotation first, then removed). The customer subnet never changes."""
    counts.check_backends(backends)
    if app.status == ApplianceStatus.DELETING:
        raise Conflict(f"appliance {app.name} is being deleted", where="appliance")
    live = [n for n in app.nodes if n.role == NodeRole.BACKEND and n.status != NodeStatus.DELETING]
    if backends > len(live):
        quotas.check(session, app.account, "backends", backends - len(live), where="backends")
        next_ordinal = max((n.ordinal for n in app.nodes if n.role == NodeRole.BACKEND), default=0)
        for k in range(backends - len(live)):
            add_backend(ctx, session, app, next_ordinal + 1 + k)
    else:
        for node in sorted(live, key=lambda n: n.ordinal)[backends:]:
            node.status = NodeStatus.DELETING
    if backends != len(live):
        ctx.event(session, "appliance.scaling", app.name,
                  f"scaling from {len(live)} to {backends} backends",
                  account=app.account_id)
        app.status = ApplianceStatus.SCALING
        app.status_detail = f"{len(live)} -> {backends} backends"
    app.desired_backends = backends
    session.flush()


def replace_backend(ctx: Context, session: Session, app: Appliance, node: Instance,
                    reason: str) -> Instance:
    """A new backend in place of `node` (marked for deletion): same size, new name and address.
    The quota is not consulted: the count of live backends does not change."""
    next_ordinal = max((n.ordinal for n in app.nodes if n.role == NodeRole.BACKEND), default=0)
    new = add_backend(ctx, session, app, next_ordinal + 1)
    node.status = NodeStatus.DELETING
    ctx.event(session, "appliance.node_replaced", app.name,
              f"backend {node.name} replaced by {new.name} ({new.interfaces[0].ip}): {reason}",
              account=app.account_id)
    session.flush()
    return new


def scale(ctx: Context, caller: Caller, name: str, backends: int) -> ApplianceRead:
    with ctx.write() as session:
        app = lookup.appliance(session, caller, name)
        rescale(ctx, session, app, backends)
        result = view(session, caller, app)
    ctx.kick()
    return result


def mark_deleting(ctx: Context, session: Session, app: Appliance) -> None:
    app.status, app.status_detail = ApplianceStatus.DELETING, "removing nodes"
    for node in app.nodes:
        node.status = NodeStatus.DELETING
        if node.role == NodeRole.FRONTEND:  # its endpoint's public address stays the customer's
            public_ips.release_for_instance(ctx, session, node)
    ctx.event(session, "appliance.deleting", app.name, "appliance deletion requested",
              app.account_id)


def delete(ctx: Context, caller: Caller, name: str, *, force: bool = False,
           detach: bool = False, wait: float = 15.0) -> ApplianceRead:
    """Delete an appliance. While other appliances' backends call it (chains), this is refused
    (409 naming them) unless the caller chose what happens to them (docs/composition.md,
    "Deleting a link of a chain"): `force` deletes them too, and their own users, in the same
    transaction (a cascade; 403 naming any the caller may not delete, nothing changed);
    `detach` deletes it alone, and its users stay, marked by an event, answering requests that
    need it with an error."""
    if force and detach:
        raise Invalid("give force (delete its users too) or detach (delete it alone), not both",
                      where="detach")
    with ctx.write() as session:
        app = lookup.appliance(session, caller, name)
        if not caller.may_see(app.account_id):
            raise Forbidden(f"only the customer who owns appliance {name} may delete it",
                            where="appliance")
        users = chains.users_of(session, app)
        doomed = chains.dependents(session, app) if force else []
        foreign = [d for d in doomed if not caller.may_see(d.account_id)]
        if foreign:
            raise Forbidden(f"deleting {name} with force would delete "
                            f"{', '.join(f'{d.name} (of {d.account.name})' for d in foreign[:10])}"
                            f", which only {'their' if len(foreign) > 1 else 'its'} customer "
                            "or the operator may delete; delete with --detach (detach=true) to "
                            f"delete {name} alone", where="appliance")
        if not force and not detach:
            chains.check_deletable(session, app)
        result = view(session, caller, app)
        mark_deleting(ctx, session, app)
        result.status, result.status_detail = ApplianceStatus(app.status), app.status_detail
        for user in doomed:
            mark_deleting(ctx, session, user)
            ctx.event(session, "appliance.cascade", user.name,
                      f"deleted with {app.name}, which it needs (delete with force)",
                      account=user.account_id)
        result.deleted_with = [d.name for d in doomed]
        for user in users if detach else []:
            ctx.event(session, "appliance.upstream_lost", user.name,
                      f"upstream appliance {app.name} deleted alone (detach); requests of "
                      f"{user.name} that need it fail until an appliance named {app.name} "
                      f"exists again in {app.subnet.path}",
                      account=user.account_id)
    ctx.converge(wait)
    return result
