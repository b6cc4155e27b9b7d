"""A provider's offers: appliance services (their health checks and autoscaling policies) and
load-balancer offers."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from facade.api.schemas.billing import ServicePricesBody
from facade.api.schemas.common import Body
from facade.api.schemas.instances import LimitsBody
from facade.domain.autoscale import (
    DEFAULT_COOLDOWN,
    MAX_COOLDOWN,
    MAX_TARGET,
    MAX_TARGET_TEXT,
    METRICS,
    TARGET_PLACES,
)
from facade.domain.counts import MAX_BACKENDS, MAX_EXTRA_SUBNETS, MIN_BACKENDS
from facade.domain.health import MAX_CODES
from facade.domain.health import MAX_PATH as MAX_CHECK_PATH
from facade.domain.names import MAX_NAME, MAX_REF, MAX_SUBNET_REF
from facade.domain.tenancy import MAX_LENGTH as MAX_TENANCY
from facade.domain.workload import MAX_COMMAND, MAX_WORKLOAD
from facade.domain.workload import MAX_PATH as MAX_HEALTH_PATH
from facade.readmodels.services import (
    AutoscaleRead,
    HealthCheckRead,
    LoadBalancerPage,
    LoadBalancerRead,
    ServicePage,
    ServiceRead,
)

__all__ = ["AutoscaleRead", "AutoscaleWrite", "HealthCheckBody", "HealthCheckRead",
           "LoadBalancerCreate", "LoadBalancerPage", "LoadBalancerRead", "ServiceCreate",
           "ServicePage", "ServiceRead"]


class HealthCheckBody(Body):
    """A service's health check, partial: an unset field keeps its value, null resets it to
    the default (docs/health.md)."""

    type: str | None = Field(default=None, max_length=8)
    path: str | None = Field(default=None, max_length=MAX_CHECK_PATH)
    codes: str | None = Field(default=None, max_length=MAX_CODES)
    interval: StrictFloat | StrictInt | None = None
    timeout: StrictFloat | StrictInt | None = None
    rise: StrictInt | None = None
    fall: StrictInt | None = None


class ServiceCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    account: str | None = Field(default=None, max_length=MAX_NAME)
    workload: str | None = Field(default=None, max_length=MAX_WORKLOAD)
    command: str | None = Field(default=None, max_length=MAX_COMMAND)
    port: StrictInt
    backend_subnet: str = Field(max_length=MAX_SUBNET_REF)
    management_subnet: str = Field(max_length=MAX_SUBNET_REF)
    health_path: str | None = Field(default=None, max_length=MAX_HEALTH_PATH)
    # the appliance this service's backends call (chained appliances, docs/composition.md)
    upstream: str | None = Field(default=None, max_length=MAX_REF)  # NAME or ACCOUNT/NAME
    # what the customer pays, and who bills it (docs/billing.md); unset prices are 0
    prices: ServicePricesBody | None = None
    billing_model: str | None = Field(default=None, max_length=32)
    # the load-balancer offer its front-ends come from (third-party front-ends)
    frontend: str | None = Field(default=None, max_length=MAX_REF)
    # subnets every backend also gets an interface in (eth2, eth3...), in this order
    extra_subnets: list[Annotated[str, Field(max_length=MAX_SUBNET_REF)]] | None = Field(
        default=None, max_length=MAX_EXTRA_SUBNETS)
    # each backend's sandbox limits (docs/security.md)
    limits: LimitsBody | None = None
    # how its backends are checked (docs/health.md); health_path above is its path
    health_check: HealthCheckBody | None = None
    # shared (default) or dedicated: every appliance's nodes on hosts of its customer's alone
    # (docs/multi-host.md, "Dedicated tenancy"); checked by domain.tenancy (400 naming it)
    tenancy: str | None = Field(default=None, max_length=MAX_TENANCY)


class LoadBalancerCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    account: str | None = Field(default=None, max_length=MAX_NAME)
    management_subnet: str = Field(max_length=MAX_SUBNET_REF)


class AutoscaleWrite(BaseModel):
    """A service's autoscaling policy (docs/autoscaling.md)."""

    model_config = ConfigDict(extra="forbid")
    # the values are checked by domain.autoscale.requested (400 naming the field), as for a
    # scenario file's `autoscale:`
    min: StrictInt = Field(description=f"fewest backends, {MIN_BACKENDS}-{MAX_BACKENDS}")
    max: StrictInt = Field(description=f"most backends, min-{MAX_BACKENDS}")
    metric: str = Field(max_length=16, description=" or ".join(METRICS))
    target: StrictInt | StrictFloat | Annotated[str, Field(max_length=MAX_TARGET_TEXT)] = Field(
        description=f"per backend per second: above 0, at most {MAX_TARGET}, at most "
                    f"{TARGET_PLACES} decimal places")
    cooldown: StrictInt | None = Field(DEFAULT_COOLDOWN, description=(
        f"seconds before scaling down, 0-{MAX_COOLDOWN}"))


