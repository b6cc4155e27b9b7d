"""Networks, their subnets, and the grants that share a subnet with another account. The
answers are the read models of facade.readmodels.networks."""

from __future__ import annotations

from pydantic import Field, StrictBool

from facade.api.schemas.common import Body
from facade.domain.counts import MAX_SUBNETS
from facade.domain.ipam import MAX_CIDR_TEXT
from facade.domain.names import MAX_NAME
from facade.readmodels.networks import (
    GrantPage,
    GrantRead,
    GrantRevoked,
    NetworkPage,
    NetworkRead,
    SubnetPage,
    SubnetRead,
)

__all__ = ["GrantCreate", "GrantPage", "GrantRead", "GrantRevoked", "NetworkCreate",
           "NetworkPage", "NetworkRead", "NetworkUpdate", "SubnetCreate", "SubnetPage",
           "SubnetRead", "SubnetUpdate"]


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


class GrantCreate(Body):
    account: str = Field(max_length=MAX_NAME)
