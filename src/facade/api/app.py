"""The FastAPI application: routers, and the one place errors become HTTP answers.

Every error has the same JSON shape, `{"error": {"code", "message", "where"}}`: rule errors
keep their status (400/401/403/404/409), validation errors are 422 naming the field, and an
unexpected failure is a 500 that says so without a traceback (it is logged; api/observe.py
answers it, with the request's id, and the handler here is the backstop).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from facade import __version__
from facade.api import console
from facade.api.answers import error, error_answer
from facade.api.idempotency import idempotent
from facade.api.observe import Observe
from facade.api.routes import (
    accounts,
    appliances,
    autoscale,
    billing,
    edge,
    host_agents,
    hosts,
    instances,
    load_balancers,
    networks,
    quotas,
    rules,
    services,
    sites,
    system,
    usage,
)
from facade.api.schemas import ErrorRead
from facade.domain.errors import FacadeError
from facade.service.context import Context

log = logging.getLogger("facade.api")
MAX_BODY = 2 * 1024 * 1024
# What the OpenAPI document says every route may answer besides success: the
# error shape below (FastAPI's default 422 schema, `{"detail": [...]}`, is not what we send).
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorRead, "description": text} for status, text in (
        (400, "invalid request (code `invalid`)"), (401, "missing or unknown token"),
        (403, "not allowed for this token"), (404, "no such object (or not visible)"),
        (409, "conflict, exhausted, in_use or quota_exceeded"),
        (412, "the object changed since the version If-Match names (code "
              "`precondition_failed`)"), (413, "request body too large"),
        (422, "malformed request (code `invalid`, `where` names the field)"),
        (429, "too many requests from this token (code `rate_limited`; `Retry-After` says "
              "when to come back)"))}


def _loc(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def create_app(ctx: Context) -> FastAPI:
    app = FastAPI(title="Facade", version=__version__,
                  description="Composed appliance services in virtual private networks.")
    app.state.ctx = ctx
    for module in (accounts, quotas, networks, instances, services, load_balancers, appliances,
                   rules, billing, system, usage, autoscale, edge, sites, hosts, host_agents):
        app.include_router(module.router, responses=ERRORS)
    console.mount(app)  # the web console at / (docs/console.md)

    @app.exception_handler(FacadeError)
    async def facadeerror(_: Request, exc: FacadeError) -> JSONResponse:
        return error_answer(exc)

    @app.exception_handler(RequestValidationError)
    async def validationerror(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = _loc(first.get("loc", ()))
        return error(422, "invalid", f"{where}: {first.get('msg', 'invalid')}", where)

    @app.exception_handler(StarletteHTTPException)
    async def httperror(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(IntegrityError)
    async def integrityerror(_: Request, exc: IntegrityError) -> JSONResponse:
        # The database's unique constraints are the backstop of the service layer's checks
        # (another writer got there first); the transaction was rolled back.
        log.warning("refused by a database constraint: %s", exc.orig)
        return error(409, "conflict", "the request clashes with a concurrent change (a name "
                      "or an address was just taken); nothing was changed, try again")

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error(500, "internal", f"internal error ({type(exc).__name__}); see the "
                      "control plane's log")

    app.middleware("http")(idempotent)  # inside limit_body: the last added runs first

    @app.middleware("http")
    async def limit_body(request: Request,
                         call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            return error(413, "too_large", f"request body over {MAX_BODY} bytes")
        return await call_next(request)

    # outermost (the last added): every answer, a refused one too, is counted and has its id
    app.add_middleware(Observe)
    return app
