"""/v1/accounts/{name}/quotas: an account's limits and usage (docs/api.md, Quotas)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from facade.api.deps import Auth, Ctx
from facade.api.etags import IfMatch, guarded, tagged
from facade.api.schemas import QuotaRead, QuotaUpdate
from facade.service import quotas

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])


@router.get("/{name}/quotas", response_model=QuotaRead, operation_id="get_quotas")
def get_quotas(name: str, ctx: Ctx, caller: Auth, response: Response) -> Any:
    """Limits and current usage; the account itself and the operator may read them."""
    return tagged(response, quotas.get(ctx, caller, name))


@router.put("/{name}/quotas", response_model=QuotaRead, operation_id="set_quotas")
def set_quotas(name: str, body: QuotaUpdate, ctx: Ctx, caller: Auth, response: Response,
               if_match: IfMatch = None) -> Any:
    """Operator only. Partial: resources left out keep their limit, null restores the default.
    A limit below current usage removes nothing but refuses new allocations."""
    return tagged(response, guarded(
        ctx, if_match, lambda: quotas.get(ctx, caller, name),
        lambda: quotas.set_(ctx, caller, name, body.model_dump(exclude_unset=True))))
