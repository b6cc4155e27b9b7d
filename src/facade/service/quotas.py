"""Per-account quotas: counting what an account holds, checking a new allocation against its
limit, and reading and setting the limits (operator only).

`check` is called by the create and grow paths (networks, subnets, instances, appliances,
rescale, public IP allocation) inside the same `Context.write()` transaction that then allocates: the write lock
serialises the count and the insert, so parallel requests cannot overshoot. Objects on their way
out (status "deleting") no longer count. The operator account is never limited."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from facade.domain import quotas
from facade.domain.errors import Forbidden, Invalid
from facade.domain.states import ApplianceStatus, NodeRole, NodeStatus
from facade.readmodels.accounts import QuotaLine, QuotaRead
from facade.service import lookup
from facade.service.context import Caller, Context
from facade.store.models import Account, Appliance, Instance, Network, PublicIp, Quota, Subnet


def _counter(resource: str, account_id: int) -> Select[int]:
    count = select(func.count())
    if resource == "networks":
        return count.select_from(Network).where(Network.account_id == account_id)
    if resource == "subnets":
        return count.select_from(Subnet).join(Network).where(Network.account_id == account_id)
    if resource == "instances":
        return count.select_from(Instance).where(
            Instance.account_id == account_id, Instance.role == NodeRole.INSTANCE,
            Instance.status != NodeStatus.DELETING)
    if resource == "appliances":
        return count.select_from(Appliance).where(
            Appliance.account_id == account_id, Appliance.status != ApplianceStatus.DELETING)
    if resource == "backends":  # the provider's nodes, counted against their customer
        return count.select_from(Instance).join(
            Appliance, Instance.appliance_id == Appliance.id).where(
            Appliance.account_id == account_id, Instance.role == NodeRole.BACKEND,
            Instance.status != NodeStatus.DELETING)
    if resource == "public_ips":  # standard addresses come with instances: not counted
        return count.select_from(PublicIp).where(PublicIp.account_id == account_id,
                                                 PublicIp.standard.is_(False))
    raise ValueError(resource)


def used(session: Session, account: Account, resource: str) -> int:
    return session.scalar(_counter(resource, account.id)) or 0


def limits(session: Session, account: Account) -> dict[str, int | None]:
    """The limit of every resource: what the operator set, else the default; None for the
    operator account (not limited)."""
    if account.operator:
        return dict.fromkeys(quotas.RESOURCES)
    result: dict[str, int | None] = dict(quotas.DEFAULTS)
    for row in session.scalars(select(Quota).where(Quota.account_id == account.id)):
        if row.resource in result:
            result[row.resource] = row.limit
    return result


def check(session: Session, account: Account, resource: str, adding: int = 1, *,
          where: str | None = None) -> None:
    """Raise QuotaExceeded (409) if `account` may not hold `adding` more of `resource`. Call it
    inside the write transaction that then adds them."""
    if account.operator or adding <= 0:
        return
    row = session.scalar(select(Quota).where(Quota.account_id == account.id,
                                             Quota.resource == resource))
    limit = row.limit if row is not None else quotas.DEFAULTS[resource]
    quotas.check(account.name, resource, limit, used(session, account, resource), adding,
                 where=where)


def _view(session: Session, account: Account) -> QuotaRead:
    set_here = set(session.scalars(select(Quota.resource).where(
        Quota.account_id == account.id)))
    return QuotaRead(account=account.name, operator=account.operator, quotas={
        resource: QuotaLine(limit=limit, used=used(session, account, resource),
                            default=resource not in set_here)
        for resource, limit in limits(session, account).items()})


def get(ctx: Context, caller: Caller, name: str) -> QuotaRead:
    """Limits and usage of an account; the account itself and the operator may read them."""
    with ctx.read() as session:
        return _view(session, lookup.visible_account(session, caller, name))


def set_(ctx: Context, caller: Caller, name: str,
         values: dict[str, int | None]) -> QuotaRead:
    """Set some limits of an account (operator only): a resource left out keeps its limit, None
    brings back the default. A limit below what the account holds is allowed: nothing is
    removed, but new allocations of that resource are refused until usage is under it."""
    with ctx.write() as session:
        account = lookup.visible_account(session, caller, name)
        if not caller.operator:
            raise Forbidden("only the operator may set quotas", where="account")
        if account.operator:
            raise Invalid("the operator account is not limited by quotas", where="account")
        checked = {resource: None if value is None else quotas.check_limit(resource, value)
                   for resource, value in values.items()}
        rows = {row.resource: row for row in session.scalars(
            select(Quota).where(Quota.account_id == account.id))}
        for resource, value in checked.items():
            row = rows.get(resource)
            if value is None:
                if row is not None:
                    session.delete(row)
            elif row is None:
                session.add(Quota(account_id=account.id, resource=resource, limit=value))
            else:
                row.limit = value
        if checked:
            said = ", ".join(f"{r} {'default' if v is None else v}" for r, v in checked.items())
            ctx.event(session, "quota.set", name, f"quotas of account {name}: {said}",
                      account.id)
        session.flush()
        return _view(session, account)
