"""Scenario files applied through the API, and the event log. The answers are the read
models of facade.readmodels.system."""

from __future__ import annotations

from pydantic import Field

from facade.api.schemas.common import Body
from facade.domain.scenario import MAX_BYTES as MAX_SCENARIO_BYTES
from facade.readmodels.system import Change, EventPage, EventRead, ScenarioRead

__all__ = ["Change", "EventPage", "EventRead", "ScenarioCreate", "ScenarioRead"]


class ScenarioCreate(Body):
    yaml: str = Field(max_length=MAX_SCENARIO_BYTES)  # characters; the file's rule is bytes
    filename: str = Field(default="<scenario>", max_length=255)
