"""/v1/accounts: tenants and their tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from facade.api.deps import Auth, Ctx, Paging, located
from facade.api.schemas import AccountCreate, AccountPage, AccountRead, TokenRead
from facade.service import accounts

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])


@router.get("", response_model=AccountPage, operation_id="list_accounts")
def list_accounts(ctx: Ctx, caller: Auth, page: Paging) -> Any:
    return accounts.list_(ctx, caller, page)


@router.post("", status_code=201, response_model=AccountRead, operation_id="create_account")
def create_account(body: AccountCreate, ctx: Ctx, caller: Auth, response: Response) -> Any:
    view = accounts.create(ctx, caller, body.name)
    return located(response, "/v1/accounts/{name}", view)


@router.get("/{name}", response_model=AccountRead, operation_id="get_account")
def get_account(name: str, ctx: Ctx, caller: Auth) -> Any:
    return accounts.get(ctx, caller, name)


@router.delete("/{name}", status_code=204, operation_id="delete_account")
def delete_account(name: str, ctx: Ctx, caller: Auth) -> Response:
    accounts.delete(ctx, caller, name)
    return Response(status_code=204)


@router.post("/{name}/tokens", status_code=201, response_model=TokenRead,
             operation_id="create_token")
def create_token(name: str, ctx: Ctx, caller: Auth) -> Any:
    return accounts.create_token(ctx, caller, name)


@router.post("/{name}/tokens/rotate", status_code=201, response_model=TokenRead,
             operation_id="rotate_tokens")
def rotate_tokens(name: str, ctx: Ctx, caller: Auth) -> Any:
    """Revoke every token of the account and return one new token (shown once)."""
    return accounts.rotate_tokens(ctx, caller, name)
