"""What every route shares: the strict body base, a list route's page, an error answer."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    """One page of a list route (docs/api.md, "Paging")."""

    items: list[T]
    next_cursor: str | None = Field(description=(
        "opaque: give it as `cursor` to get the next page; null on the last page"))


class ErrorDetail(BaseModel):
    code: str
    message: str
    where: str | None = None


class ErrorRead(BaseModel):
    error: ErrorDetail
