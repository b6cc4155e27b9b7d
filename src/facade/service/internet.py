"""The intermediate network (the stand-in for the Internet) and its external hosts
(docs/edge.md).

The intermediate network is one network of the operator's, kind "intermediate", named
`internet`, with one subnet `hosts` spanning its range: its router is the Internet's core. It is
made the first time something needs it (an external host, a public gateway) and is never routed
to the host's own interfaces. External hosts are instances of role "external" with one
interface in it, owned by the account that made them: a laptop on the Internet, with a shell
(`facade exec`).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from facade.domain import edge, names
from facade.domain.errors import Conflict, Invalid
from facade.domain.ipam import parse_ip
from facade.domain.paging import FIRST, PageRequest
from facade.domain.states import NodeRole, NodeStatus
from facade.readmodels.nodes import ExternalPage, ExternalRead
from facade.service import gateways, instances, lookup, paging, quotas, sandboxes, views
from facade.service.context import Caller, Context
from facade.store.models import Account, Instance, Interface, Network, Subnet


def ensure(ctx: Context, session: Session) -> Network:
    """The intermediate network, made now if it does not exist yet."""
    net = gateways.find(session)
    if net is not None:
        return net
    if session.scalar(select(Network.id).where(Network.name == edge.INTERNET)) is not None:
        raise Invalid(f"a tenant's network is named {edge.INTERNET!r}, the intermediate "
                      "network's name; rename it first", where="network")
    operator = session.scalar(select(Account).where(Account.operator.is_(True)))
    assert operator is not None, "the operator account exists from the first start"
    net = Network(name=edge.INTERNET, account=operator, cidr=edge.INTERMEDIATE_CIDR,
                  kind="intermediate")
    session.add(net)
    session.add(Subnet(network=net, name=edge.HOSTS, cidr=edge.INTERMEDIATE_CIDR))
    ctx.event(session, "network.created", edge.INTERNET,
              f"the intermediate network {edge.INTERMEDIATE_CIDR} created (the Internet's core "
              f"at {edge.core_address()})", account=operator.id)
    session.flush()
    return net


def give_leg(ctx: Context, session: Session, net: Network) -> None:
    """`net`'s router (a public or private gateway, a site's) a leg on the intermediate
    network: its address, the highest free one (external hosts are numbered from the
    bottom)."""
    if net.gateway_ip is not None:
        return
    inet = ensure(ctx, session)
    taken = {ip for (ip,) in session.execute(
        select(Interface.ip).where(Interface.subnet_id == gateways.hosts_subnet(inet).id))}
    taken |= {ip for ip in session.scalars(select(Network.gateway_ip)) if ip}
    net.gateway_ip = edge.next_gateway(inet.cidr, taken)


def new_external(ctx: Context, session: Session, caller: Caller, name: str,
                 account: str | None, ip: str | None = None) -> Instance:
    """An external host: an address of the intermediate network (the next free one from the
    bottom, or `ip`), a sandbox like an instance's."""
    names.check_name(name, kind="external host", where="name")
    if ip is not None:
        parse_ip(ip, where="ip")
    owner = lookup.acting_account(session, caller, account)
    instances.check_free_name(session, owner.id, name)
    quotas.check(session, owner, "instances", where="name")
    sub = gateways.hosts_subnet(ensure(ctx, session))
    inst = Instance(name=name, account=owner, name_scope=owner, role=NodeRole.EXTERNAL,
                    status=NodeStatus.PENDING)
    sandboxes.store(inst, {})
    session.add(inst)
    taken = {n.gateway_ip for n in session.scalars(
        select(Network).where(Network.gateway_ip.is_not(None)))}
    if ip is not None and ip in taken:
        raise Conflict(f"{ip} is a public gateway's address on the intermediate network",
                       where="ip")
    instances.add_interfaces(session, inst, [(sub, ip, "ip")])
    if inst.interfaces[0].ip in taken:  # the gateways are numbered from the top
        raise Conflict("the intermediate network has no address left", where="ip")
    ctx.event(session, "external.created", name,
              f"external host {name} at {inst.interfaces[0].ip}",
              account=owner.id)
    return inst


def create(ctx: Context, caller: Caller, name: str, account: str | None,
           ip: str | None = None) -> ExternalRead:
    with ctx.write() as session:
        inst_id = new_external(ctx, session, caller, name, account, ip).id
    ctx.converge()
    return get_by_id(ctx, inst_id)


def get_by_id(ctx: Context, inst_id: int) -> ExternalRead:
    with ctx.read() as session:
        return view(session.get_one(Instance, inst_id))


def view(row: Instance) -> ExternalRead:
    return ExternalRead(**views.node_fields(row),
                        ip=row.interfaces[0].ip if row.interfaces else None,
                        gateway=edge.core_address())


def find_own(session: Session, caller: Caller, name: str) -> Instance | None:
    """The caller's external host of that name, if any."""
    row = session.scalar(select(Instance).where(
        Instance.name == name, Instance.role == NodeRole.EXTERNAL,
        Instance.account_id == caller.account_id))
    return row


def _lookup(session: Session, caller: Caller, name: str) -> Instance:
    return lookup.instance(session, caller, name, where="external", role=NodeRole.EXTERNAL,
                           kind="external host")


def get(ctx: Context, caller: Caller, name: str) -> ExternalRead:
    with ctx.read() as session:
        return view(_lookup(session, caller, name))


ORDER = paging.by_id("externals", Instance.id)


def list_(ctx: Context, caller: Caller, page: PageRequest = FIRST) -> ExternalPage:
    with ctx.read() as session:
        query = (select(Instance).where(Instance.role == NodeRole.EXTERNAL,
                                        *paging.seen_by(caller, Instance.account_id))
                 .options(joinedload(Instance.account),
                          selectinload(Instance.interfaces).joinedload(Interface.subnet)
                          .joinedload(Subnet.network)))
        rows, cursor = paging.objects(session, query, ORDER, page, lambda r: (r.id,))
        return ExternalPage.of([view(r) for r in rows], cursor)


def delete(ctx: Context, caller: Caller, name: str) -> None:
    with ctx.write() as session:
        row = _lookup(session, caller, name)
        row.status = NodeStatus.DELETING
        ctx.event(session, "external.deleting", row.name,
                  "external host deletion requested", row.name_scope_id)
    ctx.converge()
