"""Finding objects by the names users write, with the visibility rule: what a caller may not
see does not exist for it (404, never 403, so names of other tenants do not leak)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.interfaces import ORMOption

from facade.domain import names
from facade.domain.errors import Forbidden, Invalid, NotFound
from facade.service.context import Caller
from facade.store.models import (
    Account,
    Appliance,
    Instance,
    LoadBalancer,
    Network,
    Service,
    ServiceSubnet,
    Subnet,
    SubnetGrant,
)

T = TypeVar("T")
Offer = TypeVar("Offer", Service, LoadBalancer)


def account(session: Session, name: str, *, where: str = "account") -> Account:
    row = session.scalar(select(Account).where(Account.name == name))
    if row is None:
        raise NotFound(f"account {name!r} does not exist", where=where)
    return row


def visible_account(session: Session, caller: Caller, name: str) -> Account:
    """An account the caller may see (itself, or any for the operator); another's is as
    unknown as one that does not exist."""
    row = account(session, name)
    if not caller.may_see(row.id):
        raise NotFound(f"account {name!r} does not exist", where="account")
    return row


def acting_account(session: Session, caller: Caller, name: str | None, *,
                   where: str = "account") -> Account:
    """The account a create request acts for: the caller's own, or any for the operator."""
    if name is None:
        return account(session, caller.account)
    if not caller.operator and name != caller.account:
        raise Forbidden(f"token of account {caller.account!r} cannot act for account {name!r}",
                        where=where)
    return account(session, name, where=where)


# -- names per account (docs/api.md, "Names") -----------------------------------------------
# Every account-owned kind is unique within its account only. A reference is NAME or
# ACCOUNT/NAME; a bare NAME is the caller's own object when it has one (`own_first`, for what a
# caller names as its own), else the one object of that name the caller may see; several are a
# 400 naming only those it may see. What it may not see is the same 404 as what does not exist.


def resolve(session: Session, caller: Caller, query: Select[T], ref: str, *,
             owner: Callable[[T], int], visible: Callable[[T], bool], kind: str,
             where: str, own_first: bool = True, account_column: Any = None) -> T:
    acct = names.split_ref(ref)[0] if account_column is not None else None
    if acct is not None:
        query = query.where(account_column.in_(select(Account.id).where(Account.name == acct)))
    seen = [row for row in session.scalars(query) if visible(row)]
    if len(seen) > 1 and own_first and caller.prefers is not None:
        seen = [row for row in seen if owner(row) == caller.prefers] or seen
    if not seen:
        raise NotFound(f"{kind} {ref!r} does not exist", where=where)
    if len(seen) > 1:
        raise Invalid(ambiguous(session, kind, ref, [owner(row) for row in seen]), where=where)
    return seen[0]


def ambiguous(session: Session, kind: str, ref: str, owners: list[int]) -> str:
    """The 400 of a bare name several visible objects have: their ACCOUNT/NAME forms."""
    accounts = {i: n for i, n in session.execute(select(Account.id, Account.name)
                                                 .where(Account.id.in_(owners)))}
    forms = ", ".join(sorted(f"{accounts[i]}/{ref}" for i in set(owners)))
    return f"{kind} {ref!r} is ambiguous: write ACCOUNT/NAME, one of {forms}"


def check_ref(ref: str, kind: str, where: str) -> str:
    """A reference's form (NAME or ACCOUNT/NAME) checked before anything is looked up: one no
    object could have is a 400, not a 404."""
    return names.check_ref(ref, kind=kind, where=where)


def network(session: Session, caller: Caller, name: str, *, where: str = "network") -> Network:
    check_ref(name, "network", where)
    # a customer site is a network of its own kind, reached as a site (service/sites.py)
    return resolve(session, caller, select(Network).where(
        Network.name == names.split_ref(name)[1], Network.kind != "site").order_by(Network.id),
        name, owner=lambda r: r.account_id, visible=lambda r: caller.may_see(r.account_id),
        kind="network", where=where, account_column=Network.account_id)


def split_subnet_path(path: str, *, where: str) -> tuple[str, str]:
    """(network reference, subnet name) of `network/subnet` or `account/network/subnet`."""
    names.check_subnet_ref(path, where=where)
    net, _, sub = path.rpartition("/")
    return net, sub


def _subnets(path: str, *, where: str) -> Select[Subnet]:
    net_ref, sub_name = split_subnet_path(path, where=where)
    acct, net_name = names.split_ref(net_ref)
    query = select(Subnet).join(Network).where(
        Network.name == net_name, Subnet.name == sub_name, Network.kind != "site")
    if acct is not None:
        query = query.where(Network.account_id.in_(select(Account.id).where(Account.name == acct)))
    return query.order_by(Subnet.id)


def subnet(session: Session, path: str, *, where: str = "subnet") -> Subnet:
    """A subnet by `account/network/subnet` (or `network/subnet` when only one account has
    it), whoever owns it (callers check permission themselves)."""
    return resolve(session, OPERATOR_VIEW, _subnets(path, where=where), path,
                    owner=lambda r: r.network.account_id, visible=lambda r: True,
                    kind="subnet", where=where)


OPERATOR_VIEW = Caller(account_id=0, account="", operator=True)  # sees all, prefers nothing

def may_place(session: Session, sub: Subnet, account_id: int) -> bool:
    """Whether `account_id` may put an interface in `sub`: its own subnet, or granted."""
    return sub.network.account_id == account_id or granted(session, sub, account_id)


def granted(session: Session, sub: Subnet, account_id: int) -> bool:
    """Whether the subnet's owner granted `account_id` interfaces in it (service.grants)."""
    return session.scalar(select(SubnetGrant.id).where(
        SubnetGrant.subnet_id == sub.id, SubnetGrant.account_id == account_id)) is not None


