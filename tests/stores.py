"""A store for a test: a copy of an empty store migrated once per test process.

Migrating a new SQLite store through every revision costs about 0.2 s, and most unit and
service tests (and every API fuzzing case) open one; a copy of a store at the newest revision
opens in a few milliseconds (Context.open finds nothing to migrate). The migrations themselves
are tested from an empty store in tests/unit/test_migrations.py, and every control plane the
kernel tests start migrates its own.

With FACADE_TEST_STORE=postgresql the same tests run on PostgreSQL: a server of this process
(tests/pg.py), one database migrated once and used as the template of the databases the stores
get (`CREATE DATABASE ... TEMPLATE`, 45-90 ms on a quiet machine, and 20 ms to drop). A
database a test is done with (nothing connected to it any more, tests/conftest.py) is emptied
back to the template's rows and sequences (tests/pgreset.py) and handed to the next test; one
whose schema is no longer the template's (a test's own DDL, a restore into it) is dropped
instead. docs/postgresql.md, "Tests", has the figures.

A store a test's world was seeded into can be saved (`save`) and opened again as many times
as wanted (`open_context(..., saved=...)`): on SQLite a copy of its file, on PostgreSQL a
database made from it as from the migrated template (`CREATE DATABASE ... TEMPLATE`, or one
handed on, emptied back to the saved rows and sequences). tests/service/test_api_fuzz.py seeds
its world once per process this way.

`uses()` counts what a test did with any store (a connection taken from any engine's pool, a
PostgreSQL database asked for): tests/conftest.py holds a module marked `no_store` to none.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.pool import Pool

from facade.dataplane.fake import FakeDataPlane
from facade.dataplane.protocol import DataPlane
from facade.service.context import Context
from facade.store import db
from tests import pg, pgreset

STORE = os.environ.get("FACADE_TEST_STORE", "sqlite")
if STORE not in ("sqlite", "postgresql"):
    raise SystemExit(f"FACADE_TEST_STORE={STORE!r}: sqlite or postgresql")
TEMPLATE = "facade_migrated"

_template: Path | None = None
_server: pg.Server | None = None
_numbers = itertools.count(1)
_made: list[str] = []  # PostgreSQL databases handed out and not recycled or dropped yet
# of those, the copies of a template (recyclable): name -> its template (TEMPLATE or a saved one)
_made_from: dict[str, str] = {}
# template -> recycled databases, as the template is, for the next stores
_free: defaultdict[str, list[str]] = defaultdict(list)
_pristine: dict[str, pgreset.Pristine] = {}  # template -> what a recycled copy must be again
_uses = [0]  # connections checked out of any engine's pool, and PostgreSQL databases asked for


def _used(*_: object) -> None:
    _uses[0] += 1


event.listen(Pool, "checkout", _used)  # every pool of every engine, SQLite's and PostgreSQL's


def uses() -> int:
    """How many times this process used a store so far (any kind, any engine)."""
    return _uses[0]


def _migrated() -> Path:
    """The empty migrated store of this process, made at its first use."""
    global _template
    if _template is None:
        folder = Path(tempfile.mkdtemp(prefix="facade-test-store-"))
        atexit.register(shutil.rmtree, folder, True)
        Context.open(folder, FakeDataPlane()).engine.dispose()
        _template = folder / "facade.db"
    return _template


def server() -> pg.Server:
    """This process's PostgreSQL server, with the migrated template database, started at its
    first use."""
    global _server
    if _server is None:
        started = pg.start()
        started.admin(f"CREATE DATABASE {TEMPLATE}")
        engine = db.make_engine(started.url(TEMPLATE))
        db.migrate(engine)
        engine.dispose()  # a template must have no connections when it is copied
        _pristine[TEMPLATE] = pgreset.Pristine.of(started, TEMPLATE)
        _server = started
    return _server


def postgresql_url(*, migrated: bool = True, dropped: bool = True,
                   template: str = TEMPLATE) -> str:
    """A PostgreSQL database of its own, empty, at the newest revision or (not `migrated`) at
    none; drop_made recycles or drops it (`dropped`), else it lasts as long as the server.
    `template`: a saved store's database (`save`) to copy instead of the empty one."""
    _used()
    if migrated and dropped and _free[template]:
        name = _free[template].pop()
    else:
        name = f"t{os.getpid()}_{next(_numbers)}"
        server().admin(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if migrated else ""))
    if dropped:
        _made.append(name)
        if migrated:
            _made_from[name] = template
    return server().url(name)


