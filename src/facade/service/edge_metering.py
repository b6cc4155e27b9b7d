"""Metering at the edge (docs/metering.md, "The edge"): what accounts hold there and what
passes their public gateways.

- **Holdings** (`hold`, `let_go`): a public address is held from its allocation (a standard
  one: from its instance's creation) to its release, associated or not; service/public_ips.py
  opens and closes the row in the transaction that makes or drops the address. Held time needs
  no counter and no tick: a period's hours are the overlap of the holdings with it
  (domain/edge_billing.py `held_ms`), exact to the millisecond, whether the control plane ran
  or not.
- **Bytes through a gateway**: a public gateway counts each translated address's bytes in and
  out in two named counters of its table (`NodeSpec.gateway.meters`,
  dataplane/linux/router_rules.py). `GatewayMeter.round` (the metering engine's timer,
  controller/engines.py) reads every gateway's counters (one listing of its table) and, only
  when a counter moved, records the increments against the last stored readings in one
  transaction, exactly as the appliance meters are (domain/metering.py `increment`: a new
  epoch, a router or counter made again, is counted whole). `last_read` reads one gateway
  right before its reconcile changes its table (controller/fabric.py), so what an address's
  counters held when it leaves the gateway (a disassociation, a remap to another network, a
  release) is billed, not lost. Bytes go to the address's holder (its holding, which outlives
  the address's row): a remap moves the address, not whose it is.

- **Channels** (kind "vpn"): a private channel is held by its account from its creation to its
  deletion (service/vpns.py opens and closes the row); hours only, no bytes.

`by_subject` sums a period for the API (`facade usage --public-ips`, `facade usage
--channels`) and billing.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain import names
from facade.domain.edge_billing import PUBLIC_IP, EdgeUse, held_ms
from facade.domain.metering import Reading, increment, to_ms
from facade.domain.period import Period
from facade.service.context import Context
from facade.store.models import EdgeHolding, EdgeUsage, MeterReading, Network

log = logging.getLogger("facade.metering")

HOUR_MS = 3_600_000
KEY_PREFIX = "gw:"  # meter_readings keys of the gateways' counters: gw:n<network>:<counter>
METRICS = {"in": "bytes_in", "out": "bytes_out"}


def now_ms() -> int:
    return to_ms(dt.datetime.now(dt.UTC))


# --- holdings ----------------------------------------------------------------------------------


def hold(session: Session, kind: str, subject_id: int, subject: str, account: str,
         detail: str = "", at_ms: int | None = None) -> None:
    """`account` holds `subject` from now (or `at_ms`) on."""
    session.add(EdgeHolding(kind=kind, subject_id=subject_id, subject=subject, account=account,
                            detail=detail, start_ms=now_ms() if at_ms is None else at_ms))


def let_go(session: Session, kind: str, subject_id: int, at_ms: int | None = None) -> None:
    """The holding of `subject_id` ends now (or at `at_ms`); one already ended is left as is."""
    row = session.scalar(select(EdgeHolding).where(EdgeHolding.kind == kind,
                                                   EdgeHolding.subject_id == subject_id))
    if row is not None and row.end_ms is None:
        row.end_ms = max(row.start_ms, now_ms() if at_ms is None else at_ms)


# --- the gateways' counters ----------------------------------------------------------------------


@dataclass(frozen=True)
class Gateway:
    network_id: int
    netns: str


def gateways(session: Session) -> list[Gateway]:
    """The routers that are public gateways now (what a round reads)."""
    ids = session.scalars(select(Network.id).where(Network.public_gateway.is_(True),
                                                   Network.kind == "private")
                          .order_by(Network.id))
    return [Gateway(int(i), names.router_netns(int(i))) for i in ids]


def _key(network_id: int, counter: str) -> str:
    return f"{KEY_PREFIX}n{network_id}:{counter}"


def _network_of(key: str) -> int | None:
    part = key[len(KEY_PREFIX):].split(":", 1)[0]
    return int(part[1:]) if part.startswith("n") and part[1:].isdigit() else None


@dataclass
class GatewayRead:
    network_id: int
    counters: dict[str, tuple[str, int]]  # name -> (epoch, bytes)


def read(ctx: Context, gws: list[Gateway]) -> list[GatewayRead]:
    """Each gateway's counters (kernel reads, no database); a router that is not there now
    (being made again) is left out: its readings stay, its next counters are counted whole."""
    out = []
    for gw in gws:
        try:
            got = ctx.dataplane.gateway_counters(gw.netns)
        except Exception:  # a metering read never breaks its caller
            log.exception("reading the counters of %s failed", gw.netns)
            continue
        if got is not None:
            out.append(GatewayRead(gw.network_id, got))
    return out


def record(session: Session, reads: list[GatewayRead], at_ms: int,
           stale: frozenset[str] = frozenset(), gone: frozenset[int] = frozenset()) -> int:
    """Store the increments of `reads` (each added to the hour `at_ms` falls in) with their
    new readings; the readings in `stale` (counters seen before and gone since) and of the
    networks in `gone` (no longer gateways) are dropped. Returns the bytes recorded.

    Two readers may overlap (the engine's round and a reconcile's last read): a reading is
    never moved back. Under one epoch a smaller value can only be an older snapshot (a count
    that starts again has a new epoch: another counter, table or namespace), so it adds
    nothing and the stored reading stays."""
    read_nets = {r.network_id for r in reads}
    readings = {r.key: r for r in session.scalars(select(MeterReading).where(
        MeterReading.key.like(f"{KEY_PREFIX}%")))
        if _network_of(r.key) in read_nets | gone}
    wanted: list[tuple[str, Reading, int, str]] = []
    for r in reads:
        for name, (epoch, value) in sorted(r.counters.items()):
            parsed = names.public_ip_meter_of(name)
            if parsed is not None and value >= 0:
                wanted.append((_key(r.network_id, name), Reading(epoch, value), parsed[0],
                               METRICS[parsed[1]]))
    holders = {h.subject_id: h for h in session.scalars(select(EdgeHolding).where(
        EdgeHolding.kind == PUBLIC_IP,
        EdgeHolding.subject_id.in_({pip for _, _, pip, _ in wanted})))} if wanted else {}
    hour = at_ms // HOUR_MS
    rows = {(u.subject_id, u.metric): u for u in session.scalars(select(EdgeUsage).where(
        EdgeUsage.hour == hour, EdgeUsage.kind == PUBLIC_IP,
        EdgeUsage.subject_id.in_({pip for _, _, pip, _ in wanted})))} if wanted else {}
    total = 0
    for key, now, pip, metric in wanted:
        row = readings.pop(key, None)
        if row is not None and row.epoch == now.epoch and now.value <= row.value:
            continue  # nothing new, or an older snapshot than the stored reading
        inc = increment(Reading(row.epoch, row.value) if row is not None else None, now)
        holder = holders.get(pip)
        if inc > 0 and holder is None:
            log.warning("%s counted %d bytes of public IP #%d, which nobody held", key, inc, pip)
        elif inc > 0 and holder is not None:
            usage = rows.get((pip, metric))
            if usage is None:
                usage = rows[(pip, metric)] = EdgeUsage(
                    hour=hour, kind=PUBLIC_IP, subject_id=pip, subject=holder.subject,
                    account=holder.account, metric=metric, quantity=0)
                session.add(usage)
            usage.quantity += inc
            total += inc
        if row is None:
            session.add(MeterReading(key=key, epoch=now.epoch, value=now.value))
        else:
            row.epoch, row.value = now.epoch, now.value
    for key, row in readings.items():  # counters gone: they will never be read again
        if key in stale or _network_of(key) in gone:
            session.delete(row)
    return total


@dataclass
class GatewayMeter:
    """The metering engine's reader of the gateways: what it recorded last (in memory), so a
    round in which no counter moved touches no database; the store stays the truth (a round
    that writes computes against the stored readings)."""

    seen: dict[str, tuple[str, int]] = field(default_factory=dict)
    networks: set[int] = field(default_factory=set)

    def round(self, ctx: Context, gws: list[Gateway]) -> int:
        reads = read(ctx, gws)
        now = {_key(r.network_id, n): v for r in reads for n, v in r.counters.items()}
        read_nets = {r.network_id for r in reads}
        gone = self.networks - {g.network_id for g in gws}
        stale = [k for k in self.seen if _network_of(k) in read_nets | gone and k not in now]
        moved = any(self.seen.get(k) != v for k, v in now.items())
        total = 0
        if moved or stale or gone:
            with ctx.write(track=False) as session:
                total = record(session, reads, now_ms(), frozenset(stale), frozenset(gone))
            for k in stale:
                self.seen.pop(k, None)
            self.seen.update(now)
        self.networks = {g.network_id for g in gws}
        return total


def last_read(ctx: Context, network_id: int) -> int:
    """One gateway's counters read and recorded now (before its table changes)."""
    reads = read(ctx, [Gateway(network_id, names.router_netns(network_id))])
    if not reads or not reads[0].counters:
        return 0
    with ctx.write(track=False) as session:
        return record(session, reads, now_ms())


