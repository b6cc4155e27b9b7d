"""The tables of Facade's desired state (and its events), as SQLAlchemy 2 typed models.

Rows say what *should* exist; the reconciler makes the kernel agree. Unique constraints are the
backstop of the service layer's checks: (subnet, ip) can never be allocated twice, and a name is
taken once per account (account, name), never across accounts (docs/api.md, "Names").
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from facade.domain.states import ApplianceStatus, HostState, NodeRole, NodeStatus


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


# Ids name kernel objects (namespaces, links, pid files): never hand one out twice, or a new
# object could meet the leftovers of a deleted one under the same name.
NEVER_REUSE = {"sqlite_autoincrement": True}


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = NEVER_REUSE
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    operator: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Token(Base):
    __tablename__ = "tokens"
    __table_args__ = NEVER_REUSE
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex, never the token
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    account: Mapped[Account] = relationship()


class Network(Base):
    __tablename__ = "networks"
    __table_args__ = (UniqueConstraint("account_id", "name"), NEVER_REUSE)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    cidr: Mapped[str] = mapped_column(String(18))
    # "private" (a tenant's VPC), "intermediate" (the stand-in for the Internet: one, the
    # operator's, made when first needed) or "site" (a customer's own network, outside the
    # provider's: its router is the site's gateway; docs/edge.md)
    kind: Mapped[str] = mapped_column(String(16), server_default="private")
    # its router is a public gateway: a leg on the intermediate network at `gateway_ip`, 1:1
    # NAT for the public addresses associated with its instances; `outbound_nat`: instances
    # without one reach out with the gateway's address
    public_gateway: Mapped[bool] = mapped_column(Boolean, server_default="0")
    outbound_nat: Mapped[bool] = mapped_column(Boolean, server_default="0")
    gateway_ip: Mapped[str | None] = mapped_column(String(15), nullable=True, unique=True)
    account: Mapped[Account] = relationship()
    subnets: Mapped[list[Subnet]] = relationship(back_populates="network", order_by="Subnet.id")


class Subnet(Base):
    __tablename__ = "subnets"
    __table_args__ = (UniqueConstraint("network_id", "name"), NEVER_REUSE)
    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"))
    name: Mapped[str] = mapped_column(String(40))
    cidr: Mapped[str] = mapped_column(String(18))
    # its route to the intermediate network through the network's public gateway (when it
    # has one; docs/edge.md): False makes it a private subnet, never reached from or reaching
    # the Internet
    internet: Mapped[bool] = mapped_column(Boolean, server_default="1", default=True)
    # its route to the customer sites its network's private gateway reaches (docs/edge.md):
    # False keeps it off every channel of the network
    sites: Mapped[bool] = mapped_column(Boolean, server_default="1", default=True)
    network: Mapped[Network] = relationship(back_populates="subnets")

    @property
    def path(self) -> str:
        return f"{self.network.name}/{self.name}"


class Host(Base):
    """A machine that holds nodes (docs/multi-host.md): the local host (`local`, no underlay
    address: the control plane's own machine, made by migration 0023 or at start) or another,
    reached at its underlay address. A removed host keeps its row in state `removed`."""

    __tablename__ = "hosts"
    __table_args__ = NEVER_REUSE
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    address: Mapped[str | None] = mapped_column(String(15), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default=HostState.READY)
    capacity: Mapped[int] = mapped_column(Integer)  # nodes
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    # its agent's last heartbeat; None: never (the local host has no agent: the control plane
    # is on it)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                             nullable=True)
    # the agent that registered last (the id it chose at its start): another one is refused
    # while this one's heartbeat is fresh (migration 0024)
    agent_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HostToken(Base):
    """A host agent's token (docs/multi-host.md): for one host name, whether its row exists
    yet or not (a machine's agent makes it when it registers). Its digest only; a revoked
    token keeps its row, `revoked_at` set."""

    __tablename__ = "host_tokens"
    __table_args__ = NEVER_REUSE
    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(40), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                           nullable=True)


class Instance(Base):
    """A customer instance, or a node (front-end, backend) of an appliance."""

    __tablename__ = "instances"
    __table_args__ = (UniqueConstraint("name_scope_id", "name"), NEVER_REUSE)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    # the account among whose names its name is: its own for an instance, the appliance's
    # customer's for a node (two customers' appliances `docs` of one provider both have a node
    # `docs-fe`, run by that provider)
    name_scope_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    role: Mapped[str] = mapped_column(String(16), default=NodeRole.INSTANCE)
    appliance_id: Mapped[int | None] = mapped_column(ForeignKey("appliances.id"), nullable=True)
    ordinal: Mapped[int] = mapped_column(Integer, default=0)  # backend number within its appliance
    status: Mapped[str] = mapped_column(String(16), default=NodeStatus.PENDING)
    # a customer instance's sandbox limits (docs/security.md); None: the default. Appliance
    # nodes take their service's (backends) or the front-end limits.
    limit_memory_mb: Mapped[int | None] = mapped_column(Integer, nullable=True)
    limit_pids: Mapped[int | None] = mapped_column(Integer, nullable=True)
    limit_cpu_weight: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # the host it is placed on; None: the local host (every node, until placement on other
    # hosts comes: docs/multi-host.md)
    host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id"), nullable=True,
                                                index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    account: Mapped[Account] = relationship(foreign_keys=[account_id])
    host: Mapped[Host | None] = relationship()
    name_scope: Mapped[Account] = relationship(foreign_keys=[name_scope_id])
    appliance: Mapped[Appliance | None] = relationship(back_populates="nodes")
    interfaces: Mapped[list[Interface]] = relationship(
        back_populates="instance", order_by="Interface.index", cascade="all, delete-orphan")


class Interface(Base):
    __tablename__ = "interfaces"
    __table_args__ = (UniqueConstraint("subnet_id", "ip"), UniqueConstraint("instance_id", "index"),
                      NEVER_REUSE)
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    subnet_id: Mapped[int] = mapped_column(ForeignKey("subnets.id"))
    index: Mapped[int] = mapped_column(Integer)
    ip: Mapped[str] = mapped_column(String(15))
    instance: Mapped[Instance] = relationship(back_populates="interfaces")
    subnet: Mapped[Subnet] = relationship()


class IpPool(Base):
    """An operator's range of public addresses (docs/edge.md): standard and customer public
    addresses are handed out from the pools, in the order they were added."""

    __tablename__ = "ip_pools"
    __table_args__ = NEVER_REUSE
    id: Mapped[int] = mapped_column(primary_key=True)
    cidr: Mapped[str] = mapped_column(String(18), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PublicIp(Base):
    """One public address in use: a standard one (an instance's, made and released with it) or
    a customer's (allocated by its account, associated with one of its instances' interfaces
    and remapped at will, kept until released). `network_id` is the network whose public
    gateway translates it while it is associated (the instance's), kept here so a remap knows
    which gateways to tell."""

    __tablename__ = "public_ips"
    __table_args__ = NEVER_REUSE
    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(15), unique=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("ip_pools.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    standard: Mapped[bool] = mapped_column(Boolean, default=False)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id"), nullable=True)
    iface_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    network_id: Mapped[int | None] = mapped_column(ForeignKey("networks.id"), nullable=True)
    # or associated with a host of a customer site, reached over the site's private channel
    # from `network_id`'s public gateway (docs/edge.md)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("networks.id"), nullable=True)
    site_address: Mapped[str | None] = mapped_column(String(15), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    account: Mapped[Account] = relationship()
    pool: Mapped[IpPool] = relationship()
    instance: Mapped[Instance | None] = relationship()
    site: Mapped[Network | None] = relationship(foreign_keys=[site_id])


class Vpn(Base):
    """A private channel (docs/edge.md): a private gateway on `network`'s router, the gateway of
    `site` (a network of kind "site"), and a WireGuard tunnel between them with its own keys.
    Rows outlive the channel (`deleted_at`): created and deleted times are what a meter of
    channel hours reads; names and sites are unique among live channels."""

    __tablename__ = "vpns"
    __table_args__ = NEVER_REUSE
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    # None once the channel is gone and its network (or site) was deleted after it
    network_id: Mapped[int | None] = mapped_column(ForeignKey("networks.id"), nullable=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("networks.id"), nullable=True)
    network_key: Mapped[str] = mapped_column(String(44))  # private keys, base64
    site_key: Mapped[str] = mapped_column(String(44))
    preshared_key: Mapped[str] = mapped_column(String(44))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                           nullable=True)
    account: Mapped[Account] = relationship()
    network: Mapped[Network | None] = relationship(foreign_keys=[network_id])
    site: Mapped[Network | None] = relationship(foreign_keys=[site_id])


class LoadBalancer(Base):
    """A load-balancer offer: a front-end provider's management subnet, from which appliance
    services that name it take their front-end nodes (docs/composition.md, third-party
    front-ends)."""

    __tablename__ = "load_balancers"
    __table_args__ = (UniqueConstraint("account_id", "name"), NEVER_REUSE)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    management_subnet_id: Mapped[int] = mapped_column(ForeignKey("subnets.id"))
    account: Mapped[Account] = relationship()
    management_subnet: Mapped[Subnet] = relationship()


class Service(Base):
    """An appliance service: a provider's offer."""

    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("account_id", "name"), NEVER_REUSE)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    workload: Mapped[str | None] = mapped_column(String(40), nullable=True)
    command: Mapped[str | None] = mapped_column(Text, nullable=True)
    port: Mapped[int] = mapped_column(Integer)
    health_path: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # the rest of its backends' health check (domain/health.py); None: the default
    health_type: Mapped[str | None] = mapped_column(String(8), nullable=True)
    health_codes: Mapped[str | None] = mapped_column(String(64), nullable=True)
    health_interval_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    health_timeout_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    health_rise: Mapped[int | None] = mapped_column(Integer, nullable=True)
    health_fall: Mapped[int | None] = mapped_column(Integer, nullable=True)
    backend_subnet_id: Mapped[int] = mapped_column(ForeignKey("subnets.id"))
    management_subnet_id: Mapped[int] = mapped_column(ForeignKey("subnets.id"))
    # the appliance (NAME or ACCOUNT/NAME) this service's backends call: chained appliances,
    # see docs/composition.md; resolved by service/chains.py, may name one not created yet
    upstream: Mapped[str | None] = mapped_column(String(81), nullable=True)
    # the load-balancer offer its front-end nodes come from (owned by that offer's account);
    # None: the provider runs its own front-ends (docs/composition.md)
    frontend_id: Mapped[int | None] = mapped_column(ForeignKey("load_balancers.id"),
                                                    nullable=True)
    # what the customer pays (docs/billing.md): exact decimal text, never float; 0 if unset
    billing_model: Mapped[str] = mapped_column(String(16), server_default="provider-bills")
    price_currency: Mapped[str] = mapped_column(String(3), server_default="USD")
    price_frontend_hour: Mapped[str] = mapped_column(String(40), server_default="0")
    price_backend_hour: Mapped[str] = mapped_column(String(40), server_default="0")
    price_per_gb: Mapped[str] = mapped_column(String(40), server_default="0")
    price_per_connection: Mapped[str] = mapped_column(String(40), server_default="0")
    price_per_1000_requests: Mapped[str] = mapped_column(String(40), server_default="0")
    # the sandbox limits of each backend (docs/security.md); None: the default
    limit_memory_mb: Mapped[int | None] = mapped_column(Integer, nullable=True)
    limit_pids: Mapped[int | None] = mapped_column(Integer, nullable=True)
    limit_cpu_weight: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # shared or dedicated (domain/tenancy.py): the provider's choice for all its appliances
    # (migration 0025)
    tenancy: Mapped[str] = mapped_column(String(16), default="shared",
                                         server_default="shared")
    account: Mapped[Account] = relationship()
    backend_subnet: Mapped[Subnet] = relationship(foreign_keys=[backend_subnet_id])
    management_subnet: Mapped[Subnet] = relationship(foreign_keys=[management_subnet_id])
    frontend: Mapped[LoadBalancer | None] = relationship()
    # subnets every backend also gets an interface in (eth2, eth3...), in this order:
    # backends with several interfaces (docs/composition.md, "Backends with extra interfaces")
    extra_subnets: Mapped[list[ServiceSubnet]] = relationship(
        order_by="ServiceSubnet.position", cascade="all, delete-orphan")


class ServiceSubnet(Base):
    """One extra subnet of a service's backends (besides its backend and management subnets)."""

    __tablename__ = "service_subnets"
    __table_args__ = (UniqueConstraint("service_id", "subnet_id"), NEVER_REUSE)
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    subnet_id: Mapped[int] = mapped_column(ForeignKey("subnets.id"))
    position: Mapped[int] = mapped_column(Integer)
    subnet: Mapped[Subnet] = relationship()


class Appliance(Base):
    """One customer's instance of a service: a front-end node and backend nodes."""

    __tablename__ = "appliances"
    __table_args__ = (UniqueConstraint("account_id", "name"), NEVER_REUSE)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    subnet_id: Mapped[int] = mapped_column(ForeignKey("subnets.id"))
    desired_backends: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=ApplianceStatus.PROVISIONING)
    status_detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ready_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # the tenancy its customer asked for (domain/tenancy.py); its service's may make it
    # dedicated anyway (tenancy.effective) (migration 0025)
    tenancy: Mapped[str] = mapped_column(String(16), default="shared",
                                         server_default="shared")
    account: Mapped[Account] = relationship()
    service: Mapped[Service] = relationship()
    subnet: Mapped[Subnet] = relationship()
    nodes: Mapped[list[Instance]] = relationship(back_populates="appliance", order_by="Instance.id")


class SecurityRule(Base):
    """A security rule on a subnet (every interface of its owner's own instances in it) or on one
    interface of an instance. `scope` is "subnet:<id>" or "interface:<instance id>:<ifname>": the
    unique key (scope, direction, priority) is the backstop of the service's check."""

    __tablename__ = "security_rules"
    __table_args__ = (UniqueConstraint("scope", "direction", "priority"), NEVER_REUSE)
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(80))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    subnet_id: Mapped[int | None] = mapped_column(
        ForeignKey("subnets.id", ondelete="CASCADE"), nullable=True)
    instance_id: Mapped[int | None] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), nullable=True)
    ifname: Mapped[str | None] = mapped_column(String(15), nullable=True)
    direction: Mapped[str] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(8))
    protocol: Mapped[str] = mapped_column(String(8))
    ports: Mapped[str | None] = mapped_column(String(11), nullable=True)
    cidr: Mapped[str] = mapped_column(String(18))
    priority: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UsageRecord(Base):
    """Metered usage: one metric of one appliance node in one UTC hour (see docs/metering.md).

    Parties and names are copied in, not referenced: usage outlives the appliance, its nodes
    and their rows. `hour` counts hours since 1970-01-01T00:00Z. Quantities only ever grow."""

    __tablename__ = "usage_records"
    __table_args__ = (UniqueConstraint("hour", "appliance_id", "node", "metric"), NEVER_REUSE)
    id: Mapped[int] = mapped_column(primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, index=True)
    customer: Mapped[str] = mapped_column(String(40), index=True)  # account names
    provider: Mapped[str] = mapped_column(String(40), index=True)
    owner: Mapped[str] = mapped_column(String(40))  # who runs the node (front-end provider)
    service: Mapped[str] = mapped_column(String(40))
    appliance_id: Mapped[int] = mapped_column(Integer)
    appliance: Mapped[str] = mapped_column(String(40))
    node: Mapped[str] = mapped_column(String(60))
    role: Mapped[str] = mapped_column(String(16))
    metric: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(BigInteger, default=0)


