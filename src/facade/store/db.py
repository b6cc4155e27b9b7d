"""The database: engine and sessions for a state folder, migrated to head with Alembic at start.

SQLite by default (`$FACADE_HOME/facade.db`, WAL, a busy timeout so the API threads and the
reconciler can share it); any SQLAlchemy URL can replace it.

Every transaction, reads included, is a real SQLite transaction (`BEGIN` ... `COMMIT` or
`ROLLBACK`), so a read sees one snapshot from its first statement to its end. The Python
driver's own transaction handling would run each SELECT on its own, and a view read while the
controller deletes a node could find an interface whose instance had vanished (SQLAlchemy's recipe
for pysqlite, "Serializable isolation / Savepoints / Transactional DDL"). Writers never race
for the upgrade from a read snapshot to a write: they are serialized by Context.write()'s lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # the driver begins nothing on its own: _begin does
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


def sqlite_url(home: Path) -> str:
    return f"sqlite:///{home / 'facade.db'}"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision. On SQLite, foreign keys are off
    meanwhile and checked once at the end: a table batch mode makes again is copied, dropped
    and renamed, and with them on the drop first deletes its rows (refused for a table others
    refer to, or cascading to their rows)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        raw = conn.connection.driver_connection if engine.dialect.name == "sqlite" else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")  # outside a transaction, or it is ignored
        try:
            with conn.begin():
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
