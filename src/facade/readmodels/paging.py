"""A page of a list route: its items (read models) and the cursor of the next page
(docs/api.md, "Paging"). The service layer builds one (`XPage`, beside its items' model), every
list route answers it, and the client parses each page of a list into it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, Self, TypeVar

from pydantic import BaseModel, Field

ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    """One page of a list route. Each list route's own is a subclass named for its items,
    beside them (`AppliancePage(Page[ApplianceRead])`), so that the OpenAPI document names
    its schema `AppliancePage` (not pydantic's `Page_ApplianceRead_`) and a generated client
    gets a class of that name."""

    items: list[ItemT]
    next_cursor: str | None = Field(description=(
        "opaque: give it as `cursor` to get the next page; null on the last page"))


    @classmethod
    def of(cls, items: Sequence[ItemT], next_cursor: str | None) -> Self:
        """The page of `items` (read models, already built: kept as they are, not copied
        field by field), and the cursor of the next (None: the last page)."""
        return cls(items=list(items), next_cursor=next_cursor)
