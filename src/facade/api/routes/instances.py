"""/v1/instances: customer instances, and exec inside any node its owner may reach."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from facade.api.deps import (
    AccountFilter,
    Auth,
    Ctx,
    Owner,
    Paging,
    StatusFilter,
    located,
    named,
)
from facade.api.schemas import (
    ExecCreate,
    ExecRead,
    InstanceCreate,
    LimitsBody,
    LimitsRead,
    NodePage,
    NodeRead,
)
from facade.service import instances, sandboxes

router = APIRouter(prefix="/v1/instances", tags=["instances"])


@router.get("", response_model=NodePage, operation_id="list_instances")
def list_instances(ctx: Ctx, caller: Auth, page: Paging, account: AccountFilter = None,
                   status: StatusFilter = None) -> Any:
    """`status` one of pending, active, failed, deleting."""
    return instances.list_(ctx, caller, page, account=account, status=status)


@router.post("", status_code=201, response_model=NodeRead, operation_id="create_instance")
def create_instance(body: InstanceCreate, ctx: Ctx, caller: Auth, response: Response) -> Any:
    view = instances.create(ctx, caller, body.name, body.account,
                            [i.model_dump() for i in body.interfaces],
                            body.limits.model_dump(exclude_unset=True) if body.limits else None,
                            public_ip=body.public_ip, host=body.host)
    return located(response, "/v1/instances/{name}", view, caller)


@router.get("/{name}", response_model=NodeRead, operation_id="get_instance")
def get_instance(name: str, ctx: Ctx, caller: Auth, owner: Owner = None) -> Any:
    return instances.get(ctx, caller, named(name, owner))


@router.delete("/{name}", status_code=204, operation_id="delete_instance")
def delete_instance(name: str, ctx: Ctx, caller: Auth, owner: Owner = None) -> Response:
    instances.delete(ctx, caller, named(name, owner))
    return Response(status_code=204)


@router.post("/{name}/exec", response_model=ExecRead, operation_id="exec_instance")
def exec_instance(name: str, body: ExecCreate, ctx: Ctx, caller: Auth, owner: Owner = None) -> Any:
    return instances.exec_(ctx, caller, named(name, owner), body.argv, body.timeout, body.stdin,
                           body.host)


@router.put("/{name}/limits", response_model=LimitsRead, operation_id="set_instance_limits")
def set_instance_limits(name: str, body: LimitsBody, ctx: Ctx, caller: Auth,
                        owner: Owner = None) -> Any:
    return sandboxes.set_instance(ctx, caller, named(name, owner),
                                  body.model_dump(exclude_unset=True))
