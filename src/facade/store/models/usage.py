"""Metered usage (docs/metering.md): appliance nodes' usage by hour, the counters' last readings,
what accounts hold at the edge and its traffic by hour. Names are copied in, not referenced:
usage outlives what it measured."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from facade.store.models.base import NEVER_REUSE, Base


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
