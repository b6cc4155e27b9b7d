"""/v1/services/{name}/autoscale: a service's autoscaling policy (docs/autoscaling.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from facade.api.deps import Auth, Ctx, Owner, named
from facade.api.schemas import AutoscaleRead, AutoscaleWrite
from facade.service import autoscaler

router = APIRouter(prefix="/v1/services", tags=["services"])


@router.get("/{name}/autoscale", response_model=AutoscaleRead, response_model_exclude_none=True,
            operation_id="get_autoscale")
def get_autoscale(name: str, ctx: Ctx, caller: Auth, owner: Owner = None) -> Any:
    return autoscaler.get_policy(ctx, caller, named(name, owner))


@router.put("/{name}/autoscale", response_model=AutoscaleRead, response_model_exclude_none=True,
            operation_id="set_autoscale")
def set_autoscale(name: str, body: AutoscaleWrite, ctx: Ctx, caller: Auth,
                  owner: Owner = None) -> Any:
    return autoscaler.set_policy(ctx, caller, named(name, owner), min=body.min, max=body.max,
                                 metric=body.metric, target=body.target,
                                 cooldown=body.cooldown)


@router.delete("/{name}/autoscale", response_model=AutoscaleRead,
               response_model_exclude_none=True, operation_id="delete_autoscale")
def delete_autoscale(name: str, ctx: Ctx, caller: Auth, owner: Owner = None) -> Any:
    return autoscaler.delete_policy(ctx, caller, named(name, owner))
