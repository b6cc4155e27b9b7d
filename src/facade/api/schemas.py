"""Request and answer schemas (pydantic): `XCreate` for bodies, `XRead` for answers.

Bodies forbid unknown fields so a typo is a clear 422, not a silently ignored setting. A body
checks types and sizes only, with the domain's own limits (a field longer than the domain
allows is refused early, with the same answer the domain would give); the rules themselves are
the domain's, shared with the scenario file (domain/names, ipam, workload, counts, health...).
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt

from facade.domain.autoscale import (
    DEFAULT_COOLDOWN,
    MAX_COOLDOWN,
    MAX_TARGET,
    MAX_TARGET_TEXT,
    METRICS,
    TARGET_PLACES,
)
from facade.domain.counts import (
    MAX_BACKENDS,
    MAX_EXTRA_SUBNETS,
    MAX_INTERFACES,
    MAX_SUBNETS,
    MIN_BACKENDS,
)
from facade.domain.health import MAX_CODES
from facade.domain.health import MAX_PATH as MAX_CHECK_PATH
from facade.domain.ipam import MAX_CIDR_TEXT, MAX_IP_TEXT
from facade.domain.names import MAX_NAME, MAX_REF, MAX_SUBNET_REF
from facade.domain.prices import MAX_PRICE_TEXT
from facade.domain.quotas import MAX_LIMIT as MAX_QUOTA
from facade.domain.scenario import MAX_BYTES as MAX_SCENARIO_BYTES
from facade.domain.workload import MAX_COMMAND, MAX_WORKLOAD
from facade.domain.workload import MAX_PATH as MAX_HEALTH_PATH

T = TypeVar("T")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    """One page of a list route (docs/api.md, "Paging")."""

    items: list[T]
    next_cursor: str | None = Field(description=(
        "opaque: give it as `cursor` to get the next page; null on the last page"))


class ErrorDetail(BaseModel):
    code: str
    message: str
    where: str | None = None


class ErrorRead(BaseModel):
    error: ErrorDetail


class AccountCreate(Body):
    name: str = Field(max_length=MAX_NAME)


class AccountRead(BaseModel):
    name: str
    operator: bool


class TokenRead(BaseModel):
    account: str
    token: str


QuotaLimit = Annotated[StrictInt, Field(ge=0, le=MAX_QUOTA)]


class QuotaUpdate(Body):
    """Partial: a resource left out keeps its limit; null brings back the default."""

    networks: QuotaLimit | None = None
    subnets: QuotaLimit | None = None
    instances: QuotaLimit | None = None
    appliances: QuotaLimit | None = None
    backends: QuotaLimit | None = None
    public_ips: QuotaLimit | None = None


class QuotaLine(BaseModel):
    limit: int | None  # None: not limited (the operator account)
    used: int
    default: bool  # the limit is the default, not one the operator set


class QuotaRead(BaseModel):
    account: str
    operator: bool
    quotas: dict[str, QuotaLine]


class SubnetCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    cidr: str = Field(max_length=MAX_CIDR_TEXT)
    internet: StrictBool = Field(default=True, description=(
        "routed to the Internet through the network's public gateway; false: a private "
        "subnet (docs/edge.md)"))
    sites: StrictBool = Field(default=True, description=(
        "routed to the customer sites the network's private gateway reaches (its vpns); "
        "false: kept off every channel (docs/edge.md)"))


class SubnetUpdate(Body):
    internet: StrictBool | None = None
    sites: StrictBool | None = None


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


class NetworkCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    account: str | None = Field(default=None, max_length=MAX_NAME)
    cidr: str = Field(max_length=MAX_CIDR_TEXT)
    subnets: list[SubnetCreate] | None = Field(default=None, max_length=MAX_SUBNETS)
    public_gateway: StrictBool = Field(default=False, description=(
        "its router connects it to the intermediate network (docs/edge.md)"))
    outbound_nat: StrictBool = Field(default=False, description=(
        "instances without a public address reach out with the gateway's"))


class NetworkUpdate(Body):
    public_gateway: StrictBool | None = None
    outbound_nat: StrictBool | None = None


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


class InterfaceCreate(Body):
    subnet: str = Field(max_length=MAX_SUBNET_REF)
    ip: str | None = Field(default=None, max_length=MAX_IP_TEXT)


class InterfaceRead(BaseModel):
    name: str
    subnet: str
    ip: str


class LimitsBody(Body):
    """A node's sandbox limits (docs/security.md); a field left out keeps its value, null
    resets it to the default."""

    memory_mb: StrictInt | None = None
    pids: StrictInt | None = None
    cpu_weight: StrictInt | None = None


class LimitsRead(BaseModel):
    memory_mb: int
    pids: int
    cpu_weight: int


class InstanceCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    account: str | None = Field(default=None, max_length=MAX_NAME)
    interfaces: list[InterfaceCreate] = Field(max_length=MAX_INTERFACES)
    limits: LimitsBody | None = None
    public_ip: StrictBool = Field(default=False, description=(
        "a standard public address for eth0, released with the instance; its network needs "
        "a public gateway"))


class NodeRead(BaseModel):
    name: str
    account: str
    role: str
    netns: str
    status: str
    appliance: str | None
    interfaces: list[InterfaceRead]
    limits: LimitsRead
    # what the node's management agent last said, for front-ends and backends
    management: dict[str, Any] | None = None
    # the public addresses translated to its interfaces (an instance's)
    public_ips: list[str] = Field(default_factory=list)


class ExternalCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    account: str | None = Field(default=None, max_length=MAX_NAME)
    ip: str | None = Field(default=None, max_length=MAX_IP_TEXT)


class ExternalRead(NodeRead):
    ip: str | None
    gateway: str


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


class SiteHostRead(NodeRead):
    ip: str | None
    site: str | None


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


class ExecCreate(Body):
    argv: list[str] = Field(min_length=1, max_length=256)
    timeout: float = 30.0
    stdin: str | None = Field(default=None, max_length=1_000_000)
    # run as the host's root, outside the node's sandbox: the operator only
    host: bool = False


class ExecRead(BaseModel):
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool


# --- prices and billing (docs/billing.md): money is always a decimal string like "0.10" -------

# a decimal string, or a whole number (as a scenario file may give it); domain.prices checks it
Price = Annotated[str, Field(max_length=MAX_PRICE_TEXT)] | StrictInt


class NodeHourPrices(Body):
    frontend: Price | None = None
    backend: Price | None = None


class NodeHourRead(BaseModel):
    frontend: str
    backend: str


class ServicePricesBody(Body):
    """A service's prices; a price left out is 0, the currency is the operator's."""

    currency: str | None = Field(default=None, max_length=8)
    node_hour: NodeHourPrices | None = None
    per_gb: Price | None = None
    per_connection: Price | None = None
    per_1000_requests: Price | None = None


class ServicePricesRead(BaseModel):
    currency: str
    node_hour: NodeHourRead
    per_gb: str
    per_connection: str
    per_1000_requests: str


class InstancePricesBody(Body):
    """The operator's instance prices per node-hour by role; a price left out is 0."""

    currency: str | None = Field(default=None, max_length=8)
    node_hour: NodeHourPrices | None = None


