"""Node replacement: a backend that stays unhealthy is replaced by a new one.

Short failures are the reconciler's: a killed workload is restarted, a deleted namespace or
veth rebuilt, and the health checks keep the backend out of the rotation meanwhile. A backend
whose health check still fails REPLACE_AFTER seconds later (a hung workload, a node that
cannot be repaired in place) is *replaced*: a new backend node, with a new name and address
from the provider's subnets, is added, and the old one is marked for deletion; the controller makes
both happen, and the appliance is back to its desired size as soon as the new
node answers its health check. The customer's subnet never changes.

Guards: a node younger than STARTUP_GRACE (its workload may still be starting) is never
replaced, and an appliance gets at most one replacement per REPLACE_COOLDOWN, so a workload
that can never become healthy costs one node every REPLACE_COOLDOWN, not a storm. The state is
the controller's memory: after a restart every node starts a new grace period.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from facade.domain.states import ApplianceStatus
from facade.service import desired as desired_mod

REPLACE_AFTER = 3.0  # seconds of failed health checks before a backend is replaced
STARTUP_GRACE = 10.0  # a node is not replaced during its first seconds
REPLACE_COOLDOWN = 20.0  # at most one replacement per appliance in this many seconds


@dataclass(frozen=True)
class Replacement:
    appliance_id: int
    instance_id: int
    node: str
    reason: str


class Healer:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.first_seen: dict[int, float] = {}  # instance id -> when its namespace was seen
        self.failing_since: dict[int, float] = {}  # instance id -> first failed check
        self.last_replacement: dict[int, float] = {}  # appliance id -> when

    def review(self, want: desired_mod.Desired, present: set[str],
               healthy: set[str]) -> list[Replacement]:
        """Given which namespaces exist and which backends (namespaces) passed their health
        check in this pass, the backends to replace now."""
        now = self.clock()
        out: list[Replacement] = []
        seen: set[int] = set()
        for app in want.appliances:
            if app.status == ApplianceStatus.DELETING:
                continue
            for b in app.backends:
                seen.add(b.instance_id)
                if b.netns in present:
                    self.first_seen.setdefault(b.instance_id, now)
                if b.netns in healthy:
                    self.failing_since.pop(b.instance_id, None)
                    continue
                since = self.failing_since.setdefault(b.instance_id, now)
                born = self.first_seen.get(b.instance_id)
                if (now - since < REPLACE_AFTER or born is None
                        or now - born < STARTUP_GRACE
                        or now - self.last_replacement.get(app.id, float("-inf"))
                        < REPLACE_COOLDOWN):
                    continue
                self.last_replacement[app.id] = now
                out.append(Replacement(app.id, b.instance_id, b.name,
                                       f"health check failing for {now - since:.1f} s"))
        for table in (self.first_seen, self.failing_since):
            for iid in [i for i in table if i not in seen]:
                del table[iid]
        return out
