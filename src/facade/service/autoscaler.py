"""Autoscaling: services' policies (API) and the scaler the controller's metering engine feeds.

A policy belongs to a service (`PUT /v1/services/{name}/autoscale`, the provider or the
operator) and applies to every appliance of it. The controller feeds the scaler each metering tick's
increments (new connections through each appliance's endpoint, requests served by its
backends); the scaler turns the last RATE_WINDOW seconds into a rate per second and, once per
pass, asks `domain.autoscale.decide` for each appliance's size. A change goes through
`appliances.rescale`, exactly like `facade appliance scale`: new backends get addresses in the
provider's subnets, leaving ones drain out of the rotation first, and the customer's subnet never
changes. Rates and decisions live in the controller's memory: after a restart the scaler starts from
an empty window (it waits for the rate before scaling down).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain import autoscale
from facade.domain.errors import FacadeError
from facade.service import appliances, lookup
from facade.service.context import Caller, Context
from facade.store.models import Appliance, AutoscalePolicy, Service

RATE_WINDOW = 6.0  # seconds of metering ticks a rate is taken over


def policy_of(row: AutoscalePolicy) -> autoscale.Policy:
    return autoscale.Policy(min=row.min_backends, max=row.max_backends, metric=row.metric,
                            target=autoscale.target_of(row.target), cooldown=row.cooldown_s)


def view(row: AutoscalePolicy | None, service: str) -> dict[str, Any]:
    if row is None:
        return {"service": service, "enabled": False}
    return {"service": service, "enabled": True, "min": row.min_backends,
            "max": row.max_backends, "metric": row.metric, "target": row.target,
            "cooldown": row.cooldown_s}


def _row(session: Session, svc: Service) -> AutoscalePolicy | None:
    return session.scalar(select(AutoscalePolicy).where(AutoscalePolicy.service_id == svc.id))


def put_policy(session: Session, ctx: Context, svc: Service, *, min: int, max: int,
               metric: str, target: object, cooldown: int = 30) -> AutoscalePolicy:
    policy = autoscale.Policy(min=min, max=max, metric=metric,
                              target=autoscale.target_of(target), cooldown=cooldown)
    row = _row(session, svc)
    if row is None:
        row = AutoscalePolicy(service_id=svc.id)
        session.add(row)
    row.min_backends, row.max_backends, row.metric = policy.min, policy.max, policy.metric
    row.target, row.cooldown_s = str(policy.target), policy.cooldown
    ctx.event(session, "service.autoscale", svc.name,
              f"autoscaling {policy.min}..{policy.max} backends, target {policy.target} "
              f"{policy.metric}/s per backend, cool-down {policy.cooldown} s")
    session.flush()
    return row


def set_policy(ctx: Context, caller: Caller, service: str, **fields: Any) -> dict[str, Any]:
    with ctx.write() as session:
        svc = lookup.own_service(session, caller, service, "its autoscaling")
        row = put_policy(session, ctx, svc, **fields)
        result = view(row, svc.name)
    ctx.kick()
    return result


def get_policy(ctx: Context, caller: Caller, service: str) -> dict[str, Any]:
    with ctx.read() as session:
        svc = lookup.service(session, service)
        return view(_row(session, svc), svc.name)


def current(session: Session, svc: Service) -> autoscale.Policy | None:
    row = _row(session, svc)
    return policy_of(row) if row is not None else None


def remove(ctx: Context, session: Session, svc: Service) -> None:
    row = _row(session, svc)
    if row is not None:
        session.delete(row)
        ctx.event(session, "service.autoscale", svc.name, "autoscaling off")
        session.flush()


def delete_policy(ctx: Context, caller: Caller, service: str) -> dict[str, Any]:
    with ctx.write() as session:
        svc = lookup.own_service(session, caller, service, "its autoscaling")
        remove(ctx, session, svc)
        return view(None, svc.name)


# --- the controller's scaler -----------------------------------------------------------------------


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
            if app.status == "deleting":
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
                          f"cannot scale to {size} backends: {exc.message}")
                continue
            what = f"{rate:.2f} {policy.metric}/s" if rate is not None else "no traffic yet"
            ctx.event(session, "appliance.autoscaled", app.name,
                      f"{current} -> {size} backends ({what}; target {policy.target}/s per "
                      f"backend, bounds {policy.min}..{policy.max})")
        for app_id in [a for a in self.states if a not in seen]:
            del self.states[app_id]
