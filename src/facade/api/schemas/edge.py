"""The edge (docs/edge.md): external hosts, public address pools and addresses, customer
sites and their hosts, private channels (VPNs). The answers are the read models of
facade.readmodels.edge and .nodes."""

from __future__ import annotations

from pydantic import Field

from facade.api.schemas.common import Body
from facade.domain.ipam import MAX_CIDR_TEXT, MAX_IP_TEXT
from facade.domain.names import MAX_NAME
from facade.readmodels.edge import (
    Association,
    PoolPage,
    PoolRead,
    PublicIpPage,
    PublicIpRead,
    SiteHostRef,
    SitePage,
    SiteRead,
    VpnEnds,
    VpnPage,
    VpnRead,
)
from facade.readmodels.nodes import ExternalPage, ExternalRead, SiteHostRead

__all__ = ["Association", "ExternalCreate", "ExternalPage", "ExternalRead", "PoolCreate",
           "PoolPage", "PoolRead", "PublicIpAssociate", "PublicIpCreate", "PublicIpPage",
           "PublicIpRead", "SiteCreate", "SiteHostCreate", "SiteHostRead", "SiteHostRef",
           "SitePage", "SiteRead", "VpnCreate", "VpnEnds", "VpnPage", "VpnRead"]


class ExternalCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    account: str | None = Field(default=None, max_length=MAX_NAME)
    ip: str | None = Field(default=None, max_length=MAX_IP_TEXT)


class PoolCreate(Body):
    cidr: str = Field(max_length=MAX_CIDR_TEXT)


class PublicIpCreate(Body):
    account: str | None = Field(default=None, max_length=MAX_NAME)


class PublicIpAssociate(Body):
    instance: str | None = Field(default=None, max_length=MAX_NAME)
    iface: str = Field(default="eth0", max_length=5)
    appliance: str | None = Field(default=None, max_length=MAX_NAME, description=(
        "instead of an instance: the appliance whose endpoint gets the address"))
    site: str | None = Field(default=None, max_length=MAX_NAME, description=(
        "instead of an instance: a customer site, reached over its channel"))
    site_address: str | None = Field(default=None, max_length=MAX_IP_TEXT, description=(
        "with site: the address of the site's host"))


class SiteCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    account: str | None = Field(default=None, max_length=MAX_NAME)
    cidr: str = Field(max_length=MAX_CIDR_TEXT)


class SiteHostCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    ip: str | None = Field(default=None, max_length=MAX_IP_TEXT)


class VpnCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    network: str = Field(max_length=MAX_NAME)
    site: str = Field(max_length=MAX_NAME)