class EdgePricesBody(Body):
    """The operator's edge prices: per public address-hour, per GB through a public gateway,
    per channel-hour (a VPN); a price left out is 0."""

    currency: str | None = Field(default=None, max_length=8)
    public_ip_hour: Price | None = None
    gateway_per_gb: Price | None = None
    channel_hour: Price | None = None


class EdgePricesRead(BaseModel):
    public_ip_hour: str
    gateway_per_gb: str
    channel_hour: str


class InstancePricesRead(BaseModel):
    """The operator's price list: instances per node-hour by role, and the edge."""

    currency: str
    node_hour: NodeHourRead
    edge: EdgePricesRead


class FrontEndPricesBody(Body):
    """What an account charges per front-end node-hour it runs for another provider."""

    currency: str | None = Field(default=None, max_length=8)
    node_hour: Price | None = None


class FrontEndPricesRead(BaseModel):
    currency: str
    node_hour: str


class BillingRunCreate(Body):
    period: str = Field(max_length=80)


class BillingSkip(BaseModel):
    appliance: str
    reason: str


class BillingRunRead(BaseModel):
    period: str
    run: int | None  # None: nothing new to post
    posted: int
    appliances: list[str]
    public_ips: list[str] = Field(default_factory=list,
                                  description="the public addresses charged by this run")
    channels: list[str] = Field(default_factory=list,
                                description="the private channels (VPNs) charged by this run")
    skipped: list[BillingSkip]
    currency: str
    trial_balance: str


class InvoiceLineRead(BaseModel):
    transaction: str
    description: str
    counterparty: str
    quantity: str
    unit: str
    unit_price: str
    amount: str


class InvoiceDocRead(BaseModel):
    total: str
    lines: list[InvoiceLineRead]


class InvoiceRead(BaseModel):
    account: str
    period: str
    status: str  # billed (from the ledger) | draft (computed from usage, not posted)
    currency: str
    invoice: InvoiceDocRead  # what the account owes
    statement: InvoiceDocRead  # what the account is owed
    position: str  # statement minus invoice
    text: str


class LedgerAccountRead(BaseModel):
    account: str
    debits: str
    credits: str
    balance: str


class LedgerRunRead(BaseModel):
    period: str
    run: int
    transactions: int
    at: str


class UnbilledRead(BaseModel):
    period: str
    appliance: str
    frontend_node_ms: int
    backend_node_ms: int
    bytes_in: int
    bytes_out: int
    connections: int
    requests: int


