"""/v1/prices, /v1/billing and an account's front-end prices and invoice (docs/billing.md).

The operator's price list (instances, and the edge: /v1/prices/edge) is public and the
operator's to set; a front-end provider's prices and an
account's invoice are visible to the account itself and the operator; billing runs and the
ledger are the operator's."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from facade.api.deps import Auth, Ctx
from facade.api.schemas import (
    BillingRunCreate,
    BillingRunRead,
    EdgePricesBody,
    FrontEndPricesBody,
    FrontEndPricesRead,
    InstancePricesBody,
    InstancePricesRead,
    InvoiceRead,
    LedgerRead,
)
from facade.service.billing import price_lists, runs, statements

router = APIRouter(tags=["billing"])
PeriodQuery = Annotated[str, Query(max_length=80, description=(
    "2026-11 (a UTC month), 2026-11-28 (a UTC day) or START/END (ISO 8601 instants with a "
    "time zone, on whole UTC hours)"))]


@router.get("/v1/prices", response_model=InstancePricesRead, operation_id="get_prices")
def get_prices(ctx: Ctx, caller: Auth) -> Any:
    """The operator's instance prices per node-hour by role (0 when unset)."""
    return price_lists.get_instance_prices(ctx, caller)


@router.put("/v1/prices", response_model=InstancePricesRead, operation_id="set_prices")
def set_prices(body: InstancePricesBody, ctx: Ctx, caller: Auth) -> Any:
    """Operator only. Prices left out are 0; they apply to periods that end after now."""
    return price_lists.set_instance_prices(ctx, caller, body.model_dump(exclude_none=True))


@router.put("/v1/prices/edge", response_model=InstancePricesRead, operation_id="set_edge_prices")
def set_edge_prices(body: EdgePricesBody, ctx: Ctx, caller: Auth) -> Any:
    """Operator only: per public address-hour (standard and customer addresses, associated or
    not) and per GB through a public gateway; left out: 0. Answers the whole price list."""
    return price_lists.set_edge_prices(ctx, caller, body.model_dump(exclude_none=True))


@router.get("/v1/accounts/{name}/frontend-prices", response_model=FrontEndPricesRead,
            operation_id="get_frontend_prices")
def get_frontend_prices(name: str, ctx: Ctx, caller: Auth) -> Any:
    return price_lists.get_frontend_prices(ctx, caller, name)


@router.put("/v1/accounts/{name}/frontend-prices", response_model=FrontEndPricesRead,
            operation_id="set_frontend_prices")
def set_frontend_prices(name: str, body: FrontEndPricesBody, ctx: Ctx, caller: Auth) -> Any:
    """What the account charges an appliance provider per front-end node-hour it runs."""
    return price_lists.set_frontend_prices(ctx, caller, name, body.model_dump(exclude_none=True))


@router.get("/v1/accounts/{name}/invoice", response_model=InvoiceRead,
            operation_id="get_invoice")
def get_invoice(name: str, period: PeriodQuery, ctx: Ctx, caller: Auth) -> Any:
    """The account's invoice and statement for a period: `billed` from the ledger, or a
    `draft` from usage when no part of the period is billed."""
    return statements.invoice(ctx, caller, name, period)


@router.post("/v1/billing/runs", response_model=BillingRunRead,
             operation_id="create_billing_run")
def create_billing_run(body: BillingRunCreate, ctx: Ctx, caller: Auth) -> Any:
    """Operator only: bill a period that has ended. Running it again posts only usage
    recorded since (nothing, usually)."""
    return runs.run(ctx, caller, body.period)


@router.get("/v1/billing/ledger", response_model=LedgerRead, operation_id="get_ledger")
def get_ledger(period: PeriodQuery, ctx: Ctx, caller: Auth) -> Any:
    """Operator only: ledger accounts, trial balance (always 0.00), runs, unbilled usage."""
    return statements.ledger_view(ctx, caller, period)
