"""Appliances: a customer's instance of a service, its endpoint and nodes."""

from __future__ import annotations

from pydantic import BaseModel

from facade.domain.states import ApplianceStatus
from facade.readmodels.nodes import NodeRead
from facade.readmodels.paging import Page


class Endpoint(BaseModel):
    ip: str | None
    port: int


class ApplianceRead(BaseModel):
    name: str
    account: str
    service: str
    provider: str
    subnet: str
    status: ApplianceStatus
    status_detail: str
    desired_backends: int
    # shared or dedicated: its nodes on hosts holding no other account's (its service's or
    # its customer's choice, docs/multi-host.md)
    tenancy: str = "shared"
    backend_count: int  # backends that exist and are not leaving (visible to the customer too)
    endpoint: Endpoint
    frontend: NodeRead | None
    backends: list[NodeRead]
    # chains (docs/composition.md): the upstream the service names and the live appliance it
    # resolves to (provider's view); the appliances whose backends call this one
    upstream: str | None = None
    uses: list[str] = []
    used_by: list[str] = []
    # the answer to DELETE ?force=true only: the users it takes with it (a cascade)
    deleted_with: list[str] = []


class AppliancePage(Page[ApplianceRead]):
    """A page of appliances: GET /v1/appliances."""