class MeterReading(Base):
    """The last reading of one counter (or a node's clock): what the next increment starts from.
    Written in the same transaction as the usage it produced, so nothing is counted twice."""

    __tablename__ = "meter_readings"
    __table_args__ = NEVER_REUSE
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    epoch: Mapped[str] = mapped_column(String(80))
    value: Mapped[int] = mapped_column(BigInteger)


class EdgeHolding(Base):
    """Something an account holds at the edge, from `start_ms` to `end_ms` (ms since the epoch;
    None: still held), billed by the hour it is held (docs/metering.md, "The edge"). `kind`
    "public-ip": a public address from its allocation (a standard one: from its instance's
    creation) to its release, associated or not; `subject_id` is the address's row id (never
    reused), `subject` the address, `detail` "standard" or "customer". Copied, not referenced:
    it outlives the address's row. `kind` "vpn": a private channel from its creation to its
    deletion; `subject_id` is the vpns row's id, `subject` its name, `detail` ""."""

    __tablename__ = "edge_holdings"
    __table_args__ = (UniqueConstraint("kind", "subject_id"), NEVER_REUSE)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(60))
    account: Mapped[str] = mapped_column(String(40), index=True)
    detail: Mapped[str] = mapped_column(String(16), default="")
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)


class EdgeUsage(Base):
    """Metered traffic at the edge: one metric (bytes_in, bytes_out) of one held thing (a
    public address: through its public gateway) in one UTC hour, billed to `account`, the
    thing's holder. Like usage_records: hours since the epoch, quantities only grow."""

    __tablename__ = "edge_usage"
    __table_args__ = (UniqueConstraint("hour", "kind", "subject_id", "metric"), NEVER_REUSE)
    id: Mapped[int] = mapped_column(primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(60))
    account: Mapped[str] = mapped_column(String(40), index=True)
    metric: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(BigInteger, default=0)


