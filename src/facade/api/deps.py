"""Dependencies of every route: the control plane's Context and the authenticated Caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

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


Ctx = Annotated[Context, Depends(get_ctx)]
Auth = Annotated[Caller, Depends(get_caller)]
