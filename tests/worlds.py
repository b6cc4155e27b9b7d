"""A world seeded once per test process and copied per test, instead of seeded per test.

Seeding a world through the API (accounts, networks, a service, an instance...) costs a test
0.2-0.6 s of CPU, most of it the controller bringing the world to ready; a copy costs a few
milliseconds, and the controller started on it finds nothing to do. `save` keeps a settled
world, its controller stopped: its store (tests/stores.py's `save`: a file copied on SQLite,
a template database on PostgreSQL), the other files of its state folder and the fake driver's
state; `copied` opens a copy of all three. The fake's specs may name files of the state folder
(a management agent's configuration), so a copy lives in the saved world's own folder (emptied
first: one test at a time per process uses it) unless the fake names none of them.

Used by the API fuzzing (tests/service/test_api_fuzz.py's `seeded`) and the service tests'
`world` fixture (tests/service/conftest.py). `rows` and `kernel` say what a world holds, for
the tests that hold a copy to a world seeded afresh (test_api_fuzz.py, test_saved_worlds.py).
"""

from __future__ import annotations

import copy
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import select

from facade.dataplane.fake import FakeDataPlane
from facade.service.context import Context
from facade.store.models import Base
from tests import stores

# what the controller's timers write, every 2 s from its start in any world (usage, meter
# readings, the agents' polls' events): not a reconcile's doing
TIMERS_TABLES = {"usage_records", "meter_readings", "edge_holdings", "edge_usage"}


@dataclass(frozen=True)
class Saved:
    """A settled world, saved (`save`)."""

    home: Path  # the state folder it was seeded in
    files: Path  # that folder's files, the store's aside
    store: stores.Saved
    dataplane: FakeDataPlane  # the fake's state as the seeding left it

    @property
    def names_home(self) -> bool:
        """The fake's state names files of the state folder: copies must live in `home`."""
        return str(self.home) in repr(self.dataplane)


def save(ctx: Context, folder: Path) -> Saved:
    """`ctx`'s world, for copies; its controller must be stopped (nothing may write any more),
    and the context is done with (tests/stores.py's `save` disposes its engine)."""
    store = stores.save(ctx)
    files = folder / "saved-world"
    shutil.copytree(ctx.home, files, ignore=shutil.ignore_patterns("facade.db*"))
    return Saved(ctx.home, files, store, copy.deepcopy(cast(FakeDataPlane, ctx.dataplane)))


def copied(saved: Saved, home: Path | None = None) -> Context:
    """A copy of the saved world, opened: in `home` when the fake names no file of the saved
    world's folder, else in that folder (what a test before left there goes)."""
    if home is None or saved.names_home:
        home = saved.home
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(saved.files, home)
    return stores.open_context(home, copy.deepcopy(saved.dataplane), saved.store)


def rows(ctx: Context) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, but the timers'."""
    with ctx.read() as s:
        return {table.name: sorted((tuple(row) for row in s.execute(select(table))
                                    if not (table.name == "events"
                                            and row.kind.startswith("management."))), key=repr)
                for table in Base.metadata.sorted_tables if table.name not in TIMERS_TABLES}


def kernel(dataplane: FakeDataPlane) -> dict[str, Any]:
    """What the fake driver holds as the kernel would (what `calls` does not say), copied."""
    return copy.deepcopy({"observed": dataplane.observe(), "backends": dataplane.backends,
                          "hosts": dataplane.hosts, "counters": dataplane.counters,
                          "port_rules": dataplane.port_rules})