class EdgeBilled(Base):
    """What the billing runs of one period billed so far of one held thing's metric
    (held_ms, bytes_in, bytes_out): the next run of the period bills only what came since."""

    __tablename__ = "edge_billed"
    __table_args__ = (UniqueConstraint("period_start", "period_end", "kind", "subject_id",
                                       "metric"), NEVER_REUSE)
    id: Mapped[int] = mapped_column(primary_key=True)
    period_start: Mapped[int] = mapped_column(Integer)
    period_end: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(Integer)
    metric: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(BigInteger, default=0)


class PriceList(Base):
    """One price list in force from `from_hour` (hours since the epoch) until the next one of the
    same (kind, subject): kind "service" (subject: "provider/service", with its billing model; a bare service name in
    lists of services deleted before names were per account),
    "instances" (the operator's, subject ""), "edge" (the operator's public addresses and
    gateway traffic and private channels, subject ""), "frontend" (subject: the front-end provider's account). Never deleted: usage outlives a service, and a billing run prices a period with
    the lists set before it ended (service/billing/price_lists.py). Amounts are exact decimal
    text."""

    __tablename__ = "price_lists"
    __table_args__ = (UniqueConstraint("kind", "subject", "from_hour"), NEVER_REUSE)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(81))  # a service's: "provider/service"
    from_hour: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    billing_model: Mapped[str | None] = mapped_column(String(16), nullable=True)
    frontend_node_hour: Mapped[str] = mapped_column(String(40), default="0")
    backend_node_hour: Mapped[str] = mapped_column(String(40), default="0")
    per_gb: Mapped[str] = mapped_column(String(40), default="0")
    per_connection: Mapped[str] = mapped_column(String(40), default="0")
    per_1000_requests: Mapped[str] = mapped_column(String(40), default="0")
    # kind "edge" (the operator's, subject ""): per public address-hour and per channel-hour
    # (a VPN); its per_gb is per GB through a public gateway (docs/billing.md, "The edge")
    public_ip_hour: Mapped[str] = mapped_column(String(40), default="0", server_default="0")
    channel_hour: Mapped[str] = mapped_column(String(40), default="0", server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BillingRun(Base):
    """One billing run of a period [period_start, period_end) (hour indices). `seq` 1 bills the
    period; a later seq bills only usage recorded into it after the run before (adjustments)."""

    __tablename__ = "billing_runs"
    __table_args__ = (UniqueConstraint("period_start", "period_end", "seq"), NEVER_REUSE)
    id: Mapped[int] = mapped_column(primary_key=True)
    period_start: Mapped[int] = mapped_column(Integer, index=True)
    period_end: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    transactions: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BilledUsage(Base):
    """The usage of one appliance in one billed period that the runs so far have billed; the
    next run of the period bills only what metering added since."""

    __tablename__ = "billed_usage"
    __table_args__ = (UniqueConstraint("period_start", "period_end", "appliance_id"),
                      NEVER_REUSE)
    id: Mapped[int] = mapped_column(primary_key=True)
    period_start: Mapped[int] = mapped_column(Integer)
    period_end: Mapped[int] = mapped_column(Integer)
    appliance_id: Mapped[int] = mapped_column(Integer)
    appliance: Mapped[str] = mapped_column(String(40))
    frontend_node_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    backend_node_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_in: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0)
    connections: Mapped[int] = mapped_column(BigInteger, default=0)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)