def drop_made() -> None:
    """Recycle (or drop) the databases handed out so far that nothing is connected to any
    more: a test's store once its engine was disposed; one of a fixture of a wider scope lives
    on until it is."""
    if not _made:
        return
    assert _server is not None
    for name in _idle(_made):
        _made.remove(name)
        template = _made_from.pop(name, None)
        if template is not None and _pristine[template].restore(_server, name):
            _free[template].append(name)
        else:
            _server.admin(f"DROP DATABASE IF EXISTS {name}")


def _idle(names: list[str]) -> set[str]:
    """Those of the databases `names` that nothing is connected to."""
    listed = ", ".join(f"'{name}'" for name in names)
    return {row[0] for row in server().admin(
        f"SELECT datname FROM pg_database d WHERE datname IN ({listed}) AND NOT EXISTS "
        "(SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)")}


@dataclass(frozen=True)
class Saved:
    """A store as a test's world left it (`save`): on SQLite a copy of its file, on PostgreSQL
    a template database."""

    file: Path | None = None
    database: str | None = None


def save(ctx: Context) -> Saved:
    """`ctx`'s store as it is now, for `open_context(..., saved=...)` to open copies of; the
    context is done with (its engine disposed). Stop its controller first: nothing may write
    meanwhile."""
    ctx.engine.dispose()
    name = ctx.engine.url.database
    assert name is not None
    if ctx.engine.url.get_backend_name() == "postgresql":
        # a template now: never recycled nor dropped (it lasts as long as the server)
        _made.remove(name)
        _made_from.pop(name, None)
        # a closed connection's server process ends a moment after the close, and a
        # database something is connected to cannot be copied
        deadline = time.monotonic() + 10
        while name not in _idle([name]):
            assert time.monotonic() < deadline, f"{name} still has connections"
            time.sleep(0.01)
        _pristine[name] = pgreset.Pristine.of(server(), name)
        return Saved(database=name)
    store = Path(name)
    # the last connection closed checkpoints the WAL into the file and removes it
    assert not Path(f"{store}-wal").exists(), f"{store}: a write-ahead log is left"
    folder = Path(tempfile.mkdtemp(prefix="facade-test-saved-"))
    atexit.register(shutil.rmtree, folder, True)
    shutil.copyfile(store, folder / store.name)
    return Saved(file=folder / store.name)


def open_context(home: Path, dataplane: DataPlane, saved: Saved | None = None) -> Context:
    """Context.open on a store copied from the migrated template (FACADE_TEST_STORE's kind),
    or from a `saved` store (a SQLite store already in `home` is replaced by its copy)."""
    home.mkdir(parents=True, exist_ok=True)
    if STORE == "postgresql":
        template = TEMPLATE if saved is None else saved.database
        assert template is not None, "a store saved on SQLite, opened on PostgreSQL"
        return Context.open(home, dataplane, postgresql_url(template=template))
    target = Path(db.sqlite_url(home).removeprefix("sqlite:///"))
    if saved is not None:
        assert saved.file is not None, "a store saved on PostgreSQL, opened on SQLite"
        for left in (Path(f"{target}-wal"), Path(f"{target}-shm")):
            left.unlink(missing_ok=True)
        shutil.copyfile(saved.file, target)
    elif not target.exists():
        shutil.copyfile(_migrated(), target)
    return Context.open(home, dataplane)
