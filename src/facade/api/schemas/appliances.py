"""Appliances: a customer's instance of a service, its endpoint and nodes. The answer
(ApplianceRead, Endpoint) is the read model of facade.readmodels.appliances."""

from __future__ import annotations

from pydantic import Field, StrictInt

from facade.api.schemas.common import Body
from facade.domain.names import MAX_NAME, MAX_REF, MAX_SUBNET_REF
from facade.readmodels.appliances import AppliancePage, ApplianceRead, Endpoint

__all__ = ["ApplianceCreate", "AppliancePage", "ApplianceRead", "ApplianceUpdate", "Endpoint"]


class ApplianceCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    account: str | None = Field(default=None, max_length=MAX_NAME)
    service: str = Field(max_length=MAX_REF)  # NAME or PROVIDER/NAME
    subnet: str = Field(max_length=MAX_SUBNET_REF)
    backends: StrictInt | None = None  # null or left out: 1


class ApplianceUpdate(Body):
    backends: StrictInt


