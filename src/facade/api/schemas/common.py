"""What every route shares: the strict body base, a list route's page and an error answer
(read models: facade.readmodels.paging, facade.readmodels.errors)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from facade.readmodels.errors import ErrorDetail, ErrorRead
from facade.readmodels.paging import Page

__all__ = ["Body", "ErrorDetail", "ErrorRead", "Page"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

