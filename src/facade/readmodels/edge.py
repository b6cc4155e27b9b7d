"""The edge (docs/edge.md): public address pools and addresses, customer sites, private
channels (VPNs). External hosts and sites' hosts are nodes (readmodels.nodes)."""

from __future__ import annotations

from pydantic import BaseModel

from facade.readmodels.paging import Page


class PoolRead(BaseModel):
    cidr: str
    used: int
    capacity: int


class Association(BaseModel):
    instance: str | None
    appliance: str | None = None
    interface: str | None
    site: str | None = None
    private_ip: str | None


class PublicIpRead(BaseModel):
    address: str
    account: str
    kind: str
    associated: Association | None


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


class PoolPage(Page[PoolRead]):
    """A page of address pools: GET /v1/ip-pools."""


class PublicIpPage(Page[PublicIpRead]):
    """A page of public addresses: GET /v1/public-ips."""


class SitePage(Page[SiteRead]):
    """A page of sites: GET /v1/sites."""


class VpnPage(Page[VpnRead]):
    """A page of private channels: GET /v1/vpns."""
