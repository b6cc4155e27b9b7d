"""`Idempotency-Key` on POST (Stripe's habit, an IETF draft): a client that retries a create
after a lost answer sends the same key and gets the first answer again, the work done once
(service/idempotency.py keeps the keys). The key is the token's own; the response to a replay
carries `Idempotent-Replayed: true`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from facade.api.answers import error_answer
from facade.api.deps import get_ctx
from facade.domain.errors import FacadeError
from facade.service import idempotency


def _sha(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def idempotent(request: Request,
                     call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    key = request.headers.get(idempotency.HEADER)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if key is None or request.method != "POST" or scheme.lower() != "bearer" \
            or not token.strip():
        return await call_next(request)  # (a request without a token gets the route's 401)
    ctx = get_ctx(request)
    body = await request.body()
    scope = _sha(token.strip().encode())
    fingerprint = _sha(request.method.encode(), request.url.path.encode(),
                       request.url.query.encode(), body)
    try:
        idempotency.check_key(key)
        replay = await run_in_threadpool(idempotency.begin, ctx, scope, key, fingerprint)
    except FacadeError as exc:
        return error_answer(exc)
    if replay is not None:
        headers = {"Idempotent-Replayed": "true"}
        if replay.location:
            headers["Location"] = replay.location
        return Response(replay.answer, status_code=replay.status, headers=headers,
                        media_type="application/json")
    response = await call_next(request)
    content = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]
    await run_in_threadpool(idempotency.finish, ctx, scope, key, response.status_code,
                            content.decode("utf-8", "replace"), response.headers.get("location"))
    return Response(content, status_code=response.status_code, headers=dict(response.headers))
