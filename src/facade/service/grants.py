"""Subnet grants: the owner of a subnet lets another account give its instances interfaces in
it (docs/composition.md, "Cross-account interfaces"). Only the owner (or the operator) grants,
lists every grant and revokes; a grantee sees its own grant; anyone else gets the 404 of a
subnet that does not exist. Revoking blocks new interfaces; existing ones keep working, and the
answer and the event name the instances that still use the subnet."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from facade.domain.errors import Conflict, Forbidden, Invalid, NotFound
from facade.domain.paging import FIRST, PageRequest
from facade.readmodels.networks import GrantPage, GrantRead, GrantRevoked
from facade.service import lookup, paging
from facade.service.context import Caller, Context
from facade.store.models import Account, Instance, Interface, Subnet, SubnetGrant


def _owned_subnet(session: Session, caller: Caller, path: str) -> Subnet:
    """The subnet, for its owner or the operator; a grantee is told it may not, others 404."""
    sub = lookup.visible_subnet(session, caller, path, grants=True)
    if not caller.may_see(sub.network.account_id):
        raise Forbidden(f"only account {sub.network.account.name} (the owner of subnet {path}) "
                        "grants and revokes interfaces in it", where="subnet")
    return sub


def users(session: Session, sub: Subnet, account_id: int) -> list[str]:
    """Names of the grantee's instances (and nodes) with an interface in the subnet."""
    return sorted(set(session.scalars(select(Instance.name).join(Interface).where(
        Interface.subnet_id == sub.id, Instance.account_id == account_id))))


def _view(session: Session, row: SubnetGrant, used_by: list[str] | None = None) -> GrantRead:
    """A grant; `used_by` when the caller read it already (a page of grants)."""
    return GrantRead(subnet=row.subnet.path, account=row.account.name,
                     created_at=row.created_at.isoformat(),
                     used_by=users(session, row.subnet, row.account_id) if used_by is None
                     else used_by)


def _find(session: Session, sub: Subnet, grantee: Account) -> SubnetGrant | None:
    return session.scalar(select(SubnetGrant).where(
        SubnetGrant.subnet_id == sub.id, SubnetGrant.account_id == grantee.id))


def add(ctx: Context, session: Session, caller: Caller, path: str, account: str) -> SubnetGrant:
    sub = _owned_subnet(session, caller, path)
    grantee = lookup.account(session, account)
    if grantee.id == sub.network.account_id:
        raise Invalid(f"account {account} owns subnet {path}; it needs no grant",
                      where="account")
    if _find(session, sub, grantee) is not None:
        raise Conflict(f"account {account} already has a grant on subnet {path}",
                       where="account")
    row = SubnetGrant(subnet=sub, account=grantee)
    session.add(row)
    session.flush()
    ctx.event(session, "subnet.granted", path,
              f"account {account} may now give its instances interfaces in {path}",
              account=sub.network.account_id)
    return row


def remove(ctx: Context, session: Session, caller: Caller, path: str,
           account: str) -> GrantRevoked:
    sub = _owned_subnet(session, caller, path)
    grantee = lookup.account(session, account)
    row = _find(session, sub, grantee)
    if row is None:
        raise NotFound(f"account {account} has no grant on subnet {path}", where="account")
    still = users(session, sub, grantee.id)
    session.delete(row)
    message = f"grant of {path} to {account} revoked; no new interfaces"
    if still:
        message += (f"; still used by {', '.join(still)} (their interfaces keep working until "
                    "they are deleted)")
    ctx.event(session, "subnet.revoked", path, message, sub.network.account_id)
    return GrantRevoked(subnet=path, account=account, still_used_by=still, message=message)


def grant(ctx: Context, caller: Caller, path: str, account: str) -> GrantRead:
    with ctx.write() as session:
        return _view(session, add(ctx, session, caller, path, account))


def revoke(ctx: Context, caller: Caller, path: str, account: str) -> GrantRevoked:
    with ctx.write() as session:
        return remove(ctx, session, caller, path, account)


ORDER = paging.by_id("grants", SubnetGrant.id)


def list_(ctx: Context, caller: Caller, path: str,
          page: PageRequest = FIRST) -> GrantPage:
    """A page of the subnet's grants: all for its owner and the operator, a grantee's own."""
    with ctx.read() as session:
        sub = lookup.visible_subnet(session, caller, path, grants=True)
        query = (select(SubnetGrant).where(SubnetGrant.subnet_id == sub.id)
                 .options(joinedload(SubnetGrant.account)))
        if not caller.may_see(sub.network.account_id):
            query = query.where(SubnetGrant.account_id == caller.account_id)
        rows, cursor = paging.objects(session, query, ORDER, page, lambda r: (r.id,))
        using: dict[int, set[str]] = {r.account_id: set() for r in rows}
        if using:  # the grantees' instances in the subnet, for every grant of the page at once
            for name, account_id in session.execute(
                    select(Instance.name, Instance.account_id).join(Interface).where(
                        Interface.subnet_id == sub.id, Instance.account_id.in_(list(using)))):
                using[account_id].add(name)
        return GrantPage.of([_view(session, r, sorted(using[r.account_id])) for r in rows],
                             cursor)
