"""What every route shares: the strict body base, a list route's page, an error answer (a
read model, facade.readmodels.errors)."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from facade.readmodels.errors import ErrorDetail, ErrorRead

__all__ = ["Body", "ErrorDetail", "ErrorRead", "Page"]

T = TypeVar("T")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    """One page of a list route (docs/api.md, "Paging")."""

    items: list[T]
    next_cursor: str | None = Field(description=(
        "opaque: give it as `cursor` to get the next page; null on the last page"))
