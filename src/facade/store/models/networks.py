"""Networks (a tenant's VPC, the intermediate network, a customer site), their subnets, the grants
of a subnet to another account and the security rules on subnets and interfaces."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from facade.store.models.accounts import Account
from facade.store.models.base import NEVER_REUSE, Base, utcnow


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
