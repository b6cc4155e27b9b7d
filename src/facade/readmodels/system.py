"""Scenario files applied (their changes), the event log and the liveness answer."""

from __future__ import annotations

from pydantic import BaseModel, Field

from facade.readmodels.paging import Page


class Change(BaseModel):
    action: str
    kind: str
    name: str


class ScenarioRead(BaseModel):
    changes: list[Change]
    appliances: list[str]
    dry_run: bool = False  # the changes are what apply would make; nothing was


class EventRead(BaseModel):
    time: str
    kind: str
    object: str
    message: str
    request_id: str | None = Field(None, description=(
        "the X-Request-ID of the API request that caused it; null for what the controller "
        "did on its own"))
    account: str | None = Field(None, description=(
        "the account whose object it is about; null for the provider network's own events"))



class HealthRead(BaseModel):
    """GET /v1/health: the API answers (liveness; no token needed)."""

    status: str = "ok"

class EventPage(Page[EventRead]):
    """A page of events: GET /v1/events."""
