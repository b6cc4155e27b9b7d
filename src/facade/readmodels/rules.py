"""Security rules (docs/security.md)."""

from __future__ import annotations

from pydantic import BaseModel

from facade.readmodels.paging import Page


class RuleRead(BaseModel):
    direction: str
    action: str
    protocol: str
    ports: str | None
    cidr: str
    priority: int


class RulePage(Page[RuleRead]):
    """A page of security rules: a subnet's or an interface's GET .../rules."""
