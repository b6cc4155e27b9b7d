"""The control plane's shared context: state folder, database, data plane, the write lock,
and the controller, reached only through the small `Kicker` protocol (the controller lives
above this layer). One is made by the server at start (or by tests, with a fake driver).

Every write transaction records what it touched (service/changes.py); once committed, the
keys of those objects go to the kicker, and `converge()` waits until they were reconciled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from facade.dataplane.protocol import DataPlane
from facade.dataplane.remote import HostWork
from facade.domain.keys import Key
from facade.service import changes, rate_limits, request_ids
from facade.service.metrics import Metrics
from facade.service.rate_limits import RateLimits
from facade.store import db
from facade.store.models import Event

trace = logging.getLogger("facade.trace")  # every write that moved the generation


class Kicker(Protocol):
    """What the service layer may ask of the controller."""

    def touch(self, keys: Iterable[Key]) -> int:
        """Reconcile these objects soon; returns a ticket for `wait`."""

    def wait(self, ticket: int, timeout: float) -> bool:
        """Wait until every key touched up to `ticket` was reconciled once since; False on
        timeout (or when nothing runs the controller)."""


@dataclass(frozen=True)
class Caller:
    """Who is asking: an account, possibly the operator (who may act for any account)."""

    account_id: int
    account: str
    operator: bool = False
    # the account the operator acts for (a create for it, a file's declaration of it): a bare
    # name in the request is that account's object first, as it would be for its own token
    acting_id: int | None = None

    def may_see(self, *account_ids: int | None) -> bool:
        return self.operator or self.account_id in account_ids

    @property
    def prefers(self) -> int | None:
        """Whose object a bare name several visible objects have means (lookup.resolve): the
        caller's own; for the operator, the account it acts for, else nobody's."""
        if self.acting_id is not None:
            return self.acting_id
        return None if self.operator else self.account_id

    def acting_for(self, account_id: int) -> Caller:
        """This caller acting for `account_id` (the operator's right; anyone's own)."""
        return replace(self, acting_id=account_id)


class HostAgentRuns(Protocol):
    """The simulated hosts' agents, run as the control plane's children
    (controller/simulated_agents.py; docs/multi-host.md, "Simulated hosts on their agents").
    A context without one drives its simulated hosts' kernels itself."""

    def start(self, host: str, token: str, address: str) -> None:
        """Host HOST's agent running with that token (a previous run stopped first); it is
        run again whenever it dies, until `stop`."""

    def stop(self, host: str) -> None:
        """Host HOST's agent stopped on purpose (not run again)."""


@dataclass
class Context:
    home: Path
    engine: Engine
    dataplane: DataPlane
    sessions: sessionmaker[Session] = field(init=False)
    read_sessions: sessionmaker[Session] = field(init=False)
    # One writer at a time: allocation reads the taken addresses and inserts in one critical
    # section; the unique constraint on (subnet, ip) is the backstop. On PostgreSQL, where
    # other processes may write too, each write also takes the store's lock (db.lock_writes).
    lock: threading.RLock = field(default_factory=threading.RLock)
    kicker: Kicker | None = None
    # node name -> what its management agent last said (kept by the controller, not stored)
    management: dict[str, dict[str, Any]] = field(default_factory=dict)
    # front-end netns -> the backend addresses its rotation (the nftables map) held when
    # metering last read its agent (service/metering.py; shown as its `management.rotation`)
    rotations: dict[str, list[str]] = field(default_factory=dict)
    # how many committed writes changed something: readers that keep a view of the store
    # (the controller's engines) read it again only when this moved
    generation: int = 0
    # requests per account token (rate_limits.py); FACADE_RATE_LIMIT, read once at start
    rate_limits: RateLimits = field(default_factory=rate_limits.from_env)
    # this control plane's own metrics (service/metrics.py): a registry per context
    metrics: Metrics = field(default_factory=Metrics)
    # the intents for the hosts whose agents change their kernels (dataplane/remote.py): the
    # routed data plane queues them, the agents' routes hand them out (service/host_work.py)
    host_work: HostWork = field(default_factory=HostWork)
    # with it, each simulated host's kernel is changed by its own agent (api/server.py)
    agents: HostAgentRuns | None = None
    _last: threading.local = field(default_factory=threading.local)

    def __post_init__(self) -> None:
        self.sessions = db.sessions(self.engine)
        self.read_sessions = db.read_sessions(self.engine)

    @classmethod
    def open(cls, home: Path, dataplane: DataPlane, url: str | None = None) -> Context:
        home.mkdir(parents=True, exist_ok=True)
        engine = db.open_engine(url or db.sqlite_url(home))
        db.record_store(home, url or db.sqlite_url(home))
        db.migrate(engine)
        return cls(home=home, engine=engine, dataplane=dataplane)

    @contextmanager
    def write(self, *, track: bool = True) -> Iterator[Session]:
        """A transaction under the write lock; commits on success, rolls back on error. With
        `track`, what it touched goes to the controller once it committed (the controller
        writes its own bookkeeping untracked)."""
        with self.lock:
            before = getattr(self._last, "before", None)
            self._last.before = None
            with self.sessions.begin() as session:
                db.lock_writes(session)
                if before is not None:  # a precondition of this thread's next write (expect()),
                    before()            # checked under the lock, another process's too
                touched = changes.track(session)
                yield session
            if touched.rows or touched.keys:
                self.generation += 1
                if trace.isEnabledFor(logging.DEBUG):
                    trace.debug("write %d touched %s", self.generation,
                                sorted(map(str, [*touched.rows, *touched.keys]))[:8])
            if track and (touched.rows or touched.keys) and self.kicker is not None:
                with self.sessions() as fresh:
                    found = changes.keys_of(fresh, touched)
                self._last.ticket = self.kicker.touch(found)

    def expect(self, check: Callable[[], None] | None) -> None:
        """Run `check` at the start of this thread's next write transaction, under the write
        lock (None: no longer): a precondition nothing can change before that write commits
        (an update's If-Match: api/etags.py). It raises to refuse the write."""
        self._last.before = check

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self.read_sessions() as session:
            yield session

    def event(self, session: Session, kind: str, obj: str, message: str,
              account: int | None = None) -> None:
        """Record an event, with the id of the request that caused it, if one did
        (service/request_ids.py), and `account`, the id of the account whose object it is
        about (service/events.py shows it to that account; None: matched by name)."""
        session.add(Event(kind=kind, object=obj, message=message,
                          request_id=request_ids.current.get(), account_id=account))

    def converge(self, timeout: float = 30.0) -> bool:
        """Wait until what this thread's last write touched was reconciled; True when it was
        (at once when nothing runs the controller)."""
        if self.kicker is None:
            return True
        ticket = getattr(self._last, "ticket", 0)
        return self.kicker.wait(ticket, timeout)

    def kick(self) -> None:
        """Nothing to do: a write hands what it touched to the controller by itself (kept for
        callers that only want the change to be picked up, without waiting)."""
