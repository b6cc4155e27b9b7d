"""Billing (docs/billing.md): price lists, billing runs and what each billed, and the ledger's
transactions and postings."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from facade.store.models.base import NEVER_REUSE, Base, utcnow


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
