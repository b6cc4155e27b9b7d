"""The API's error answer, one shape for every error (`{"error": {"code", "message",
"where"}}`), with `Retry-After` on a 429."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from facade.domain.errors import FacadeError, RateLimited
from facade.service import rate_limits


def error(status: int, code: str, message: str, where: str | None = None) -> JSONResponse:
    return JSONResponse(status_code=status,
                        content={"error": {"code": code, "message": message, "where": where}})


def error_answer(exc: FacadeError) -> JSONResponse:
    answer = error(exc.status, exc.code, exc.message, exc.where)
    if isinstance(exc, RateLimited):
        answer.headers["Retry-After"] = rate_limits.retry_after(exc.retry_after)
    return answer
