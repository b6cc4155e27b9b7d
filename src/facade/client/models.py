"""The objects the API answers, as TypedDicts: one per answer schema of the API
(`facade.api.schemas`, `XRead` -> `X`), so a caller gets the JSON as it came (a dict, printable
as it is) with its keys and types known to mypy. A field with a default on the server side is
`NotRequired` (an older control plane may not send it). tests/unit/test_client_models.py holds
them to the API's schemas. (No `from __future__ import annotations`: TypedDict must see
`NotRequired` itself to tell required keys apart.)
"""

from typing import Any, NotRequired, TypedDict


class ErrorDetail(TypedDict):
    code: str
    message: str
    where: NotRequired[str | None]


class Error(TypedDict):
    error: ErrorDetail


class Account(TypedDict):
    name: str
    operator: bool


class Token(TypedDict):
    account: str
    token: str


class QuotaLine(TypedDict):
    limit: int | None
    used: int
    default: bool


class Quota(TypedDict):
    account: str
    operator: bool
    quotas: dict[str, QuotaLine]


class Subnet(TypedDict):
    name: str
    network: str
    account: str
    cidr: str
    gateway: str
    used: int
    capacity: int
    bridge: str
    internet: NotRequired[bool]
    sites: NotRequired[bool]


class Network(TypedDict):
    name: str
    account: str
    cidr: str
    router: str
    kind: NotRequired[str]
    public_gateway: NotRequired[bool]
    outbound_nat: NotRequired[bool]
    gateway_ip: NotRequired[str | None]
    subnets: list[Subnet]


class Interface(TypedDict):
    name: str
    subnet: str
    ip: str


class Limits(TypedDict):
    memory_mb: int
    pids: int
    cpu_weight: int


class Node(TypedDict):
    name: str
    account: str
    role: str
    netns: str
    status: str
    appliance: str | None
    interfaces: list[Interface]
    limits: Limits
    management: NotRequired[dict[str, Any] | None]
    public_ips: NotRequired[list[str]]


class External(TypedDict):
    name: str
    account: str
    role: str
    netns: str
    status: str
    appliance: str | None
    interfaces: list[Interface]
    limits: Limits
    management: NotRequired[dict[str, Any] | None]
    public_ips: NotRequired[list[str]]
    ip: str | None
    gateway: str


class Pool(TypedDict):
    cidr: str
    used: int
    capacity: int


class Association(TypedDict):
    instance: str | None
    appliance: NotRequired[str | None]
    interface: str | None
    site: NotRequired[str | None]
    private_ip: str | None


class PublicIp(TypedDict):
    address: str
    account: str
    kind: str
    associated: Association | None


class SiteHostRef(TypedDict):
    name: str
    ip: str | None
    status: str


class Site(TypedDict):
    name: str
    account: str
    cidr: str
    router: str
    gateway_ip: str | None
    vpn: str | None
    network: str | None
    hosts: list[SiteHostRef]


class SiteHost(TypedDict):
    name: str
    account: str
    role: str
    netns: str
    status: str
    appliance: str | None
    interfaces: list[Interface]
    limits: Limits
    management: NotRequired[dict[str, Any] | None]
    public_ips: NotRequired[list[str]]
    ip: str | None
    site: str | None


class VpnEnds(TypedDict):
    network: str
    site: str


class Vpn(TypedDict):
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


class Exec(TypedDict):
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool


class NodeHour(TypedDict):
    frontend: str
    backend: str


class ServicePrices(TypedDict):
    currency: str
    node_hour: NodeHour
    per_gb: str
    per_connection: str
    per_1000_requests: str


class EdgePrices(TypedDict):
    public_ip_hour: str
    gateway_per_gb: str
    channel_hour: str


class InstancePrices(TypedDict):
    currency: str
    node_hour: NodeHour
    edge: EdgePrices


class FrontEndPrices(TypedDict):
    currency: str
    node_hour: str


class BillingSkip(TypedDict):
    appliance: str
    reason: str


class BillingRun(TypedDict):
    period: str
    run: int | None
    posted: int
    appliances: list[str]
    public_ips: NotRequired[list[str]]
    channels: NotRequired[list[str]]
    skipped: list[BillingSkip]
    currency: str
    trial_balance: str


