"""Hosts (docs/multi-host.md): the body that adds a simulated host, and the host agent's
(registration, heartbeat). The answer is the read
model of facade.readmodels.hosts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictInt

from facade.api.schemas.common import Body
from facade.dataplane.intents import MAX_ID
from facade.domain.hosts import MAX_CAPACITY
from facade.domain.names import MAX_NAME
from facade.readmodels.hosts import (
    HeartbeatRead,
    HostPage,
    HostRead,
    HostResultsRead,
    HostTokenRead,
    HostWorkRead,
)

__all__ = ["AgentFailure", "AgentHeartbeat", "AgentRegister", "AgentResult", "AgentResults",
           "HeartbeatRead", "HostCreate", "HostPage", "HostRead", "HostResultsRead",
           "HostTokenRead", "HostWorkRead"]

MAX_RESULTS = 256  # answers in one post (an agent takes at most 100 intents a poll)


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


class AgentFailure(Body):
    """An operation that failed on the host: its driver's error, and whether a retry may
    help (dataplane/errors.py)."""

    message: str = Field(max_length=4000)
    kind: Literal["retry", "fatal"] = "retry"


class AgentResult(Body):
    # the intent's id, as the agent took it; `value` its result in the data plane's wire
    # form (checked against the operation's result type: a 400 naming the field), or `error`
    id: str = Field(min_length=1, max_length=MAX_ID)
    value: Any = None
    error: AgentFailure | None = None


class AgentResults(AgentHeartbeat):
    results: list[AgentResult] = Field(max_length=MAX_RESULTS)
