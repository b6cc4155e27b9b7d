"""Appliances: a customer's instance of a service, its endpoint and nodes. The answer
(ApplianceRead, Endpoint) is the read model of facade.readmodels.appliances."""

from __future__ import annotations

from pydantic import Field, StrictInt

from facade.api.schemas.common import Body
from facade.domain.names import MAX_NAME, MAX_REF, MAX_SUBNET_REF
from facade.domain.tenancy import MAX_LENGTH as MAX_TENANCY
from facade.readmodels.appliances import AppliancePage, ApplianceRead, Endpoint

__all__ = ["ApplianceCreate", "AppliancePage", "ApplianceRead", "ApplianceUpdate", "Endpoint"]


class ApplianceCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    account: str | None = Field(default=None, max_length=MAX_NAME)
    service: str = Field(max_length=MAX_REF)  # NAME or PROVIDER/NAME
    subnet: str = Field(max_length=MAX_SUBNET_REF)
    backends: StrictInt | None = None  # null or left out: 1
    # shared (default) or dedicated (docs/multi-host.md, "Dedicated tenancy"); a dedicated
    # service's appliances are dedicated whatever this says
    tenancy: str | None = Field(default=None, max_length=MAX_TENANCY)


class ApplianceUpdate(Body):
    backends: StrictInt


