"""Security rules (docs/security.md)."""

from __future__ import annotations

from pydantic import BaseModel


class RuleRead(BaseModel):
    direction: str
    action: str
    protocol: str
    ports: str | None
    cidr: str
    priority: int