class UnbilledEdgeRead(BaseModel):
    """A public address's usage in a period not billed yet (docs/billing.md, "The edge")."""

    period: str
    address: str
    account: str
    held_ms: int
    bytes_in: int
    bytes_out: int


class UnbilledChannelRead(BaseModel):
    """A private channel's (VPN's) hours in a period not billed yet (docs/billing.md, "The
    edge")."""

    period: str
    channel: str
    account: str
    held_ms: int


class LedgerRead(BaseModel):
    period: str
    currency: str
    trial_balance: str
    transactions: int
    runs: list[LedgerRunRead]
    accounts: list[LedgerAccountRead]
    unbilled: list[UnbilledRead]
    unbilled_public_ips: list[UnbilledEdgeRead] = Field(default_factory=list)
    unbilled_channels: list[UnbilledChannelRead] = Field(default_factory=list)


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


class HealthCheckRead(BaseModel):
    type: str
    path: str | None
    codes: str | None
    interval: float
    timeout: float
    rise: int
    fall: int


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


class LoadBalancerCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    account: str | None = Field(default=None, max_length=MAX_NAME)
    management_subnet: str = Field(max_length=MAX_SUBNET_REF)


class LoadBalancerRead(BaseModel):
    name: str
    account: str
    management_subnet: str | None  # its owner and the operator only
    services: list[str]  # the services that name it: its owner and the operator only
    frontends: list[NodeRead]  # its front-end nodes: its owner and the operator only


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


class ScenarioCreate(Body):
    yaml: str = Field(max_length=MAX_SCENARIO_BYTES)  # characters; the file's rule is bytes
    filename: str = Field(default="<scenario>", max_length=255)


class Change(BaseModel):
    action: str
    kind: str
    name: str


class ScenarioRead(BaseModel):
    changes: list[Change]
    appliances: list[str]
    dry_run: bool = False  # the changes are what apply would make; nothing was


class EventRead(BaseModel):
    time: str
    kind: str
    object: str
    message: str
    request_id: str | None = Field(None, description=(
        "the X-Request-ID of the API request that caused it; null for what the controller "
        "did on its own"))
    account: str | None = Field(None, description=(
        "the account whose object it is about; null for the provider network's own events"))


class RuleCreate(Body):
    """A security rule (docs/security.md); values are checked by the domain (400 naming the
    field), types and unknown fields by the schema (422)."""

    direction: str = Field(max_length=16)
    action: str = Field(max_length=16)
    protocol: str = Field(default="any", max_length=16)
    ports: Annotated[str, Field(max_length=16)] | StrictInt | None = None  # "80", 80, "80-90"
    cidr: str | None = Field(default="0.0.0.0/0", max_length=43)  # null: 0.0.0.0/0
    priority: StrictInt


class RuleRead(BaseModel):
    direction: str
    action: str
    protocol: str
    ports: str | None
    cidr: str
    priority: int


class UsageRead(BaseModel):
    """Metered usage of one appliance (or, with by=node, one of its nodes) over a period."""

    appliance: str
    customer: str
    provider: str
    service: str
    node: str | None = None
    role: str | None = None
    owner: str | None = None
    frontend_node_seconds: str = Field(description="decimal seconds, millisecond precision")
    backend_node_seconds: str = Field(description="decimal seconds, millisecond precision")
    bytes_in: int
    bytes_out: int
    connections: int
    requests: int


class PublicIpUsageRead(BaseModel):
    """One public address's usage over a period (docs/metering.md, "The edge")."""

    address: str
    account: str
    kind: str = Field(description="standard or customer")
    period: str = Field(description="the period asked for, or \"all time\"")
    held_from: str | None = Field(description="when it was allocated (ISO 8601, UTC)")
    held_until: str | None = Field(description="when it was released; null: still held")
    ip_hours: str = Field(description="decimal hours held (allocated to released, associated "
                                      "or not), 6 decimals")
    bytes_in: int = Field(description="IP bytes through the public gateway to the address")
    bytes_out: int = Field(description="IP bytes through the public gateway from the address")


class ChannelUsageRead(BaseModel):
    """One private channel's (VPN's) hours over a period (docs/metering.md, "The edge")."""

    channel: str
    account: str
    period: str = Field(description="the period asked for, or \"all time\"")
    held_from: str | None = Field(description="when it was created (ISO 8601, UTC)")
    held_until: str | None = Field(description="when it was deleted; null: still there")
    channel_hours: str = Field(description="decimal hours held (created to deleted), "
                                           "6 decimals")


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


class AutoscaleRead(BaseModel):
    service: str
    enabled: bool
    min: int | None = None
    max: int | None = None
    metric: str | None = None
    target: str | None = None
    cooldown: int | None = None


class GrantCreate(Body):
    account: str = Field(max_length=MAX_NAME)


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