class LedgerTransaction(Base):
    """A posted ledger transaction (domain.ledger.Transaction). The id is the domain's
    deterministic id, so posting the same charge twice is refused by the primary key. `at_ms`
    is its booking instant (ms since the epoch); the line is what an invoice shows."""

    __tablename__ = "ledger_transactions"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("billing_runs.id"))
    seq: Mapped[int] = mapped_column(Integer)  # its place in the run: invoice line order
    at_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    quantity: Mapped[str | None] = mapped_column(String(60), nullable=True)
    unit: Mapped[str | None] = mapped_column(String(40), nullable=True)
    unit_price: Mapped[str | None] = mapped_column(String(60), nullable=True)
    payer: Mapped[str | None] = mapped_column(String(40), nullable=True)
    payee: Mapped[str | None] = mapped_column(String(40), nullable=True)
    postings: Mapped[list[LedgerPosting]] = relationship(
        order_by="LedgerPosting.seq", cascade="all, delete-orphan")


class LedgerPosting(Base):
    """One leg of a transaction: a whole-cent amount as exact decimal text, never float."""

    __tablename__ = "ledger_postings"
    __table_args__ = (UniqueConstraint("transaction_id", "seq"), NEVER_REUSE)
    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[str] = mapped_column(ForeignKey("ledger_transactions.id"))
    seq: Mapped[int] = mapped_column(Integer)
    account: Mapped[str] = mapped_column(String(60), index=True)
    side: Mapped[str] = mapped_column(String(6))
    amount: Mapped[str] = mapped_column(String(60))
    currency: Mapped[str] = mapped_column(String(3))


