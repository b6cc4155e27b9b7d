"""Dependencies of the routes: the control plane's Context, the authenticated Caller, and the
paging parameters of list routes."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from facade.api.etags import V, fields
from facade.domain import names
from facade.domain.names import MAX_NAME
from facade.domain.paging import DEFAULT_LIMIT, MAX_LIMIT, PageRequest
from facade.service import accounts, host_agents
from facade.service.context import Caller, Context


def get_ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


# The API's one security scheme, declared in the OpenAPI document (components.securitySchemes)
# so that generated clients send the token; the answer to a missing or unknown one stays the
# API's own 401 (accounts.authenticate), hence auto_error=False.
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer", description=(
    "An account's token (`facade account token ACCOUNT`, or the operator's from "
    "`operator.token`), sent as `Authorization: Bearer TOKEN`."))


def get_caller(ctx: Annotated[Context, Depends(get_ctx)],
               credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
               ) -> Caller:
    token = credentials.credentials.strip() if credentials is not None else None
    return accounts.authenticate(ctx, token)


def get_agent(ctx: Annotated[Context, Depends(get_ctx)],
              credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
              ) -> host_agents.AgentCaller:
    """A host agent's routes take its host's token, and only that (service/host_agents.py)."""
    token = credentials.credentials.strip() if credentials is not None else None
    return host_agents.authenticate(ctx, token)


def get_page(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=(
        f"items per page, 1-{MAX_LIMIT}"))] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(description=(
        "the `next_cursor` of the previous page, unchanged; none for the first page"))] = None,
) -> PageRequest:
    # the cursor's length and content are checked by PageRequest: one 400 for any bad cursor
    return PageRequest(limit=limit, cursor=cursor)


def located(response: Response, template: str, view: V,
            caller: Caller | None = None) -> V:
    """`view` (a 201's or 202's answer), with `Location` naming where it is read: `template`
    filled from the view's own fields ("/v1/networks/{name}"). With `caller`, an object named
    among another account's names (the operator creating for an account, a provider deleting
    a customer's appliance) carries `?account=` (docs/api.md, "Names"): following it finds
    that object, never a same-named one of another account (the operator's bare names prefer
    nobody's, so its Location always says whose)."""
    shown = fields(view)
    where = template.format(**shown)
    owner = shown.get("account")
    if caller is not None and owner and (caller.operator or owner != caller.account):
        where += "?" + urlencode({"account": owner})
    response.headers["Location"] = where
    return view


# a list's filters (each narrows the list; docs/api.md)
AccountFilter = Annotated[str | None, Query(max_length=MAX_NAME, description=(
    "only those of this account (an appliance: its customer; a service: its provider)"))]
# the account an item route's object is named in (docs/api.md, "Names"): names are unique per
# account, so the operator, and anyone reading a visible object of another account (an offer),
# says whose; without it the name is the caller's own object, else the one it may see
Owner = Annotated[str | None, Query(alias="account", max_length=MAX_NAME, description=(
    "the account whose object this is (default: the caller's own, else the only one of that "
    "name the caller may see)"))]
# the same on a grant's route, whose path names the grantee `account` already
SubnetOwner = Annotated[str | None, Query(alias="subnet_account", max_length=MAX_NAME,
                                          description="the account whose subnet this is")]


def named(name: str, owner: str | None) -> str:
    """The reference a route's path and `?account=` make: NAME, or ACCOUNT/NAME (a subnet's
    NETWORK/SUBNET becomes ACCOUNT/NETWORK/SUBNET)."""
    if owner is None:
        return name
    return f"{names.check_name(owner, kind='account', where='account')}/{name}"


StatusFilter = Annotated[str | None, Query(max_length=20, description="only those in this status")]

Ctx = Annotated[Context, Depends(get_ctx)]
Auth = Annotated[Caller, Depends(get_caller)]
AgentAuth = Annotated[host_agents.AgentCaller, Depends(get_agent)]
Paging = Annotated[PageRequest, Depends(get_page)]
