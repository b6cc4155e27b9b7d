"""/v1/services: appliance services (providers' offers)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from facade.api.deps import AccountFilter, Auth, Ctx, Owner, Paging, located, named
from facade.api.schemas import (
    HealthCheckBody,
    HealthCheckRead,
    LimitsBody,
    LimitsRead,
    ServiceCreate,
    ServicePage,
    ServiceRead,
)
from facade.service import catalog, health_checks, sandboxes

router = APIRouter(prefix="/v1/services", tags=["services"])


@router.get("", response_model=ServicePage, operation_id="list_services")
def list_services(ctx: Ctx, caller: Auth, page: Paging, account: AccountFilter = None) -> Any:
    return catalog.list_(ctx, caller, page, account=account)


@router.post("", status_code=201, response_model=ServiceRead, operation_id="create_service")
def create_service(body: ServiceCreate, ctx: Ctx, caller: Auth, response: Response) -> Any:
    view = catalog.create(ctx, caller, name=body.name, account=body.account,
                          workload_name=body.workload, command=body.command, port=body.port,
                          backend_subnet=body.backend_subnet,
                          management_subnet=body.management_subnet,
                          health_path=body.health_path, upstream=body.upstream,
                          prices=body.prices.model_dump(exclude_none=True)
                          if body.prices is not None else None,
                          billing_model=body.billing_model, frontend=body.frontend,
                          extra_subnets=body.extra_subnets,
                          limits=body.limits.model_dump(exclude_unset=True)
                          if body.limits else None,
                          health_check=body.health_check.model_dump(exclude_unset=True)
                          if body.health_check else None, tenancy=body.tenancy)
    return located(response, "/v1/services/{name}", view, caller)


@router.get("/{name}", response_model=ServiceRead, operation_id="get_service")
def get_service(name: str, ctx: Ctx, caller: Auth, owner: Owner = None) -> Any:
    return catalog.get(ctx, caller, named(name, owner))


@router.delete("/{name}", status_code=204, operation_id="delete_service")
def delete_service(name: str, ctx: Ctx, caller: Auth, owner: Owner = None) -> Response:
    catalog.delete(ctx, caller, named(name, owner))
    return Response(status_code=204)


@router.put("/{name}/limits", response_model=LimitsRead, operation_id="set_service_limits")
def set_service_limits(name: str, body: LimitsBody, ctx: Ctx, caller: Auth,
                       owner: Owner = None) -> Any:
    return sandboxes.set_service(ctx, caller, named(name, owner),
                                 body.model_dump(exclude_unset=True))


@router.put("/{name}/health_check", response_model=HealthCheckRead,
            operation_id="set_service_health_check")
def set_service_health_check(name: str, body: HealthCheckBody, ctx: Ctx, caller: Auth,
                             owner: Owner = None) -> Any:
    """Change how the service's backends are checked; running appliances follow at once."""
    return health_checks.set_service(ctx, caller, named(name, owner),
                                     body.model_dump(exclude_unset=True))
