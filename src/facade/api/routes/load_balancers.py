"""/v1/load-balancers: load-balancer offers of front-end providers (third-party front-ends,
docs/composition.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from facade.api.deps import Auth, Ctx, Owner, Paging, located, named
from facade.api.schemas import LoadBalancerCreate, LoadBalancerPage, LoadBalancerRead
from facade.service import load_balancers

router = APIRouter(prefix="/v1/load-balancers", tags=["load-balancers"])


@router.get("", response_model=LoadBalancerPage, operation_id="list_load_balancers")
def list_load_balancers(ctx: Ctx, caller: Auth, page: Paging) -> Any:
    return load_balancers.list_(ctx, caller, page)


@router.post("", status_code=201, response_model=LoadBalancerRead,
             operation_id="create_load_balancer")
def create_load_balancer(body: LoadBalancerCreate, ctx: Ctx, caller: Auth,
                         response: Response) -> Any:
    view = load_balancers.create(ctx, caller, name=body.name, account=body.account,
                                 management_subnet=body.management_subnet)
    return located(response, "/v1/load-balancers/{name}", view, caller)


@router.get("/{name}", response_model=LoadBalancerRead, operation_id="get_load_balancer")
def get_load_balancer(name: str, ctx: Ctx, caller: Auth, owner: Owner = None) -> Any:
    return load_balancers.get(ctx, caller, named(name, owner))


@router.delete("/{name}", status_code=204, operation_id="delete_load_balancer")
def delete_load_balancer(name: str, ctx: Ctx, caller: Auth, owner: Owner = None) -> Response:
    load_balancers.delete(ctx, caller, named(name, owner))
    return Response(status_code=204)
