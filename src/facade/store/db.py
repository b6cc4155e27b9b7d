"""The database: engine and sessions for a state folder, migrated to head with Alembic at start.

SQLite by default (`$FACADE_HOME/facade.db`, WAL, a busy timeout so the API threads and the
reconciler can share it); a PostgreSQL URL (`postgresql://...`, driven by psycopg 3) replaces it
(docs/postgresql.md).

Every transaction, reads included, is a real SQLite transaction (`BEGIN` ... `COMMIT` or
`ROLLBACK`), so a read sees one snapshot from its first statement to its end. The Python
driver's own transaction handling would run each SELECT on its own, and a view read while the
controller deletes a node could find an interface whose instance had vanished (SQLAlchemy's recipe
for pysqlite, "Serializable isolation / Savepoints / Transactional DDL"). Writers never race
for the upgrade from a read snapshot to a write: they are serialized by Context.write()'s lock.

On PostgreSQL several control-plane processes may share the database, so an in-process lock is
not enough: every write transaction first takes one transaction-scoped advisory lock
(`lock_writes`), which serializes the writers of every process, and runs in READ COMMITTED, so
each of its statements sees every write committed before the lock was granted (a REPEATABLE READ
snapshot would be taken by the locking statement itself, before the wait, and miss them). Reads
run in REPEATABLE READ: one snapshot from the first statement to the end, as on SQLite.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
# the key of the advisory lock every PostgreSQL write transaction takes ('fcdwrite' in ASCII):
# one lock for the whole store, as SQLite has one writer
WRITE_LOCK = 0x6663647772697465


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # the driver begins nothing on its own: _begin does
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def driver_url(url: str) -> str:
    """`postgresql://` (or `postgres://`) without a driver named means psycopg 3, the one
    installed (SQLAlchemy's own default for the bare name is psycopg2)."""
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url.removeprefix(bare)
    return url


def shown(url: str) -> str:
    """The URL as it may be printed: its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (exc.ArgumentError, ValueError):  # not a URL at all: open_engine says so
        return url.split("@")[-1]


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin)
        return engine
    return create_engine(driver_url(url), pool_pre_ping=True, isolation_level="READ COMMITTED")


class StoreUnavailable(Exception):
    """The store a URL names cannot be used: the message names it (password hidden) and why."""


def open_engine(url: str) -> Engine:
    """make_engine, and one connection at once, so that a wrong URL, a server that does not
    answer or refuses the login is said at start, in one line, rather than at the first
    request."""
    if not url.startswith(("sqlite", "postgresql", "postgres:")):
        raise StoreUnavailable(f"{shown(url)}: the store is SQLite (the default) or PostgreSQL "
                               "(postgresql://USER:PASSWORD@HOST:PORT/DATABASE)")
    try:
        engine = make_engine(url)
    except (exc.ArgumentError, ImportError, ValueError) as err:
        raise StoreUnavailable(f"{shown(url)} is not a database URL Facade can use: "
                               f"{err}") from err
    try:
        with engine.connect():
            pass
    except exc.DBAPIError as err:
        engine.dispose()
        reason = str(err.orig).strip().splitlines()
        raise StoreUnavailable(f"cannot connect to the store {shown(url)}: "
                               f"{reason[0] if reason else type(err.orig).__name__}") from err
    return engine


def lock_writes(session: Session) -> None:
    """The first statement of a write transaction: on PostgreSQL, wait for the store's write
    lock, held until this transaction commits or rolls back (nothing on SQLite, which has one
    writer by itself and Context.write()'s lock in front of it)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK})


def sqlite_url(home: Path) -> str:
    return f"sqlite:///{home / 'facade.db'}"


# In a state folder whose store is a server's database: that database's URL, password hidden
# (the store `facade backup` and `facade restore` use when not told; store/backup.py).
ELSEWHERE = "database.url"


def record_store(home: Path, url: str) -> None:
    """Note in the state folder where its store is, when that is not its SQLite file."""
    marker = home / ELSEWHERE
    if url.startswith("sqlite"):
        marker.unlink(missing_ok=True)
    else:
        marker.write_text(shown(url) + "\n")


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


@functools.cache
def head() -> str:
    """The newest revision of the migrations (read from their scripts once per process)."""
    found = ScriptDirectory.from_config(_config()).get_current_head()
    assert found is not None, "the migrations have no head"
    return found


def at_head(engine: Engine) -> bool:
    """Whether the store is at the newest revision already: one query, where Alembic's upgrade
    would load and run every migration script's module to find nothing to do (about 25 ms,
    at every start and for each store a test opens)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() == head()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (nothing when it is there). On SQLite,
    foreign keys are off meanwhile and checked once at the end: a table batch mode makes again
    is copied, dropped and renamed, and with them on the drop first deletes its rows (refused
    for a table others refer to, or cascading to their rows)."""
    if at_head(engine):
        return
    cfg = _config()
    with engine.connect() as conn:
        raw = conn.connection.driver_connection if engine.dialect.name == "sqlite" else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")  # outside a transaction, or it is ignored
        try:
            with conn.begin():
                if engine.dialect.name == "postgresql":  # two control planes starting at once
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK})
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                if raw is not None:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"the migrated store breaks its foreign keys: "
                                           f"{broken[:5]}")
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def read_sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reads: one snapshot each (SQLite's transactions are that already)."""
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    return sessionmaker(engine, expire_on_commit=False)
