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

`uses()` counts what a test did with any store (a connection taken from any engine's pool, a
PostgreSQL database asked for): tests/conftest.py holds a module marked `no_store` to none.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
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
_migrated_made: set[str] = set()  # of those, the copies of the template (recyclable)
_free: list[str] = []  # recycled databases, as the template is, for the next stores
_pristine: pgreset.Pristine | None = None  # what a recycled database must be again
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
    global _server, _pristine
    if _server is None:
        started = pg.start()
        started.admin(f"CREATE DATABASE {TEMPLATE}")
        engine = db.make_engine(started.url(TEMPLATE))
        db.migrate(engine)
        engine.dispose()  # a template must have no connections when it is copied
        _pristine = pgreset.Pristine.of(started, TEMPLATE)
        _server = started
    return _server


def postgresql_url(*, migrated: bool = True, dropped: bool = True) -> str:
    """A PostgreSQL database of its own, empty, at the newest revision or (not `migrated`) at
    none; drop_made recycles or drops it (`dropped`), else it lasts as long as the server."""
    _used()
    if migrated and dropped and _free:
        name = _free.pop()
    else:
        name = f"t{os.getpid()}_{next(_numbers)}"
        server().admin(f"CREATE DATABASE {name}" + (f" TEMPLATE {TEMPLATE}" if migrated else ""))
    if dropped:
        _made.append(name)
        if migrated:
            _migrated_made.add(name)
    return server().url(name)


def drop_made() -> None:
    """Recycle (or drop) the databases handed out so far that nothing is connected to any
    more: a test's store once its engine was disposed; one of a fixture of a wider scope lives
    on until it is."""
    if not _made:
        return
    assert _server is not None and _pristine is not None
    names = ", ".join(f"'{name}'" for name in _made)
    idle = {row[0] for row in _server.admin(
        f"SELECT datname FROM pg_database d WHERE datname IN ({names}) AND NOT EXISTS "
        "(SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)")}
    for name in idle:
        _made.remove(name)
        if name in _migrated_made and _pristine.restore(_server, name):
            _free.append(name)
        else:
            _server.admin(f"DROP DATABASE IF EXISTS {name}")
        _migrated_made.discard(name)


def open_context(home: Path, dataplane: DataPlane) -> Context:
    """Context.open on a store copied from the migrated template (FACADE_TEST_STORE's kind)."""
    home.mkdir(parents=True, exist_ok=True)
    if STORE == "postgresql":
        return Context.open(home, dataplane, postgresql_url())
    target = Path(db.sqlite_url(home).removeprefix("sqlite:///"))
    if not target.exists():
        shutil.copyfile(_migrated(), target)
    return Context.open(home, dataplane)