class AutoscalePolicy(Base):
    """A service's autoscaling policy (domain/autoscale.py): backends within [min, max], a
    target of `metric` per backend per second, a cool-down before scaling down."""

    __tablename__ = "autoscale_policies"
    __table_args__ = NEVER_REUSE
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"),
                                            unique=True)
    min_backends: Mapped[int] = mapped_column(Integer)
    max_backends: Mapped[int] = mapped_column(Integer)
    metric: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(24))  # a decimal, kept exact as text
    cooldown_s: Mapped[int] = mapped_column(Integer)


class Event(Base):
    __tablename__ = "events"
    __table_args__ = NEVER_REUSE
    id: Mapped[int] = mapped_column(primary_key=True)
    time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    object: Mapped[str] = mapped_column(String(120))
    message: Mapped[str] = mapped_column(Text)
    # the X-Request-ID of the API request that caused it; None for the controller's own
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    # the account whose object it is about (service/events.py): it is shown to that account
    # (and an appliance's to its provider). No foreign key: the log outlives an account, and
    # account ids are never reused. None: recorded before 0022, or by the controller about a
    # kernel object, matched by name instead.
    account_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)


class IdempotentRequest(Base):
    """A POST sent with an `Idempotency-Key` (api/idempotency.py): the request's fingerprint
    and, once it succeeded, its answer, replayed to a retry with the same key for a day.
    `status` None: the first request is still running."""

    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("scope", "key"), NEVER_REUSE)
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))  # sha256 hex of the token that sent it
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of method, path, query, body
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    location: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Quota(Base):
    """An operator-set limit on how many of one resource (domain.quotas.RESOURCES) an account may
    hold. No row means the default of domain.quotas.DEFAULTS; the unique key is one limit per
    (account, resource)."""

    __tablename__ = "quotas"
    __table_args__ = (UniqueConstraint("account_id", "resource"), NEVER_REUSE)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    resource: Mapped[str] = mapped_column(String(16))
    limit: Mapped[int] = mapped_column(Integer)


class SubnetGrant(Base):
    """The subnet's owner lets another account (the grantee) give its instances interfaces in
    it. One grant per (subnet, grantee); revoking deletes the row (existing interfaces stay)."""

    __tablename__ = "subnet_grants"
    __table_args__ = (UniqueConstraint("subnet_id", "account_id"), NEVER_REUSE)
    id: Mapped[int] = mapped_column(primary_key=True)
    subnet_id: Mapped[int] = mapped_column(ForeignKey("subnets.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    subnet: Mapped[Subnet] = relationship()
    account: Mapped[Account] = relationship()
