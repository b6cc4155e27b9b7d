"""Hosts: the machines that hold nodes (docs/multi-host.md), as the operator reads them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel

from facade.domain.states import HostState
from facade.readmodels.paging import Page


class HostRead(BaseModel):
    name: str
    # its underlay address; None for the local host (the control plane's own machine)
    address: str | None
    state: str  # ready | draining | lost | removed (domain.states.HostState)
    capacity: int  # nodes it may hold
    nodes: int  # nodes it holds now
    # its agent's last heartbeat; None when it never sent one (the local host has no agent)
    heartbeat: dt.datetime | None
    simulated: bool
    local: bool  # the control plane's own machine: never drained nor removed
    # what its state means now, for a person ("recorded only: ..." for a host added through
    # the API, which nothing makes or places nodes on yet)
    detail: str = ""
    # the account whose dedicated nodes it holds: no other account's node goes on it until
    # it holds none (docs/multi-host.md, "Dedicated tenancy"); None: nobody claims it
    claimed_by: str | None = None


class HostPage(Page[HostRead]):
    """A page of hosts: GET /v1/hosts."""


class HostTokenRead(BaseModel):
    """A new host agent's token: POST /v1/hosts/{name}/tokens (shown once; its digest is
    kept)."""

    host: str
    token: str


class HeartbeatRead(BaseModel):
    """The answer to a host agent's heartbeat: its host's state and how often to beat."""

    host: str
    state: HostState
    every: float  # seconds until the next heartbeat


class IntentRead(BaseModel):
    """One operation for the agent's host (dataplane/intents.py): `op` a DataPlane
    operation's name, `args` its arguments in the data plane's wire form."""

    id: str
    op: str
    args: dict[str, Any]


class HostWorkRead(BaseModel):
    """What `GET /v1/host-agent/work` answers: the intents for the agent's host (none when
    its long poll ended without work)."""

    host: str
    intents: list[IntentRead]


class HostResultsRead(BaseModel):
    """What `POST /v1/host-agent/results` answers: how many answers went to their callers,
    and how many came after their caller gave up (dropped)."""

    accepted: int
    late: int
