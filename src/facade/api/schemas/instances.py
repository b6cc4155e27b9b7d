"""Instances and the nodes of appliances: interfaces, sandbox limits, exec. A node's answer
(NodeRead, InterfaceRead, LimitsRead) is the read model of facade.readmodels.nodes."""

from __future__ import annotations

from pydantic import Field, StrictBool, StrictInt

from facade.api.schemas.common import Body
from facade.domain.counts import MAX_INTERFACES
from facade.domain.ipam import MAX_IP_TEXT
from facade.domain.names import MAX_NAME, MAX_SUBNET_REF
from facade.readmodels.nodes import ExecRead, InterfaceRead, LimitsRead, NodePage, NodeRead

__all__ = ["ExecCreate", "ExecRead", "InstanceCreate", "InterfaceCreate", "InterfaceRead",
           "LimitsBody", "LimitsRead", "NodePage", "NodeRead"]


class InterfaceCreate(Body):
    subnet: str = Field(max_length=MAX_SUBNET_REF)
    ip: str | None = Field(default=None, max_length=MAX_IP_TEXT)


class LimitsBody(Body):
    """A node's sandbox limits (docs/security.md); a field left out keeps its value, null
    resets it to the default."""

    memory_mb: StrictInt | None = None
    pids: StrictInt | None = None
    cpu_weight: StrictInt | None = None


class InstanceCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    account: str | None = Field(default=None, max_length=MAX_NAME)
    interfaces: list[InterfaceCreate] = Field(max_length=MAX_INTERFACES)
    limits: LimitsBody | None = None
    public_ip: StrictBool = Field(default=False, description=(
        "a standard public address for eth0, released with the instance; its network needs "
        "a public gateway"))
    host: str | None = Field(default=None, max_length=MAX_NAME, description=(
        "the host it is placed on (a ready host's name), the operator only; without it the "
        "scheduler places it (the local host while no simulated host runs)"))


class ExecCreate(Body):
    argv: list[str] = Field(min_length=1, max_length=256)
    timeout: float = 30.0
    stdin: str | None = Field(default=None, max_length=1_000_000)
    # run as the host's root, outside the node's sandbox: the operator only
    host: bool = False


