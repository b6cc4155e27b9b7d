"""What the API answers on an error: `{"error": {"code", "message", "where"}}` (docs/api.md)."""

from __future__ import annotations

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    code: str
    message: str
    where: str | None = None


class ErrorRead(BaseModel):
    error: ErrorDetail
