"""Appliances: a customer's instance of a service, its endpoint and nodes."""

from __future__ import annotations

from pydantic import BaseModel, Field, StrictInt

from facade.api.schemas.common import Body
from facade.api.schemas.instances import NodeRead
from facade.domain.names import MAX_NAME, MAX_REF, MAX_SUBNET_REF


class ApplianceCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    account: str | None = Field(default=None, max_length=MAX_NAME)
    service: str = Field(max_length=MAX_REF)  # NAME or PROVIDER/NAME
    subnet: str = Field(max_length=MAX_SUBNET_REF)
    backends: StrictInt | None = None  # null or left out: 1


class ApplianceUpdate(Body):
    backends: StrictInt


class Endpoint(BaseModel):
    ip: str | None
    port: int


class ApplianceRead(BaseModel):
    name: str
    account: str
    service: str
    provider: str
    subnet: str
    status: str
    status_detail: str
    desired_backends: int
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
