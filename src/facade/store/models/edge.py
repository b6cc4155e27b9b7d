"""The edge (docs/edge.md): pools of public addresses, the addresses in use, private channels
(VPNs) to customer sites."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from facade.store.models.accounts import Account
from facade.store.models.appliances import Instance
from facade.store.models.base import NEVER_REUSE, Base, utcnow
from facade.store.models.networks import Network


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
