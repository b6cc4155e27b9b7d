"""The control plane's shared context: state folder, database, data plane, the write lock,
and the reconcile worker. One is made by the server at start (or by tests, with a fake driver).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from facade.dataplane.protocol import DataPlane
from facade.store import db
from facade.store.models import Event

if TYPE_CHECKING:
    from facade.service.worker import Worker


@dataclass(frozen=True)
class Caller:
    """Who is asking: an account, possibly the operator (who may act for any account)."""

    account_id: int
    account: str
    operator: bool = False

    def may_see(self, *account_ids: int | None) -> bool:
        return self.operator or self.account_id in account_ids


@dataclass
class Context:
    home: Path
    engine: Engine
    dataplane: DataPlane
    sessions: sessionmaker[Session] = field(init=False)
    # One writer at a time: allocation reads the taken addresses and inserts in one critical
    # section; the unique constraint on (subnet, ip) is the backstop.
    lock: threading.RLock = field(default_factory=threading.RLock)
    worker: Worker | None = None
    # node name -> what its management agent last said (kept by the worker, not stored)
    management: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sessions = db.sessions(self.engine)

    @classmethod
    def open(cls, home: Path, dataplane: DataPlane, url: str | None = None) -> Context:
        home.mkdir(parents=True, exist_ok=True)
        engine = db.make_engine(url or db.sqlite_url(home))
        db.migrate(engine)
        return cls(home=home, engine=engine, dataplane=dataplane)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction under the write lock; commits on success, rolls back on error."""
        with self.lock, self.sessions.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self.sessions() as session:
            yield session

    def event(self, session: Session, kind: str, obj: str, message: str) -> None:
        session.add(Event(kind=kind, object=obj, message=message))

    def converge(self, timeout: float = 30.0) -> bool:
        """Ask the worker for a pass and wait for it; True when a whole pass ran after the ask."""
        if self.worker is None:
            return True
        return self.worker.kick_and_wait(timeout)

    def kick(self) -> None:
        if self.worker is not None:
            self.worker.kick()
