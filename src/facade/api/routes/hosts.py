"""/v1/hosts: the machines that hold nodes (docs/multi-host.md), for the operator only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from facade.api.deps import Auth, Ctx, Paging, located
from facade.api.schemas import HostCreate, HostPage, HostRead
from facade.service import hosts

router = APIRouter(prefix="/v1/hosts", tags=["hosts"])

StateFilter = Annotated[str | None, Query(max_length=20, description=(
    "only those in this state (ready, draining, lost, removed); removed hosts are listed "
    "only when asked for"))]


@router.get("", response_model=HostPage, operation_id="list_hosts")
def list_hosts(ctx: Ctx, caller: Auth, page: Paging, state: StateFilter = None) -> Any:
    return hosts.list_(ctx, caller, page, state)


@router.post("", status_code=201, response_model=HostRead, operation_id="create_host")
def create_host(body: HostCreate, ctx: Ctx, caller: Auth, response: Response) -> Any:
    """Record a simulated host: nothing makes its namespace or places nodes on it yet (its
    `detail` says so; docs/multi-host.md)."""
    view = hosts.add(ctx, caller, body.model_dump())
    return located(response, "/v1/hosts/{name}", view)


@router.get("/{name}", response_model=HostRead, operation_id="get_host")
def get_host(name: str, ctx: Ctx, caller: Auth) -> Any:
    return hosts.get(ctx, caller, name)


@router.post("/{name}/drain", response_model=HostRead, operation_id="drain_host")
def drain_host(name: str, ctx: Ctx, caller: Auth) -> Any:
    """Nothing new is placed on the host and its appliances' backends move away, each
    appliance serving throughout; the local host cannot be drained (409)."""
    return hosts.drain(ctx, caller, name)


@router.post("/{name}/resume", response_model=HostRead, operation_id="resume_host")
def resume_host(name: str, ctx: Ctx, caller: Auth) -> Any:
    """A draining host takes new nodes again; a lost or removed one is a 409."""
    return hosts.resume(ctx, caller, name)


@router.delete("/{name}", status_code=204, operation_id="delete_host")
def delete_host(name: str, ctx: Ctx, caller: Auth) -> Response:
    """409 while it holds nodes (naming how many), and for the local host."""
    hosts.remove(ctx, caller, name)
    return Response(status_code=204)
