"""Nodes: a customer's instance, an appliance's front-end or backend, an external host, a
site's host; their interfaces and sandbox limits."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from facade.domain.names import LOCAL_HOST
from facade.domain.states import NodeStatus
from facade.readmodels.paging import Page


class InterfaceRead(BaseModel):
    name: str
    subnet: str
    ip: str


class LimitsRead(BaseModel):
    memory_mb: int
    pids: int
    cpu_weight: int


class NodeRead(BaseModel):
    name: str
    account: str
    role: str
    netns: str
    status: NodeStatus
    appliance: str | None
    interfaces: list[InterfaceRead]
    limits: LimitsRead
    # what the node's management agent last said, for front-ends and backends
    management: dict[str, Any] | None = None
    # the public addresses translated to its interfaces (an instance's)
    public_ips: list[str] = Field(default_factory=list)
    # the host it is on (docs/multi-host.md); every node is on the local host in this version,
    # which is also what an older control plane that does not say means
    host: str = LOCAL_HOST


class ExternalRead(NodeRead):
    ip: str | None
    gateway: str


class SiteHostRead(NodeRead):
    ip: str | None
    site: str | None


class ExecRead(BaseModel):
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool


class NodePage(Page[NodeRead]):
    """A page of instances: GET /v1/instances."""


class ExternalPage(Page[ExternalRead]):
    """A page of external hosts: GET /v1/externals."""
