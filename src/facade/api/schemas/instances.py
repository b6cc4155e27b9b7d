"""Instances and the nodes of appliances: interfaces, sandbox limits, exec."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, StrictBool, StrictInt

from facade.api.schemas.common import Body
from facade.domain.counts import MAX_INTERFACES
from facade.domain.ipam import MAX_IP_TEXT
from facade.domain.names import MAX_NAME, MAX_SUBNET_REF


class InterfaceCreate(Body):
    subnet: str = Field(max_length=MAX_SUBNET_REF)
    ip: str | None = Field(default=None, max_length=MAX_IP_TEXT)


class InterfaceRead(BaseModel):
    name: str
    subnet: str
    ip: str


class LimitsBody(Body):
    """A node's sandbox limits (docs/security.md); a field left out keeps its value, null
    resets it to the default."""

    memory_mb: StrictInt | None = None
    pids: StrictInt | None = None
    cpu_weight: StrictInt | None = None


class LimitsRead(BaseModel):
    memory_mb: int
    pids: int
    cpu_weight: int


class InstanceCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    account: str | None = Field(default=None, max_length=MAX_NAME)
    interfaces: list[InterfaceCreate] = Field(max_length=MAX_INTERFACES)
    limits: LimitsBody | None = None
    public_ip: StrictBool = Field(default=False, description=(
        "a standard public address for eth0, released with the instance; its network needs "
        "a public gateway"))


class NodeRead(BaseModel):
    name: str
    account: str
    role: str
    netns: str
    status: str
    appliance: str | None
    interfaces: list[InterfaceRead]
    limits: LimitsRead
    # what the node's management agent last said, for front-ends and backends
    management: dict[str, Any] | None = None
    # the public addresses translated to its interfaces (an instance's)
    public_ips: list[str] = Field(default_factory=list)


class ExecCreate(Body):
    argv: list[str] = Field(min_length=1, max_length=256)
    timeout: float = 30.0
    stdin: str | None = Field(default=None, max_length=1_000_000)
    # run as the host's root, outside the node's sandbox: the operator only
    host: bool = False


class ExecRead(BaseModel):
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool
