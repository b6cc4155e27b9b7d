"""/v1/health, /v1/topology, /v1/events, /v1/apply and /v1/destroy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from facade.api.deps import Auth, Ctx
from facade.api.schemas import EventRead, ScenarioCreate, ScenarioRead
from facade.service import events, scenario, topology

router = APIRouter(prefix="/v1", tags=["system"])


@router.get("/health", operation_id="health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/topology", operation_id="topology")
def get_topology(ctx: Ctx, caller: Auth) -> dict[str, Any]:
    return topology.topology(ctx, caller)


@router.get("/events", response_model=list[EventRead], operation_id="list_events")
def list_events(ctx: Ctx, caller: Auth, limit: int = Query(50, ge=1, le=1000)) -> Any:
    return events.list_(ctx, caller, limit)


@router.post("/apply", response_model=ScenarioRead, operation_id="apply")
def apply(body: ScenarioCreate, ctx: Ctx, caller: Auth) -> Any:
    return scenario.apply(ctx, caller, body.yaml, body.filename)


@router.post("/destroy", response_model=ScenarioRead, operation_id="destroy")
def destroy(body: ScenarioCreate, ctx: Ctx, caller: Auth) -> Any:
    return scenario.destroy(ctx, caller, body.yaml, body.filename)
