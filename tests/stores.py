"""A store for a test: a copy of an empty store migrated once per test process.

Migrating a new SQLite store through every revision costs about 0.2 s, and most unit and
service tests (and every API fuzzing case) open one; a copy of a store at the newest revision
opens in a few milliseconds (Context.open finds nothing to migrate). The migrations themselves
are tested from an empty store in tests/unit/test_migrations.py, and every control plane the
kernel tests start migrates its own.

With FACADE_TEST_STORE=postgresql the same tests run on PostgreSQL: a server of this process
(tests/pg.py), one database migrated once and used as the template of a new database per store
(`CREATE DATABASE ... TEMPLATE`, about 60 ms), dropped after the test that closed it
(tests/conftest.py).
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
from pathlib import Path

from facade.dataplane.fake import FakeDataPlane
from facade.dataplane.protocol import DataPlane
from facade.service.context import Context
from facade.store import db
from tests import pg

STORE = os.environ.get("FACADE_TEST_STORE", "sqlite")
if STORE not in ("sqlite", "postgresql"):
    raise SystemExit(f"FACADE_TEST_STORE={STORE!r}: sqlite or postgresql")
TEMPLATE = "facade_migrated"

_template: Path | None = None
_server: pg.Server | None = None
_numbers = itertools.count(1)
_made: list[str] = []  # PostgreSQL databases made and not dropped yet


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
        _server = started
    return _server


def postgresql_url(*, migrated: bool = True, dropped: bool = True) -> str:
    """A new PostgreSQL database, empty, at the newest revision or (not `migrated`) at none;
    drop_made drops it (`dropped`), else it lasts as long as the server."""
    name = f"t{os.getpid()}_{next(_numbers)}"
    server().admin(f"CREATE DATABASE {name}" + (f" TEMPLATE {TEMPLATE}" if migrated else ""))
    if dropped:
        _made.append(name)
    return server().url(name)


def drop_made() -> None:
    """Drop the databases made so far that nothing is connected to any more: a test's store
    once its engine was disposed; one of a fixture of a wider scope lives on until it is."""
    if not _made:
        return
    assert _server is not None
    names = ", ".join(f"'{name}'" for name in _made)
    idle = {row[0] for row in _server.admin(
        f"SELECT datname FROM pg_database d WHERE datname IN ({names}) AND NOT EXISTS "
        "(SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)")}
    for name in idle:
        _server.admin(f"DROP DATABASE IF EXISTS {name}")
        _made.remove(name)


def open_context(home: Path, dataplane: DataPlane) -> Context:
    """Context.open on a store copied from the migrated template (FACADE_TEST_STORE's kind)."""
    home.mkdir(parents=True, exist_ok=True)
    if STORE == "postgresql":
        return Context.open(home, dataplane, postgresql_url())
    target = Path(db.sqlite_url(home).removeprefix("sqlite:///"))
    if not target.exists():
        shutil.copyfile(_migrated(), target)
    return Context.open(home, dataplane)
