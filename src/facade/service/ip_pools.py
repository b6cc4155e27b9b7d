"""The operator's pools of public addresses (docs/edge.md): adding and listing them, and the
next free address for a standard or customer public IP. The first pool, 203.0.113.0/24, is
there from the first use."""

from __future__ import annotations

import ipaddress

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facade.domain import edge
from facade.domain.errors import Forbidden
from facade.domain.paging import FIRST, PageRequest
from facade.readmodels.edge import PoolPage, PoolRead
from facade.service import paging
from facade.service.context import Caller, Context
from facade.store.models import IpPool, PublicIp


def _pools(session: Session) -> list[IpPool]:
    return list(session.scalars(select(IpPool).order_by(IpPool.id)))


def _ensure_default_pool(session: Session) -> None:
    if session.scalar(select(IpPool.id).limit(1)) is None:
        session.add(IpPool(cidr=edge.DEFAULT_POOL))
        session.flush()


def pool_view(row: IpPool, used: int) -> PoolRead:
    size = ipaddress.IPv4Network(row.cidr).num_addresses - 2
    return PoolRead(cidr=row.cidr, used=used, capacity=size)


def _used(session: Session) -> dict[int, int]:
    """Addresses in use per pool id."""
    rows = session.execute(select(PublicIp.pool_id, func.count()).group_by(PublicIp.pool_id))
    return {pool_id: n for pool_id, n in rows}


def add_pool(ctx: Context, caller: Caller, cidr: str) -> PoolRead:
    if not caller.operator:
        raise Forbidden("only the operator adds public address pools", where="cidr")
    with ctx.write() as session:
        _ensure_default_pool(session)
        text = edge.check_pool(cidr, [p.cidr for p in _pools(session)])
        row = IpPool(cidr=text)
        session.add(row)
        ctx.event(session, "pool.added", text, f"public address pool {text} added",
                  caller.account_id)
        session.flush()
        return pool_view(row, 0)


POOLS = paging.by_id("ip-pools", IpPool.id)


def list_pools(ctx: Context, caller: Caller, page: PageRequest = FIRST) -> PoolPage:
    if not caller.operator:
        raise Forbidden("only the operator sees the public address pools", where="pools")
    with ctx.write() as session:
        _ensure_default_pool(session)
    with ctx.read() as session:
        rows, cursor = paging.objects(session, select(IpPool), POOLS, page, lambda r: (r.id,))
        used = _used(session)
        return PoolPage.of([pool_view(p, used.get(p.id, 0)) for p in rows], cursor)


def take(session: Session) -> tuple[str, IpPool]:
    """The next free public address and its pool (the default pool made first if none)."""
    _ensure_default_pool(session)
    pools = _pools(session)
    taken = set(session.scalars(select(PublicIp.address)))
    address = edge.next_public([p.cidr for p in pools], taken)
    pool = next(p for p in pools if _in(address, p.cidr))
    return address, pool


def _in(address: str, cidr: str) -> bool:
    return ipaddress.IPv4Address(address) in ipaddress.IPv4Network(cidr)
