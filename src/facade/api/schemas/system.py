"""Scenario files applied through the API, the event log, the topology and the liveness
answer. The answers are the read models of facade.readmodels.system and .topology."""

from __future__ import annotations

from pydantic import Field

from facade.api.schemas.common import Body
from facade.domain.scenario import MAX_BYTES as MAX_SCENARIO_BYTES
from facade.readmodels.system import Change, EventPage, EventRead, HealthRead, ScenarioRead
from facade.readmodels.topology import (
    TopologyApplianceRead,
    TopologyChannelRead,
    TopologyNetworkRead,
    TopologyNodeRead,
    TopologyRead,
    TopologySubnetRead,
)

__all__ = ["Change", "EventPage", "EventRead", "HealthRead", "ScenarioCreate", "ScenarioRead",
           "TopologyApplianceRead", "TopologyChannelRead", "TopologyNetworkRead",
           "TopologyNodeRead", "TopologyRead", "TopologySubnetRead"]


class ScenarioCreate(Body):
    yaml: str = Field(max_length=MAX_SCENARIO_BYTES)  # characters; the file's rule is bytes
    filename: str = Field(default="<scenario>", max_length=255)
