"""Keyset paging in SQL, for every list read of the service layer (docs/api.md, "Paging").

A page is one query: the list's visibility rule in its WHERE clause, `ORDER BY` a stable key
(the primary key for most lists), `key > last key of the page before`, `LIMIT limit + 1`; the
extra row only says whether there is a next page. So a page costs the same whether the store
holds ten objects or ten thousand, a caller never sees another tenant's objects (nor a short
page where they were), and an object created or deleted meanwhile does not shift the pages
(each item is answered once, in order, unless it was deleted first). Cursors are
domain.paging's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.orm import Session

from facade.domain import names, paging
from facade.domain.paging import Key, KeyPart, PageRequest
from facade.service.context import Caller
from facade.store.models import Account

T = TypeVar("T")


@dataclass(frozen=True)
class Order:
    """How one list is ordered: its name in cursors, its sort key's columns (unique together)
    and their Python types, ascending or descending."""

    kind: str
    columns: tuple[Any, ...]
    shape: tuple[type[KeyPart], ...]
    descending: bool = False


def after(order: Order, key: Key) -> ColumnElement[bool]:
    """Rows after `key` in `order`: (a, b) > (x, y) written out as a > x OR (a = x AND b > y),
    which every database understands (and one key is just a > x)."""
    clauses: list[ColumnElement[bool]] = []
    for i, (column, value) in enumerate(zip(order.columns, key, strict=True)):
        beyond = column < value if order.descending else column > value
        same = [c == v for c, v in zip(order.columns[:i], key[:i], strict=True)]
        clauses.append(and_(*same, beyond) if same else beyond)
    return or_(*clauses)


def _window(query: Select[Any], order: Order, req: PageRequest) -> Select[Any]:
    start = req.after(order.kind, order.shape)
    if start is not None:
        query = query.where(after(order, start))
    by = [c.desc() if order.descending else c.asc() for c in order.columns]
    return query.order_by(*by).limit(req.limit + 1)


def _cut(rows: Sequence[T], order: Order, req: PageRequest,
         key_of: Callable[[T], Key]) -> tuple[list[T], str | None]:
    page = list(rows[:req.limit])
    more = len(rows) > req.limit
    return page, paging.encode(order.kind, key_of(page[-1])) if more else None


def objects(session: Session, query: Select[T], order: Order, req: PageRequest,
            key_of: Callable[[T], Key]) -> tuple[list[T], str | None]:
    """One page of the ORM objects `query` selects, and the cursor of the next (None: last)."""
    rows = session.scalars(_window(query, order, req)).all()
    return _cut(rows, order, req, key_of)


def rows(session: Session, query: Select[Any], order: Order,
         req: PageRequest) -> tuple[list[Any], str | None]:
    """One page of the rows `query` selects (its first columns are the sort key's)."""
    found = session.execute(_window(query, order, req)).all()
    return _cut(found, order, req, lambda r: tuple(r[:len(order.columns)]))


def computed(items: Sequence[T], order: Order, req: PageRequest,
             key_of: Callable[[T], Key]) -> tuple[list[T], str | None]:
    """One page of items computed in memory (not one query's rows; e.g. usage summed over a
    period), ordered by `key_of` as `order` says, and the cursor of the next (None: last)."""
    start = req.after(order.kind, order.shape)
    ordered = sorted(items, key=key_of, reverse=order.descending)
    if start is not None:
        ordered = [i for i in ordered
                   if (key_of(i) < start if order.descending else key_of(i) > start)]
    return _cut(ordered[:req.limit + 1], order, req, key_of)


def by_id(kind: str, id_column: Any) -> Order:
    """The usual order: by primary key, oldest first."""
    return Order(kind=kind, columns=(id_column,), shape=(int,))


def seen_by(caller: Caller, *account_ids: Any) -> list[ColumnElement[bool]]:
    """`Caller.may_see` as SQL: rows whose account columns name the caller (for the operator,
    no condition)."""
    if caller.operator:
        return []
    return [or_(*(column == caller.account_id for column in account_ids))]


def owned_by(column: Any, account: str | None) -> list[ColumnElement[bool]]:
    """A list's `?account=` filter as SQL: rows of that account (a name nothing has, or one
    the caller cannot see, matches nothing the caller would see anyway: an empty page, never a
    hint); no condition without it. A name no account could have is a 400 naming `account`."""
    if account is None:
        return []
    names.check_name(account, kind="account", where="account")
    return [column.in_(select(Account.id).where(Account.name == account))]

