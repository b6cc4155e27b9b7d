"""Finding objects by the names users write, with the visibility rule: what a caller may not
see does not exist for it (404, never 403, so names of other tenants do not leak)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

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


def network(session: Session, caller: Caller, name: str, *, where: str = "network") -> Network:
    row = session.scalar(select(Network).where(Network.name == name))
    if row is None or not caller.may_see(row.account_id) or row.kind == "site":
        # a customer site is a network of its own kind, reached as a site (service/sites.py)
        raise NotFound(f"network {name!r} does not exist", where=where)
    return row


def split_subnet_path(path: str, *, where: str) -> tuple[str, str]:
    parts = path.split("/") if isinstance(path, str) else []
    if len(parts) != 2 or not all(parts):
        raise Invalid(f"subnet {path!r} must be written NETWORK/SUBNET", where=where)
    return parts[0], parts[1]


def subnet(session: Session, path: str, *, where: str = "subnet") -> Subnet:
    """A subnet by `network/subnet`, whoever owns it (callers check permission themselves)."""
    net_name, sub_name = split_subnet_path(path, where=where)
    row = session.scalar(select(Subnet).join(Network).where(
        Network.name == net_name, Subnet.name == sub_name, Network.kind != "site"))
    if row is None:
        raise NotFound(f"subnet {path!r} does not exist", where=where)
    return row


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
    another account granted the caller interfaces in (placing interfaces only, never managing)."""
    row = subnet(session, path, where=where)
    if not caller.may_see(row.network.account_id) and not (
            grants and granted(session, row, caller.account_id)):
        raise NotFound(f"subnet {path!r} does not exist", where=where)
    return row


def instance(session: Session, caller: Caller, name: str, *, where: str = "instance") -> Instance:
    row = session.scalar(select(Instance).where(Instance.name == name))
    if row is None or not caller.may_see(row.account_id):
        raise NotFound(f"instance {name!r} does not exist", where=where)
    return row


def service(session: Session, name: str, *, where: str = "service") -> Service:
    """Services are offers: every account may see and use them."""
    row = session.scalar(select(Service).where(Service.name == name))
    if row is None:
        raise NotFound(f"appliance service {name!r} does not exist", where=where)
    return row


def own_service(session: Session, caller: Caller, name: str, what: str) -> Service:
    """A service the caller may change `what` of. Offers are public: another provider's
    service exists, but only its provider (or the operator) changes it (403, not 404)."""
    row = service(session, name)
    if not caller.may_see(row.account_id):
        raise Forbidden(f"only the provider of service {name} may change {what}",
                        where="service")
    return row


def appliance(session: Session, caller: Caller, name: str, *,
              where: str = "appliance") -> Appliance:
    row = session.scalar(select(Appliance).where(Appliance.name == name))
    if row is None or not caller.may_see(row.account_id, row.service.account_id):
        raise NotFound(f"appliance {name!r} does not exist", where=where)
    return row
