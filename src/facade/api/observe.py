"""Every API request observed, outermost of the app's middleware: its request id and its
latency.

The id: the request's `X-Request-ID` when it sent a valid one (else a 400 naming the header),
or a new one; set as service/request_ids.current while the request is served (its log lines
and the events it causes carry it) and echoed in the answer's `X-Request-ID`.

The latency: `facade_api_request_duration_seconds` (service/metrics.py), by the template of the
route that matched (`/v1/appliances/{name}`, never the path sent: a label must not grow with
what clients make up), the method and the status. An unexpected failure is answered here, as
the app's last handler would (a 500 saying so, logged with its traceback), so that it is
counted and carries its id too.

A plain ASGI middleware rather than a `BaseHTTPMiddleware`: no task and no copy of the body
per request, only a wrapped `send`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facade.api.answers import error, error_answer
from facade.domain.errors import FacadeError
from facade.service import request_ids
from facade.service.metrics import UNMATCHED, Metrics

log = logging.getLogger("facade.api")
_HEADER = request_ids.HEADER.lower().encode()


def _route(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


def _metrics(scope: Scope) -> Metrics | None:
    # the app's context as the routes find it (app.state.ctx, which a test replaces; none yet
    # while it reads the OpenAPI document of an app made without one)
    metrics: Metrics | None = getattr(getattr(scope["app"].state, "ctx", None), "metrics", None)
    return metrics


class Observe:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        sent = [b""]  # the id sent, as bytes
        status = [0]  # the answer's, once it began

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", ()), (_HEADER, sent[0])]
            await send(message)

        given = [v for k, v in scope.get("headers", ()) if k == _HEADER]
        token = request_ids.current.set(None)
        try:
            try:
                rid = request_ids.check(given[0].decode("latin-1")) if given \
                    else request_ids.new()
            except FacadeError as exc:
                sent[0] = request_ids.new().encode()
                await error_answer(exc)(scope, receive, send_with_id)
                return
            sent[0] = rid.encode()
            request_ids.current.set(rid)
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:
                if status[0]:  # the answer began: nothing else can be said
                    raise
                log.exception("unexpected error")
                await error(500, "internal", f"internal error ({type(exc).__name__}); see "
                            "the control plane's log")(scope, receive, send_with_id)
        finally:
            request_ids.current.reset(token)
            metrics = _metrics(scope)
            if metrics is not None:
                metrics.answered(_route(scope), scope["method"], status[0] or 500,
                                 time.perf_counter() - start)