def management_owner(session: Session, sub: Subnet) -> str | None:
    """What has `sub` as its management subnet ("service NAME" or "load-balancer offer
    NAME"), or None. Such a subnet is provider internal: no appliance endpoint and no extra leg
    of a backend may be put in it (docs/composition.md, "Placement")."""
    svc = session.scalar(select(Service.name).where(Service.management_subnet_id == sub.id)
                         .order_by(Service.id).limit(1))
    if svc is not None:
        return f"service {svc}"
    lb = session.scalar(select(LoadBalancer.name).where(LoadBalancer.management_subnet_id ==
                                                        sub.id).order_by(LoadBalancer.id).limit(1))
    return f"load-balancer offer {lb}" if lb is not None else None


def data_user(session: Session, sub: Subnet) -> str | None:
    """Which service's backends carry data in `sub` ("the backend subnet of service NAME" or
    "an extra subnet of service NAME"), or None: such a subnet cannot be a management one."""
    svc = session.scalar(select(Service.name).where(Service.backend_subnet_id == sub.id)
                         .order_by(Service.id).limit(1))
    if svc is not None:
        return f"the backend subnet of service {svc}"
    svc = extra_subnet_of(session, sub)
    return f"an extra subnet of service {svc}" if svc is not None else None


def extra_subnet_of(session: Session, sub: Subnet) -> str | None:
    """The name of a service whose backends have an extra leg in `sub`, or None."""
    return session.scalar(select(Service.name).join(ServiceSubnet)
                          .where(ServiceSubnet.subnet_id == sub.id).order_by(Service.id)
                          .limit(1))


def visible_subnet(session: Session, caller: Caller, path: str, *,
                   where: str = "subnet", grants: bool = False) -> Subnet:
    """A subnet the caller may see: its own (any for the operator) or, with `grants`, one
    another account granted the caller interfaces in (placing interfaces only, never managing).
    A bare `network/subnet` is the caller's own first."""
    def visible(row: Subnet) -> bool:
        return caller.may_see(row.network.account_id) or (
            grants and granted(session, row, caller.account_id))
    return resolve(session, caller, _subnets(path, where=where), path,
                    owner=lambda r: r.network.account_id, visible=visible, kind="subnet",
                    where=where)


def instance(session: Session, caller: Caller, name: str, *, where: str = "instance",
             role: str | None = None, kind: str = "instance") -> Instance:
    """An instance or an appliance node the caller owns (any for the operator), of `role` only
    when given. A node's name is among its appliance's customer's names (`customer/docs-fe`),
    whoever runs it."""
    check_ref(name, kind, where)
    query = select(Instance).where(Instance.name == names.split_ref(name)[1])
    if role is not None:
        query = query.where(Instance.role == role)
    return resolve(session, caller, query.order_by(Instance.id), name,
                   owner=lambda r: r.name_scope_id, visible=lambda r: caller.may_see(r.account_id),
                   kind=kind, where=where, account_column=Instance.name_scope_id)


def service(session: Session, name: str, *, where: str = "service",
            caller: Caller | None = None) -> Service:
    """Services are offers: every account may see and use them. A bare name is the caller's own
    service when it offers one of that name (with `caller`), else the only one."""
    return _offer(session, caller, Service, name, "service", "appliance service", where)


def own_service(session: Session, caller: Caller, name: str, what: str) -> Service:
    """A service the caller may change `what` of. Offers are public: another provider's
    service exists, but only its provider (or the operator) changes it (403, not 404)."""
    row = service(session, name, caller=caller)
    if not caller.may_see(row.account_id):
        raise Forbidden(f"only the provider of service {name} may change {what}",
                        where="service")
    return row


def load_balancer(session: Session, caller: Caller | None, name: str, *,
                  where: str = "load_balancer") -> LoadBalancer:
    """A load-balancer offer: public like services; a bare name is the caller's own first."""
    return _offer(session, caller, LoadBalancer, name, "load-balancer offer",
                  "load-balancer offer", where)


def _offer(session: Session, caller: Caller | None, model: type[Offer], name: str, what: str,
           kind: str, where: str) -> Offer:
    """An offer (a service, a load-balancer offer): every account may see and use it; a bare
    name is the caller's own first (with `caller`), else the only one of that name."""
    check_ref(name, what, where)
    return resolve(session, caller or OPERATOR_VIEW, select(model).where(
        model.name == names.split_ref(name)[1]).order_by(model.id), name,
        owner=lambda r: r.account_id, visible=lambda r: True, kind=kind,
        where=where, account_column=model.account_id, own_first=caller is not None)


def appliance(session: Session, caller: Caller, name: str, *,
              where: str = "appliance", options: Sequence[ORMOption] = ()) -> Appliance:
    """An appliance its customer or its provider (or the operator) sees; named among its
    customer's names. `options`: loader options for what the caller reads of it next."""
    check_ref(name, "appliance", where)
    return resolve(session, caller, select(Appliance).options(*options).where(
        Appliance.name == names.split_ref(name)[1]).order_by(Appliance.id), name,
        owner=lambda r: r.account_id,
        visible=lambda r: caller.may_see(r.account_id, r.service.account_id),
        kind="appliance", where=where, account_column=Appliance.account_id)


def taken(session: Session, column: Any, scope: Any, account_id: int, name: str) -> bool:
    """Whether account `account_id` already has an object of that name (`column` its name,
    `scope` its account column): the only clash a create reports (409), never another's."""
    return session.scalar(select(column).where(column == name, scope == account_id)
                          .limit(1)) is not None