class InvoiceLine(TypedDict):
    transaction: str
    description: str
    counterparty: str
    quantity: str
    unit: str
    unit_price: str
    amount: str


class InvoiceDoc(TypedDict):
    total: str
    lines: list[InvoiceLine]


class Invoice(TypedDict):
    account: str
    period: str
    status: str
    currency: str
    invoice: InvoiceDoc
    statement: InvoiceDoc
    position: str
    text: str


class LedgerAccount(TypedDict):
    account: str
    debits: str
    credits: str
    balance: str


class LedgerRun(TypedDict):
    period: str
    run: int
    transactions: int
    at: str


class Unbilled(TypedDict):
    period: str
    appliance: str
    frontend_node_ms: int
    backend_node_ms: int
    bytes_in: int
    bytes_out: int
    connections: int
    requests: int


class UnbilledEdge(TypedDict):
    period: str
    address: str
    account: str
    held_ms: int
    bytes_in: int
    bytes_out: int


class UnbilledChannel(TypedDict):
    period: str
    channel: str
    account: str
    held_ms: int


class Ledger(TypedDict):
    period: str
    currency: str
    trial_balance: str
    transactions: int
    runs: list[LedgerRun]
    accounts: list[LedgerAccount]
    unbilled: list[Unbilled]
    unbilled_public_ips: NotRequired[list[UnbilledEdge]]
    unbilled_channels: NotRequired[list[UnbilledChannel]]


class HealthCheck(TypedDict):
    type: str
    path: str | None
    codes: str | None
    interval: float
    timeout: float
    rise: int
    fall: int


class Service(TypedDict):
    name: str
    account: str
    workload: str | None
    command: str | None
    port: int
    health_path: str | None
    backend_subnet: str
    management_subnet: str
    upstream: NotRequired[str | None]
    frontend: NotRequired[str | None]
    extra_subnets: NotRequired[list[str] | None]
    limits: Limits
    health_check: HealthCheck
    billing_model: str
    prices: ServicePrices


class LoadBalancer(TypedDict):
    name: str
    account: str
    management_subnet: str | None
    services: list[str]
    frontends: list[Node]


class Endpoint(TypedDict):
    ip: str | None
    port: int


class Appliance(TypedDict):
    name: str
    account: str
    service: str
    provider: str
    subnet: str
    status: str
    status_detail: str
    desired_backends: int
    backend_count: int
    endpoint: Endpoint
    frontend: Node | None
    backends: list[Node]
    upstream: NotRequired[str | None]
    uses: NotRequired[list[str]]
    used_by: NotRequired[list[str]]
    deleted_with: NotRequired[list[str]]


class Change(TypedDict):
    action: str
    kind: str
    name: str


class Scenario(TypedDict):
    changes: list[Change]
    appliances: list[str]
    dry_run: NotRequired[bool]


class Event(TypedDict):
    time: str
    kind: str
    object: str
    message: str
    request_id: NotRequired[str | None]
    account: NotRequired[str | None]  # the account whose object it is about


class Rule(TypedDict):
    direction: str
    action: str
    protocol: str
    ports: str | None
    cidr: str
    priority: int


class Usage(TypedDict):
    appliance: str
    customer: str
    provider: str
    service: str
    node: NotRequired[str | None]
    role: NotRequired[str | None]
    owner: NotRequired[str | None]
    frontend_node_seconds: str
    backend_node_seconds: str
    bytes_in: int
    bytes_out: int
    connections: int
    requests: int


class PublicIpUsage(TypedDict):
    address: str
    account: str
    kind: str
    period: str
    held_from: str | None
    held_until: str | None
    ip_hours: str
    bytes_in: int
    bytes_out: int


class ChannelUsage(TypedDict):
    channel: str
    account: str
    period: str
    held_from: str | None
    held_until: str | None
    channel_hours: str


class Autoscale(TypedDict):
    service: str
    enabled: bool
    min: NotRequired[int | None]
    max: NotRequired[int | None]
    metric: NotRequired[str | None]
    target: NotRequired[str | None]
    cooldown: NotRequired[int | None]


class Grant(TypedDict):
    subnet: str
    account: str
    created_at: str
    used_by: list[str]


class GrantRevoked(TypedDict):
    subnet: str
    account: str
    still_used_by: list[str]
    message: str
