"""Request and answer schemas (pydantic): `XCreate` for bodies, `XRead` for answers.

Bodies forbid unknown fields so a typo is a clear 422, not a silently ignored setting.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str
    message: str
    where: str | None = None


class ErrorRead(BaseModel):
    error: ErrorDetail


class AccountCreate(Body):
    name: str = Field(max_length=40)


class AccountRead(BaseModel):
    name: str
    operator: bool


class TokenRead(BaseModel):
    account: str
    token: str


class SubnetCreate(Body):
    name: str = Field(max_length=40)
    cidr: str = Field(max_length=18)


class SubnetRead(BaseModel):
    name: str
    network: str
    account: str
    cidr: str
    gateway: str
    used: int
    capacity: int
    bridge: str


class NetworkCreate(Body):
    name: str = Field(max_length=40)
    account: str | None = Field(default=None, max_length=40)
    cidr: str = Field(max_length=18)
    subnets: list[SubnetCreate] = Field(default_factory=list, max_length=256)


class NetworkRead(BaseModel):
    name: str
    account: str
    cidr: str
    router: str
    subnets: list[SubnetRead]


class InterfaceCreate(Body):
    subnet: str = Field(max_length=81)
    ip: str | None = Field(default=None, max_length=15)


class InterfaceRead(BaseModel):
    name: str
    subnet: str
    ip: str


class InstanceCreate(Body):
    name: str = Field(max_length=40)
    account: str | None = Field(default=None, max_length=40)
    interfaces: list[InterfaceCreate] = Field(max_length=8)


class NodeRead(BaseModel):
    name: str
    account: str
    role: str
    netns: str
    status: str
    appliance: str | None
    interfaces: list[InterfaceRead]
    # what the node's management agent last said, for front-ends and backends
    management: dict[str, Any] | None = None


class ExecCreate(Body):
    argv: list[str] = Field(min_length=1, max_length=256)
    timeout: float = 30.0
    stdin: str | None = Field(default=None, max_length=1_000_000)


class ExecRead(BaseModel):
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool


class ServiceCreate(Body):
    name: str = Field(max_length=40)
    account: str | None = Field(default=None, max_length=40)
    workload: str | None = Field(default=None, max_length=40)
    command: str | None = Field(default=None, max_length=4096)
    port: StrictInt
    backend_subnet: str = Field(max_length=81)
    management_subnet: str = Field(max_length=81)
    health_path: str | None = Field(default=None, max_length=200)
    # the appliance this service's backends call (chained appliances, docs/composition.md)
    upstream: str | None = Field(default=None, max_length=40)


class ServiceRead(BaseModel):
    name: str
    account: str
    workload: str | None
    command: str | None
    port: int
    health_path: str | None
    backend_subnet: str
    management_subnet: str
    upstream: str | None = None  # shown to the provider and the operator only


class ApplianceCreate(Body):
    name: str = Field(max_length=40)
    account: str | None = Field(default=None, max_length=40)
    service: str = Field(max_length=40)
    subnet: str = Field(max_length=81)
    backends: StrictInt = 1


class ApplianceUpdate(Body):
    backends: StrictInt


class Endpoint(BaseModel):
    ip: str | None
    port: int


class ApplianceRead(BaseModel):
    name: str
    account: str
    service: str
    provider: str
    subnet: str
    status: str
    status_detail: str
    desired_backends: int
    backend_count: int  # backends that exist and are not leaving (visible to the customer too)
    endpoint: Endpoint
    frontend: NodeRead | None
    backends: list[NodeRead]
    # chains (docs/composition.md): the upstream the service names and the live appliance it
    # resolves to (provider's view); the appliances whose backends call this one
    upstream: str | None = None
    uses: list[str] = []
    used_by: list[str] = []


class ScenarioCreate(Body):
    yaml: str = Field(max_length=1_048_576)
    filename: str = Field(default="<scenario>", max_length=255)


class Change(BaseModel):
    action: str
    kind: str
    name: str


class ScenarioRead(BaseModel):
    changes: list[Change]
    appliances: list[str]


class EventRead(BaseModel):
    time: str
    kind: str
    object: str
    message: str


class RuleCreate(Body):
    """A security rule (docs/security.md); values are checked by the domain (400 naming the
    field), types and unknown fields by the schema (422)."""

    direction: str = Field(max_length=16)
    action: str = Field(max_length=16)
    protocol: str = Field(default="any", max_length=16)
    ports: str | None = Field(default=None, max_length=16)
    cidr: str = Field(default="0.0.0.0/0", max_length=43)
    priority: StrictInt


class RuleRead(BaseModel):
    direction: str
    action: str
    protocol: str
    ports: str | None
    cidr: str
    priority: int
