"""/v1/health, /v1/topology, /v1/events, /v1/apply and /v1/destroy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from facade.api.deps import AccountFilter, Auth, Ctx, Paging
from facade.api.schemas import (
    EventPage,
    HealthRead,
    ScenarioCreate,
    ScenarioRead,
    TopologyRead,
)
from facade.service import events, request_ids, scenario, topology

router = APIRouter(prefix="/v1", tags=["system"])


@router.get("/health", response_model=HealthRead, operation_id="health")
def health() -> HealthRead:
    return HealthRead(status="ok")


@router.get("/topology", response_model=TopologyRead, operation_id="topology")
def get_topology(ctx: Ctx, caller: Auth) -> TopologyRead:
    return topology.topology(ctx, caller)


@router.get("/events", response_model=EventPage, operation_id="list_events")
def list_events(ctx: Ctx, caller: Auth, page: Paging,
                request_id: str | None = Query(None, max_length=request_ids.MAX_LENGTH,
                                               description="only the events this request "
                                               "(its X-Request-ID) caused"),
                account: AccountFilter = None) -> Any:
    """Newest first; `next_cursor` goes back in time. `?account=`: the events that account is
    shown (its objects', the appliances it provides)."""
    return events.list_(ctx, caller, page, request_id=request_id, account=account)


@router.post("/apply", response_model=ScenarioRead, operation_id="apply")
def apply(body: ScenarioCreate, ctx: Ctx, caller: Auth, dry_run: bool = False) -> Any:
    """`dry_run=true`: the changes apply would make (or the error it would meet), made in a
    transaction that is rolled back: nothing changes."""
    return scenario.apply(ctx, caller, body.yaml, body.filename, dry_run=dry_run)


@router.post("/destroy", response_model=ScenarioRead, operation_id="destroy")
def destroy(body: ScenarioCreate, ctx: Ctx, caller: Auth) -> Any:
    return scenario.destroy(ctx, caller, body.yaml, body.filename)
