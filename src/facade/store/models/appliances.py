"""What runs: instances and appliance nodes with their interfaces, the services that providers
offer (and load-balancer offers, autoscaling policies), and the appliances customers make of
them. One module: a node and its appliance refer to each other."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from facade.domain.states import ApplianceStatus, NodeRole, NodeStatus
from facade.store.models.accounts import Account
from facade.store.models.base import NEVER_REUSE, Base, utcnow
from facade.store.models.hosts import Host
from facade.store.models.networks import Subnet


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
