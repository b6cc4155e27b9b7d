"""/v1/appliances: a customer's instance of an appliance service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

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
from facade.api.etags import IfMatch, guarded, tagged
from facade.api.schemas import ApplianceCreate, AppliancePage, ApplianceRead, ApplianceUpdate
from facade.domain.names import MAX_REF
from facade.service import appliances

router = APIRouter(prefix="/v1/appliances", tags=["appliances"])


@router.get("", response_model=AppliancePage, operation_id="list_appliances")
def list_appliances(
    ctx: Ctx, caller: Auth, page: Paging, account: AccountFilter = None,
    status: StatusFilter = None,
    service: Annotated[str | None, Query(max_length=MAX_REF, description=(
        "only those of this service"))] = None,
) -> Any:
    """Each filter given narrows the list (the same filters on every page of it); `status`
    one of provisioning, ready, scaling, degraded, failed, deleting."""
    return appliances.list_(ctx, caller, page, account=account, status=status,
                            service=service)


@router.post("", status_code=202, response_model=ApplianceRead, operation_id="create_appliance")
def create_appliance(body: ApplianceCreate, ctx: Ctx, caller: Auth, response: Response) -> Any:
    view = appliances.create(ctx, caller, name=body.name, account=body.account,
                             service=body.service, subnet=body.subnet, backends=body.backends,
                             tenancy=body.tenancy)
    return located(response, "/v1/appliances/{name}", view, caller)


@router.get("/{name}", response_model=ApplianceRead, operation_id="get_appliance")
def get_appliance(name: str, ctx: Ctx, caller: Auth, response: Response,
                  owner: Owner = None) -> Any:
    return tagged(response, appliances.get(ctx, caller, named(name, owner)))


@router.patch("/{name}", status_code=202, response_model=ApplianceRead,
              operation_id="scale_appliance")
def scale_appliance(name: str, body: ApplianceUpdate, ctx: Ctx, caller: Auth,
                    response: Response, if_match: IfMatch = None, owner: Owner = None) -> Any:
    view = guarded(ctx, if_match, lambda: appliances.get(ctx, caller, named(name, owner)),
                   lambda: appliances.scale(ctx, caller, named(name, owner), body.backends))
    return located(response, "/v1/appliances/{name}", tagged(response, view), caller)


@router.delete("/{name}", status_code=202, response_model=ApplianceRead,
               operation_id="delete_appliance")
def delete_appliance(name: str, ctx: Ctx, caller: Auth, response: Response,
                     force: bool = False, detach: bool = False, owner: Owner = None) -> Any:
    """409 in_use while other appliances call it; `force=true` deletes them too (a cascade,
    `deleted_with` names them), `detach=true` deletes it alone and leaves them running
    (docs/composition.md)."""
    view = appliances.delete(ctx, caller, named(name, owner), force=force, detach=detach)
    return located(response, "/v1/appliances/{name}", view, caller)
