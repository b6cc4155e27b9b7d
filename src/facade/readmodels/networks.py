"""Networks, their subnets, and the grants that share a subnet with another account."""

from __future__ import annotations

from pydantic import BaseModel

from facade.readmodels.paging import Page


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


class NetworkPage(Page[NetworkRead]):
    """A page of networks: GET /v1/networks."""


class SubnetPage(Page[SubnetRead]):
    """A page of subnets: GET /v1/subnets."""


class GrantPage(Page[GrantRead]):
    """A page of a subnet's grants: GET /v1/subnets/{network}/{subnet}/grants."""
