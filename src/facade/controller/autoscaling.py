"""The autoscaler, fed by the metering engine (controller/engines.py).

The engine feeds it each metering tick's increments (new connections through each appliance's
endpoint, requests served by its backends); it turns the last RATE_WINDOW seconds into a rate
per second and, once per pass, asks `domain.autoscale.decide` for each appliance whose service
has a policy (service/autoscaler.py) what size it should be. A change goes through
`appliances.rescale`, exactly like `facade appliance scale`: new backends get addresses in the
provider's subnets, leaving ones drain out of the rotation first, and the customer's subnet never
changes. Rates and decisions live in the controller's memory: after a restart the scaler starts
from an empty window (it waits for the rate before scaling down).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain import autoscale
from facade.domain.errors import FacadeError
from facade.domain.states import ApplianceStatus
from facade.service import appliances
from facade.service.autoscaler import policy_of
from facade.service.context import Context
from facade.store.models import Appliance, AutoscalePolicy

RATE_WINDOW = 6.0  # seconds of metering ticks a rate is taken over


class Scaler:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.samples: dict[int, deque[tuple[float, dict[str, int]]]] = {}
        self.states: dict[int, autoscale.State] = {}

    def observe(self, increments: dict[int, dict[str, int]]) -> None:
        """One metering tick's increments per appliance id ({"connections": n, ...})."""
        now = self.clock()
        for app_id, inc in increments.items():
            self.samples.setdefault(app_id, deque()).append((now, dict(inc)))
        for app_id, q in self.samples.items():
            if app_id not in increments:
                q.append((now, {}))
            while q and now - q[0][0] > RATE_WINDOW:
                q.popleft()

    def rate(self, app_id: int, metric: str) -> float | None:
        """Per second over the window; None until the window has two ticks."""
        q = self.samples.get(app_id)
        if not q or len(q) < 2:
            return None
        span = q[-1][0] - q[0][0]
        if span <= 0:
            return None
        # the first sample's increment happened before the window's start: leave it out
        return sum(inc.get(metric, 0) for _, inc in list(q)[1:]) / span

    def review(self, ctx: Context, session: Session) -> None:
        """Resize every appliance whose service has a policy, as decide() says."""
        now = self.clock()
        rows = session.execute(select(Appliance, AutoscalePolicy).join(
            AutoscalePolicy, AutoscalePolicy.service_id == Appliance.service_id))
        seen: set[int] = set()
        for app, row in rows:
            seen.add(app.id)
            if app.status == ApplianceStatus.DELETING:
                continue
            policy = policy_of(row)
            rate = self.rate(app.id, policy.metric)
            current = app.desired_backends
            inside = policy.min <= current <= policy.max
            if rate is None and inside:
                continue  # no rate yet: nothing to decide on
            state = self.states.setdefault(app.id, autoscale.State())
            size = autoscale.decide(policy, current, rate or 0.0, now, state)
            if size is None or size == current:
                continue
            try:
                with session.begin_nested():
                    appliances.rescale(ctx, session, app, size)
            except FacadeError as exc:  # e.g. a quota: say so, try again later
                ctx.event(session, "appliance.autoscale_blocked", app.name,
                          f"cannot scale to {size} backends: {exc.message}",
                          account=app.account_id)
                continue
            what = f"{rate:.2f} {policy.metric}/s" if rate is not None else "no traffic yet"
            ctx.event(session, "appliance.autoscaled", app.name,
                      f"{current} -> {size} backends ({what}; target {policy.target}/s per "
                      f"backend, bounds {policy.min}..{policy.max})", account=app.account_id)
        for app_id in [a for a in self.states if a not in seen]:
            del self.states[app_id]
