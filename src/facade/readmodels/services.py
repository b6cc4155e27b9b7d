"""Appliance services (a provider's offers), their health checks and autoscaling, and the
load-balancer offers their front-ends may come from."""

from __future__ import annotations

from pydantic import BaseModel

from facade.readmodels.billing import ServicePricesRead
from facade.readmodels.nodes import LimitsRead, NodeRead
from facade.readmodels.paging import Page


class HealthCheckRead(BaseModel):
    type: str
    path: str | None
    codes: str | None
    interval: float
    timeout: float
    rise: int
    fall: int


class ServiceRead(BaseModel):
    name: str
    account: str
    workload: str | None
    command: str | None
    port: int
    health_path: str | None
    backend_subnet: str
    management_subnet: str
    upstream: str | None = None  # shown to the provider and the operator only
    frontend: str | None = None  # the load-balancer offer; provider and operator only
    extra_subnets: list[str] | None = None  # provider and operator only
    limits: LimitsRead  # each backend's sandbox limits
    health_check: HealthCheckRead
    billing_model: str
    prices: ServicePricesRead
    tenancy: str = "shared"  # or dedicated: the provider's choice for all its appliances


class LoadBalancerRead(BaseModel):
    name: str
    account: str
    management_subnet: str | None  # its owner and the operator only
    services: list[str]  # the services that name it: its owner and the operator only
    frontends: list[NodeRead]  # its front-end nodes: its owner and the operator only


class AutoscaleRead(BaseModel):
    service: str
    enabled: bool
    min: int | None = None
    max: int | None = None
    metric: str | None = None
    target: str | None = None
    cooldown: int | None = None


class ServicePage(Page[ServiceRead]):
    """A page of services: GET /v1/services."""


class LoadBalancerPage(Page[LoadBalancerRead]):
    """A page of load-balancer offers: GET /v1/load-balancers."""
