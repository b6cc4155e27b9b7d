"""Security rules (docs/security.md)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StrictInt

from facade.api.schemas.common import Body


class RuleCreate(Body):
    """A security rule (docs/security.md); values are checked by the domain (400 naming the
    field), types and unknown fields by the schema (422)."""

    direction: str = Field(max_length=16)
    action: str = Field(max_length=16)
    protocol: str = Field(default="any", max_length=16)
    ports: Annotated[str, Field(max_length=16)] | StrictInt | None = None  # "80", 80, "80-90"
    cidr: str | None = Field(default="0.0.0.0/0", max_length=43)  # null: 0.0.0.0/0
    priority: StrictInt


class RuleRead(BaseModel):
    direction: str
    action: str
    protocol: str
    ports: str | None
    cidr: str
    priority: int
