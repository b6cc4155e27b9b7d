"""Security rules (docs/security.md). The answer is the read model of
facade.readmodels.rules."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt

from facade.api.schemas.common import Body
from facade.readmodels.rules import RulePage, RuleRead

__all__ = ["RuleCreate", "RulePage", "RuleRead"]


class RuleCreate(Body):
    """A security rule (docs/security.md); values are checked by the domain (400 naming the
    field), types and unknown fields by the schema (422)."""

    direction: str = Field(max_length=16)
    action: str = Field(max_length=16)
    protocol: str = Field(default="any", max_length=16)
    ports: Annotated[str, Field(max_length=16)] | StrictInt | None = None  # "80", 80, "80-90"
    cidr: str | None = Field(default="0.0.0.0/0", max_length=43)  # null: 0.0.0.0/0
    priority: StrictInt
