"""Dependencies of the routes: the control plane's Context, the authenticated Caller, and the
paging parameters of list routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, Request

from facade.domain.paging import DEFAULT_LIMIT, MAX_LIMIT, PageRequest
from facade.service import accounts
from facade.service.context import Caller, Context


def get_ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def get_caller(ctx: Annotated[Context, Depends(get_ctx)],
               authorization: Annotated[str | None, Header()] = None) -> Caller:
    token = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            token = value.strip()
    return accounts.authenticate(ctx, token)


def get_page(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=(
        f"items per page, 1-{MAX_LIMIT}"))] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(description=(
        "the `next_cursor` of the previous page, unchanged; none for the first page"))] = None,
) -> PageRequest:
    # the cursor's length and content are checked by PageRequest: one 400 for any bad cursor
    return PageRequest(limit=limit, cursor=cursor)


Ctx = Annotated[Context, Depends(get_ctx)]
Auth = Annotated[Caller, Depends(get_caller)]
Paging = Annotated[PageRequest, Depends(get_page)]
