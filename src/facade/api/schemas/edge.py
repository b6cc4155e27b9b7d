"""The edge (docs/edge.md): external hosts, public address pools and addresses, customer sites and their hosts, private channels (VPNs)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from facade.api.schemas.common import Body
from facade.domain.ipam import MAX_CIDR_TEXT, MAX_IP_TEXT
from facade.domain.names import MAX_NAME
from facade.readmodels.nodes import ExternalRead, SiteHostRead

__all__ = ["Association", "ExternalCreate", "ExternalRead", "PoolCreate", "PoolRead",
           "PublicIpAssociate", "PublicIpCreate", "PublicIpRead", "SiteCreate", "SiteHostCreate",
           "SiteHostRead", "SiteHostRef", "SiteRead", "VpnCreate", "VpnEnds", "VpnRead"]


class ExternalCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    account: str | None = Field(default=None, max_length=MAX_NAME)
    ip: str | None = Field(default=None, max_length=MAX_IP_TEXT)


class PoolCreate(Body):
    cidr: str = Field(max_length=MAX_CIDR_TEXT)


class PoolRead(BaseModel):
    cidr: str
    used: int
    capacity: int


class PublicIpCreate(Body):
    account: str | None = Field(default=None, max_length=MAX_NAME)


class Association(BaseModel):
    instance: str | None
    appliance: str | None = None
    interface: str | None
    site: str | None = None
    private_ip: str | None


class PublicIpAssociate(Body):
    instance: str | None = Field(default=None, max_length=MAX_NAME)
    iface: str = Field(default="eth0", max_length=5)
    appliance: str | None = Field(default=None, max_length=MAX_NAME, description=(
        "instead of an instance: the appliance whose endpoint gets the address"))
    site: str | None = Field(default=None, max_length=MAX_NAME, description=(
        "instead of an instance: a customer site, reached over its channel"))
    site_address: str | None = Field(default=None, max_length=MAX_IP_TEXT, description=(
        "with site: the address of the site's host"))


class PublicIpRead(BaseModel):
    address: str
    account: str
    kind: str
    associated: Association | None


class SiteCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    account: str | None = Field(default=None, max_length=MAX_NAME)
    cidr: str = Field(max_length=MAX_CIDR_TEXT)


class SiteHostRef(BaseModel):
    name: str
    ip: str | None
    status: str


class SiteRead(BaseModel):
    name: str
    account: str
    cidr: str
    router: str
    gateway_ip: str | None
    vpn: str | None
    network: str | None
    hosts: list[SiteHostRef]


class SiteHostCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    ip: str | None = Field(default=None, max_length=MAX_IP_TEXT)


class VpnCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    network: str = Field(max_length=MAX_NAME)
    site: str = Field(max_length=MAX_NAME)


class VpnEnds(BaseModel):
    network: str
    site: str


class VpnRead(BaseModel):
    name: str
    account: str
    network: str | None
    site: str | None
    status: str
    engine: str
    port: int
    network_gateway: str | None
    site_gateway: str | None
    network_public_key: str
    site_public_key: str
    network_routes: list[str]
    site_routes: list[str]
    interfaces: VpnEnds
    created_at: str
    deleted_at: str | None
