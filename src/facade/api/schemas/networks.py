"""Networks, their subnets, and the grants that share a subnet with another account."""

from __future__ import annotations

from pydantic import BaseModel, Field, StrictBool

from facade.api.schemas.common import Body
from facade.domain.counts import MAX_SUBNETS
from facade.domain.ipam import MAX_CIDR_TEXT
from facade.domain.names import MAX_NAME


class SubnetCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    cidr: str = Field(max_length=MAX_CIDR_TEXT)
    internet: StrictBool = Field(default=True, description=(
        "routed to the Internet through the network's public gateway; false: a private "
        "subnet (docs/edge.md)"))
    sites: StrictBool = Field(default=True, description=(
        "routed to the customer sites the network's private gateway reaches (its vpns); "
        "false: kept off every channel (docs/edge.md)"))


class SubnetUpdate(Body):
    internet: StrictBool | None = None
    sites: StrictBool | None = None


class SubnetRead(BaseModel):
    name: str
    network: str
    account: str
    cidr: str
    gateway: str
    used: int
    capacity: int
    bridge: str
    internet: bool = True
    sites: bool = True


class NetworkCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    account: str | None = Field(default=None, max_length=MAX_NAME)
    cidr: str = Field(max_length=MAX_CIDR_TEXT)
    subnets: list[SubnetCreate] | None = Field(default=None, max_length=MAX_SUBNETS)
    public_gateway: StrictBool = Field(default=False, description=(
        "its router connects it to the intermediate network (docs/edge.md)"))
    outbound_nat: StrictBool = Field(default=False, description=(
        "instances without a public address reach out with the gateway's"))


class NetworkUpdate(Body):
    public_gateway: StrictBool | None = None
    outbound_nat: StrictBool | None = None


class NetworkRead(BaseModel):
    name: str
    account: str
    cidr: str
    router: str
    kind: str = "private"
    public_gateway: bool = False
    outbound_nat: bool = False
    gateway_ip: str | None = None
    subnets: list[SubnetRead]


class GrantCreate(Body):
    account: str = Field(max_length=MAX_NAME)


class GrantRead(BaseModel):
    subnet: str
    account: str
    created_at: str
    used_by: list[str]  # the grantee's instances with an interface in the subnet


class GrantRevoked(BaseModel):
    subnet: str
    account: str
    still_used_by: list[str]  # they keep their interfaces until deleted
    message: str
