"""Autoscaling policies, the use cases: a policy belongs to a service
(`PUT /v1/services/{name}/autoscale`, the provider or the operator) and applies to every
appliance of it. The scaler that applies them lives in the controller
(controller/autoscaling.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain import autoscale
from facade.readmodels.services import AutoscaleRead
from facade.service import lookup
from facade.service.context import Caller, Context
from facade.store.models import AutoscalePolicy, Service


def policy_of(row: AutoscalePolicy) -> autoscale.Policy:
    return autoscale.Policy(min=row.min_backends, max=row.max_backends, metric=row.metric,
                            target=autoscale.target_of(row.target), cooldown=row.cooldown_s)


def view(row: AutoscalePolicy | None, service: str) -> AutoscaleRead:
    if row is None:
        return AutoscaleRead(service=service, enabled=False)
    return AutoscaleRead(service=service, enabled=True, min=row.min_backends,
                         max=row.max_backends, metric=row.metric, target=row.target,
                         cooldown=row.cooldown_s)


def _row(session: Session, svc: Service) -> AutoscalePolicy | None:
    return session.scalar(select(AutoscalePolicy).where(AutoscalePolicy.service_id == svc.id))


def put_policy(session: Session, ctx: Context, svc: Service, *, min: object, max: object,
               metric: object, target: object,
               cooldown: object = autoscale.DEFAULT_COOLDOWN) -> AutoscalePolicy:
    policy = autoscale.requested(min=min, max=max, metric=metric, target=target,
                                 cooldown=cooldown)
    row = _row(session, svc)
    if row is None:
        row = AutoscalePolicy(service_id=svc.id)
        session.add(row)
    row.min_backends, row.max_backends, row.metric = policy.min, policy.max, policy.metric
    row.target, row.cooldown_s = str(policy.target), policy.cooldown
    ctx.event(session, "service.autoscale", svc.name,
              f"autoscaling {policy.min}..{policy.max} backends, target {policy.target} "
              f"{policy.metric}/s per backend, cool-down {policy.cooldown} s",
              account=svc.account_id)
    session.flush()
    return row


def set_policy(ctx: Context, caller: Caller, service: str, **fields: Any) -> AutoscaleRead:
    with ctx.write() as session:
        svc = lookup.own_service(session, caller, service, "its autoscaling")
        row = put_policy(session, ctx, svc, **fields)
        result = view(row, svc.name)
    ctx.kick()
    return result


def get_policy(ctx: Context, caller: Caller, service: str) -> AutoscaleRead:
    with ctx.read() as session:
        svc = lookup.service(session, service, caller=caller)
        return view(_row(session, svc), svc.name)


def current(session: Session, svc: Service) -> autoscale.Policy | None:
    row = _row(session, svc)
    return policy_of(row) if row is not None else None


def remove(ctx: Context, session: Session, svc: Service) -> None:
    row = _row(session, svc)
    if row is not None:
        session.delete(row)
        ctx.event(session, "service.autoscale", svc.name, "autoscaling off",
                  svc.account_id)
        session.flush()


def delete_policy(ctx: Context, caller: Caller, service: str) -> AutoscaleRead:
    with ctx.write() as session:
        svc = lookup.own_service(session, caller, service, "its autoscaling")
        remove(ctx, session, svc)
        return view(None, svc.name)
