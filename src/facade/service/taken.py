"""The addresses taken in each subnet, kept between write transactions for
`instances.allocate`: reading a subnet's every address at each creation made an appliance's
creation cost grow with the number of nodes in its subnets (13.7 ms of CPU at 10 appliances,
20.7 ms at 450: bench/create_cost.py), where the change is four addresses.

What is kept is checked, not trusted: a subnet's interfaces are counted and their highest id
read (one indexed query) before anything kept is used. Ids are never reused (the table
autoincrements) and every write transaction holds the store's write lock (Context.write, and
the advisory lock on PostgreSQL), so an interface made since has a higher id than any kept,
and one removed since lowers the count: the kept addresses plus those of the interfaces above
the kept id must be as many as the count, else the subnet is read whole again. A transaction
that rolls back leaves a count or an id that no longer matches, so nothing it saw is used.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facade.domain.ipam import Taken
from facade.store.models import Interface


@dataclass(frozen=True)
class _Kept:
    count: int  # the subnet's interfaces when read
    last: int  # their highest id (0: none)
    values: frozenset[int]  # their addresses, as numbers (ipam.Taken's)


_KEPT: weakref.WeakKeyDictionary[Any, dict[int, _Kept]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def read(session: Session, subnet_id: int) -> Taken:
    """The addresses taken in the subnet now, as this transaction sees them."""
    store = session.get_bind()  # a store's engine: what is kept is that store's
    mine = Interface.subnet_id == subnet_id
    count, last = session.execute(select(func.count(Interface.id), func.max(Interface.id))
                                  .where(mine)).one()
    last = last or 0
    with _LOCK:
        kept = _KEPT.get(store, {}).get(subnet_id)
    if kept is not None and (kept.count, kept.last) == (count, last):
        return Taken.of_values(set(kept.values))
    taken = None
    if kept is not None and count > kept.count and last > kept.last:  # made since, only?
        taken = Taken.of_values(set(kept.values))
        for ip in session.scalars(select(Interface.ip).where(mine, Interface.id > kept.last)):
            taken.add(ip)
        if len(taken) != count:
            taken = None  # some went meanwhile too
    if taken is None:
        taken = Taken(session.scalars(select(Interface.ip).where(mine)))
    with _LOCK:
        _KEPT.setdefault(store, {})[subnet_id] = _Kept(count, last, frozenset(taken.values))
    return taken
