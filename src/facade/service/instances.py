"""Customer instances: allocation of their interfaces' addresses, creation, deletion, exec.

An instance's host is the one the operator names (`host`), else the scheduler's
(service/hosts_placement.py, `instance_host`): the local host while no simulated host runs.

Allocation is the NetBox way: the walk for a free address is domain.ipam's, the critical
section is Context.write()'s lock, and the (subnet, ip) unique constraint is the backstop.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from facade.domain import commands, names, states
from facade.domain.errors import Conflict, Forbidden, Invalid
from facade.domain.ipam import SubnetRange, Taken
from facade.domain.paging import FIRST, PageRequest
from facade.domain.states import NodeRole, NodeStatus
from facade.readmodels.nodes import ExecRead, NodePage, NodeRead
from facade.service import (
    hosts,
    hosts_placement,
    lookup,
    paging,
    public_ips,
    quotas,
    rules,
    sandboxes,
    taken,
    views,
)
from facade.service.context import Caller, Context
from facade.store.models import Account, Instance, Interface, PublicIp, Subnet

# session.info's entry: subnet id -> the addresses taken in it, kept for one transaction
TAKEN = "facade.instances.taken"


def allocate(session: Session, subnet: Subnet, requested: str | None, *, where: str) -> str:
    """An address in `subnet` (the requested one, else the lowest free). A subnet's taken
    addresses are read once per transaction and kept up to date with what this transaction
    allocates: an appliance's nodes take four addresses of its provider's backend subnet and
    four of its management subnet. Between transactions they are kept too, checked against
    the store at each first read (service/taken.py). The write lock (`Context.write`) keeps
    other writers out meanwhile, and every interface gets its address here; one deleted in
    the same transaction is at worst not reused in it."""
    if subnet.id is None:  # made in this transaction: its id, to know it by
        session.flush()
    known: dict[int, Taken] = session.info.setdefault(TAKEN, {})
    used = known.get(subnet.id)
    if used is None:
        used = known[subnet.id] = taken.read(session, subnet.id)
    rng = SubnetRange.of(subnet.cidr)
    ip = str(rng.allocate(used, requested, name=subnet.path, where=where))
    used.add(ip)
    return ip


def resolve_subnet(session: Session, caller: Caller, owner: Account, path: str, *,
                   where: str) -> Subnet:
    """A subnet an instance of `owner` may have an interface in: one of owner's own, or one
    whose owner granted `owner` that right (service.grants); without a grant a stranger's
    subnet is the same 404 as one that does not exist."""
    sub = lookup.visible_subnet(session, caller, path, where=where, grants=True)
    if not lookup.may_place(session, sub, owner.id):
        raise Forbidden(f"subnet {path} belongs to account {sub.network.account.name}, not to "
                        f"{owner.name}, and {sub.network.account.name} has not granted "
                        f"{owner.name} interfaces in it (facade subnet grant)", where=where)
    return sub


def add_interfaces(session: Session, inst: Instance,
                   placements: list[tuple[Subnet, str | None, str]]) -> None:
    for index, (sub, requested, where) in enumerate(placements):
        ip = allocate(session, sub, requested, where=where)
        inst.interfaces.append(Interface(subnet=sub, index=index, ip=ip))
        session.flush()  # the next allocation in the same subnet must see this one


def check_free_name(session: Session, scope_id: int, name: str, *, where: str = "name") -> None:
    """An instance's (or a node's) name is free among the names of account `scope_id`."""
    if lookup.taken(session, Instance.name, Instance.name_scope_id, scope_id, name):
        raise Conflict(f"instance {name!r} already exists", where=where)


def new_instance(ctx: Context, session: Session, caller: Caller, name: str, account: str | None,
                 interfaces: list[dict[str, Any]],
                 limits: dict[str, Any] | None = None, *, public_ip: bool = False,
                 host: str | None = None) -> Instance:
    commands.new_instance(name=name, interfaces=interfaces, limits=limits)
    # a named host is the operator's (checked before anything is made of it); none: the
    # scheduler's, once the rest is known good
    placed = hosts.placement(session, caller, host) if host is not None else None
    owner = lookup.acting_account(session, caller, account)
    caller = caller.acting_for(owner.id)  # its bare names first (docs/api.md, Names)
    # another account's dedicated nodes claim a host: none of this one's go there
    hosts_placement.check_shared(session, placed, owner.id)
    check_free_name(session, owner.id, name)
    placements = []
    for i, spec in enumerate(interfaces):
        where = f"interfaces[{i}]"
        sub = resolve_subnet(session, caller, owner, spec.get("subnet", ""), where=where)
        placements.append((sub, spec.get("ip"), where))
    quotas.check(session, owner, "instances", where="name")
    if host is None:  # placed by the scheduler (docs/multi-host.md, "Instances placed ...")
        placed = hosts_placement.instance_host(session, owner.id, ctx.dataplane.host_alive)
    inst = Instance(name=name, account=owner, name_scope=owner, role=NodeRole.INSTANCE,
                    status=NodeStatus.PENDING, host=placed)
    sandboxes.store(inst, limits or {})
    session.add(inst)
    add_interfaces(session, inst, placements)
    ctx.event(session, "instance.created", name,
              "instance created with " + ", ".join(f"{i.ip}" for i in inst.interfaces)
              + (f" on host {placed.name}" if placed is not None else ""),
              account=owner.id)
    if public_ip:
        public_ips.add_standard(ctx, session, inst)
    return inst


def create(ctx: Context, caller: Caller, name: str, account: str | None,
           interfaces: list[dict[str, Any]],
           limits: dict[str, Any] | None = None, *, public_ip: bool = False,
           host: str | None = None) -> NodeRead:
    with ctx.write() as session:
        inst_id = new_instance(ctx, session, caller, name, account, interfaces, limits,
                               public_ip=public_ip, host=host).id
    ctx.converge()
    with ctx.read() as session:
        return _with_public(session, views.node(session.get_one(Instance, inst_id)), inst_id)


def _with_public(session: Session, view: NodeRead, inst_id: int) -> NodeRead:
    view.public_ips = list(session.scalars(
        select(PublicIp.address).where(PublicIp.instance_id == inst_id)
        .order_by(PublicIp.iface_index)))
    return view


ORDER = paging.by_id("instances", Instance.id)


def list_(ctx: Context, caller: Caller, page: PageRequest = FIRST, *,
          account: str | None = None, status: str | None = None) -> NodePage:
    """A page of the customer instances the caller sees (appliance nodes are not listed); of
    `account`, in `status`, when given."""
    conditions = paging.owned_by(Instance.account_id, account)
    if status is not None:
        conditions.append(Instance.status == states.node_status(status))
    with ctx.read() as session:
        query = (select(Instance).where(Instance.role == NodeRole.INSTANCE,
                                        *paging.seen_by(caller, Instance.account_id),
                                        *conditions)
                 .options(joinedload(Instance.account),
                          selectinload(Instance.interfaces).joinedload(Interface.subnet)
                          .joinedload(Subnet.network)))
        rows, cursor = paging.objects(session, query, ORDER, page, lambda r: (r.id,))
        return NodePage.of([views.node(r) for r in rows], cursor)


def get(ctx: Context, caller: Caller, name: str) -> NodeRead:
    with ctx.read() as session:
        row = lookup.instance(session, caller, name)
        return _with_public(session, views.node(row, row.appliance.name if row.appliance
                                                else None), row.id)


def delete(ctx: Context, caller: Caller, name: str) -> None:
    with ctx.write() as session:
        row = lookup.instance(session, caller, name)
        if row.role != NodeRole.INSTANCE:
            raise Invalid(f"{name} is a {row.role} node of an appliance; delete or scale the "
                          "appliance instead", where="instance")
        row.status = NodeStatus.DELETING
        rules.delete_for_instance(session, row)  # its interfaces' rules go with it
        public_ips.release_for_instance(ctx, session, row)
        ctx.event(session, "instance.deleting", row.name, "instance deletion requested",
                  row.name_scope_id)
    ctx.converge()


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def exec_(ctx: Context, caller: Caller, name: str, argv: list[str], timeout: float,
          stdin: str | None, host: bool = False) -> ExecRead:
    """Run a command in a node its caller owns (an instance, or an appliance node): in the
    node's sandbox, as the node's root. `host` (the operator only) runs it as the host's root
    with only the network namespace changed, for debugging Facade itself."""
    if host and not caller.operator:
        raise Forbidden("only the operator may run a command outside the node's sandbox "
                        "(host); a tenant's commands run in its node's sandbox", where="host")
    if not argv or not all(isinstance(a, str) and a for a in argv):
        raise Invalid("argv must be a non-empty list of non-empty strings", where="argv")
    for i, arg in enumerate(argv):
        # execve(2) takes NUL-terminated UTF-8 here: no NUL, no lone surrogate
        if "\x00" in arg or not _utf8(arg):
            raise Invalid("an argument must not hold a NUL character or a lone surrogate",
                          where=f"argv[{i}]")
    if not 0 < timeout <= 600:
        raise Invalid("timeout must be between 0 and 600 seconds", where="timeout")
    with ctx.read() as session:
        row = lookup.instance(session, caller, name)
        if row.status != NodeStatus.ACTIVE:
            raise Conflict(f"instance {name} is {row.status}, not active", where="instance")
        netns = names.node_netns(row.id, row.name)
    result = ctx.dataplane.exec(netns, argv, timeout=timeout, stdin=stdin, host=host)
    return ExecRead(returncode=result.returncode, stdout=result.stdout, stderr=result.stderr,
                    timed_out=result.timed_out)