# --- queries -------------------------------------------------------------------------------------


def _hour(at: dt.datetime) -> int:
    return to_ms(at) // HOUR_MS


def by_subject(session: Session, period: Period, now: int | None = None,
               accounts: set[str] | None = None) -> list[EdgeUse]:
    """Every held thing's usage over `period`: its held time (a holding still held counts up
    to `now`, or to the period's end) and its bytes; only those of `accounts` when given."""
    start, end = to_ms(period.start), to_ms(period.end)
    q = select(EdgeHolding).where(EdgeHolding.start_ms < end,
                                  (EdgeHolding.end_ms.is_(None)) | (EdgeHolding.end_ms > start))
    if accounts is not None:
        q = q.where(EdgeHolding.account.in_(accounts))
    uses: dict[tuple[str, int], dict[str, Any]] = {}
    for h in session.scalars(q):
        uses[(h.kind, h.subject_id)] = {
            "kind": h.kind, "subject_id": h.subject_id, "subject": h.subject,
            "account": h.account, "detail": h.detail,
            "held_ms": held_ms(h.start_ms, h.end_ms, start, end, now),
            "start_ms": h.start_ms, "end_ms": h.end_ms}
    bq = select(EdgeUsage).where(EdgeUsage.hour >= _hour(period.start),
                                 EdgeUsage.hour < _hour(period.end))
    if accounts is not None:
        bq = bq.where(EdgeUsage.account.in_(accounts))
    missing: set[tuple[str, int]] = set()
    for u in session.scalars(bq):
        entry = uses.get((u.kind, u.subject_id))
        if entry is None:  # bytes read in this period of an address let go before it
            entry = uses[(u.kind, u.subject_id)] = {
                "kind": u.kind, "subject_id": u.subject_id, "subject": u.subject,
                "account": u.account, "detail": "", "held_ms": 0}
            missing.add((u.kind, u.subject_id))
        entry[u.metric] = entry.get(u.metric, 0) + int(u.quantity)
    if missing:
        for h in session.scalars(select(EdgeHolding).where(
                EdgeHolding.subject_id.in_({i for _, i in missing}))):
            if (h.kind, h.subject_id) in missing:
                uses[(h.kind, h.subject_id)] |= {"detail": h.detail, "start_ms": h.start_ms,
                                                 "end_ms": h.end_ms}
    return [EdgeUse(**u) for _, u in sorted(uses.items(), key=lambda kv: (
        kv[1]["account"], kv[1]["subject"], kv[0]))]
