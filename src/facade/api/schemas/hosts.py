"""Hosts (docs/multi-host.md): the body that adds a simulated host, and the host agent's
(registration, heartbeat). The answer is the read
model of facade.readmodels.hosts."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictInt

from facade.api.schemas.common import Body
from facade.domain.hosts import MAX_CAPACITY
from facade.domain.names import MAX_NAME
from facade.readmodels.hosts import HeartbeatRead, HostPage, HostRead, HostTokenRead

__all__ = ["AgentHeartbeat", "AgentRegister", "HeartbeatRead", "HostCreate", "HostPage",
           "HostRead", "HostTokenRead"]


class HostCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    # true: the only kind that may be added in this version (a real machine will join with
    # its host agent); required, so that nobody adds one believing it is a real machine
    simulated: StrictBool
    address: str | None = Field(default=None, max_length=15)  # default: the next free one
    capacity: Annotated[StrictInt, Field(ge=1, le=MAX_CAPACITY)] | None = None


class AgentHeartbeat(Body):
    # the id the agent chose at its start (domain.hosts.check_agent_id says what it may be)
    agent: str = Field(max_length=64)


class AgentRegister(AgentHeartbeat):
    underlay: str = Field(max_length=15)  # the host's underlay address (IPv4)
