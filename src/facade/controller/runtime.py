"""What every reconciler works with: the context, the queue, the health engine's verdicts, and
the small memory the controller keeps between keys (which bridges were made anew, when each
node was last made).

Reconcilers (nodes.py, fabric.py, agents.py, appliances.py) take one key, read that object's
desired state from the store and its actual state from the kernel, carry out the difference
through the driver (`act`: one event per action, as the old pass-based worker wrote them) and
finish by returning, or raise:
- `DataPlaneError` (Retry): tried again after the key's backoff;
- `DataPlaneError` (Fatal): reported, not retried until the object changes or the resync;
- `Later(delay, why)`: something else must happen first (a bridge to be made, a backend to
  leave its rotation); the key comes back after `delay`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from facade.controller.node_views import NodeView
from facade.controller.queue import WorkQueue
from facade.controller.quiet_views import QuietViews
from facade.dataplane.protocol import DataPlane
from facade.domain.keys import Key
from facade.reconcile.apply import apply
from facade.reconcile.plan import Action, EnsureNode, Plan, SetBackends
from facade.service import kernel_owners
from facade.service.context import Context
from facade.service.desired import ApplianceTarget

# seconds within which the nodes made or deleted share one reconcile of their agent (at most one
# a period: Runtime.touch_throttled) and the nodes deleted one of the rules (touch_soon)
SETTLE = 0.5


class Later(Exception):
    """Come back to this key after `delay` seconds: `why` has to happen first."""

    def __init__(self, delay: float, why: str) -> None:
        super().__init__(why)
        self.delay = delay
        self.why = why


class Failed(Exception):
    """Some of a key's actions failed (their events are recorded); retry with backoff, or not
    at all when every failure is Fatal."""

    def __init__(self, message: str, *, fatal: bool) -> None:
        super().__init__(message)
        self.fatal = fatal


class Health(Protocol):
    """The health engine as reconcilers see it (health.py)."""

    def register(self, app: ApplianceTarget) -> None: ...

    def forget(self, appliance_id: int) -> None: ...

    def healthy(self, netns: str) -> bool | None: ...

    def poke(self, netns: str) -> None: ...


@dataclass
class Runtime:
    ctx: Context
    queue: WorkQueue
    clock: Callable[[], float] = time.monotonic
    health: Health | None = None
    # every node's and appliance's view while the store is quiet (quiet_views.py)
    node_views: QuietViews[NodeView] | None = None
    appliance_views: QuietViews[ApplianceTarget] | None = None
    # bridge -> when it was made (anew); netns -> when the node was last made: a node made
    # before its bridge was recreated must join the new bridge
    recreated: dict[str, float] = field(default_factory=dict)
    ensured: dict[str, float] = field(default_factory=dict)
    # instance id -> the view of a node whose namespace is removed and whose row is not yet:
    # what is left of its deletion (the kernel's teardown, its row) needs nothing the store
    # could change, and its key comes back every TEARDOWN_RECHECK until then
    removed: dict[int, NodeView] = field(default_factory=dict)
    # management network id -> when its agent's entries were last pruned (controller/agents.py)
    pruned: dict[int, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def dp(self) -> DataPlane:
        return self.ctx.dataplane

    @property
    def home(self) -> Path:
        return self.ctx.home

    def touch(self, keys: Iterable[Key]) -> None:
        wanted = list(keys)
        if wanted:
            self.queue.add(wanted)

    def touch_soon(self, keys: Iterable[Key], delay: float) -> None:
        """Queue keys in `delay` seconds, together with whatever else touches them meanwhile
        (WorkQueue.defer)."""
        for key in keys:
            self.queue.defer(key, delay)

    def touch_throttled(self, keys: Iterable[Key], period: float) -> None:
        """Queue keys at once, or at the end of `period` when they went less than `period`
        ago (WorkQueue.throttle)."""
        for key in keys:
            self.queue.throttle(key, period)

    def prune_due(self, network_id: int, every: float) -> bool:
        """True (and noted) when the network's agent entries were not pruned in `every` s."""
        now = self.clock()
        with self.lock:
            if now - self.pruned.get(network_id, float("-inf")) < every:
                return False
            self.pruned[network_id] = now
            return True

    def note_made(self, netns: str) -> None:
        with self.lock:
            self.ensured[netns] = self.clock()

    def note_bridge_made(self, bridge: str, at: float) -> None:
        """The bridge was made at `at`: the moment its making began, so a node made beside it
        (once it existed) does not count as made before it and is not made again."""
        with self.lock:
            self.recreated[bridge] = at

    def recreated_since(self, netns: str, bridges: Iterable[str]) -> set[str]:
        with self.lock:
            since = self.ensured.get(netns, float("-inf"))
            return {b for b in bridges if self.recreated.get(b, float("-inf")) > since}

    def event(self, kind: str, obj: str, message: str) -> None:
        self.events([(kind, obj, message)])

    def events(self, notes: list[tuple[str, str, str]]) -> None:
        if not notes:
            return
        with self.ctx.write(track=False) as session:
            for kind, obj, message in notes:
                self.ctx.event(session, kind, obj, message, kernel_owners.owner(session, obj))

    def act(self, actions: list[Action]) -> list[Action]:
        """Carry out one key's actions in order, one event each; returns those done. Raises
        Failed when one failed (after recording it). A node made is noted as made even when a
        later action failed (its workload's start, say): else its next look would take it for
        one made before its bridge and make it again."""
        if not actions:
            return []
        notes: list[tuple[str, str, str]] = []
        failures: list[tuple[Action, str, bool]] = []

        def report(action: Action, error: str | None) -> None:
            if error:
                notes.append(("reconcile.failed", action.target, f"{action}: {error}"))
            elif isinstance(action, SetBackends) and action.reason == "rotation":
                notes.append(("reconcile.rotation", action.target,
                              "in rotation: " + (", ".join(action.backends) or "none")))
            else:
                notes.append(("reconcile." + action.verb, action.target, action.reason))

        result = apply(Plan(tuple(actions)), self.dp, report, errors=failures)
        for action in result.done:  # made, even if a later action of the key failed
            if isinstance(action, EnsureNode):
                self.note_made(action.target)
        self.events(notes)
        if result.failed:
            fatal = all(is_fatal for _, _, is_fatal in failures)
            first = result.failed[0]
            raise Failed(f"{first[0]}: {first[1]}", fatal=fatal)
        return result.done
