"""Usage as its parties read it: `GET /v1/usage`, `facade usage` and the Prometheus `/metrics`;
the edge's, per public address: `GET /v1/usage/public-ips`, `facade usage --public-ips`, and
per private channel: `GET /v1/usage/channels`, `facade usage --channels`.

Who sees what (the same rule as everywhere): the operator sees all usage; an account sees the
usage of the appliances it consumes (as customer) or provides (as provider, or as the owner of
a node such as a front-end provider). Per-node rows name the provider's nodes, so only the
provider, the node's owner and the operator get them; a customer reads its appliances whole.
Node time is shown in seconds with millisecond precision (as a decimal string in JSON).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import or_, select

from facade.domain import edge, names
from facade.domain.edge_billing import PUBLIC_IP, VPN, EdgeUse
from facade.domain.errors import Forbidden, Invalid
from facade.domain.metering import from_ms
from facade.domain.metering import to_ms as metering_ms
from facade.domain.paging import FIRST, PageRequest
from facade.domain.period import Period, parse_period
from facade.domain.states import ApplianceStatus, NodeRole
from facade.readmodels.usage import (
    ChannelUsagePage,
    ChannelUsageRead,
    PublicIpUsagePage,
    PublicIpUsageRead,
    UsagePage,
    UsageRead,
)
from facade.service import edge_metering, lookup, metering, metrics, paging
from facade.service.context import Caller, Context
from facade.store.models import Appliance, UsageRecord

MAX_FILTER = 40


def _seconds(ms: int) -> str:
    return str((Decimal(ms) / 1000).quantize(Decimal("0.001")))


def _row(t: metering.Totals, node: bool) -> UsageRead:
    """A row; a per-appliance one leaves node, role and owner unset (the route answers what
    is set: they are not even null there)."""
    v = t.values
    per_node = {"node": t.node, "role": t.role, "owner": t.owner} if node else {}
    return UsageRead(appliance=t.appliance, customer=t.customer, provider=t.provider,
                     service=t.service, **per_node,
                     frontend_node_seconds=_seconds(v["frontend_node_ms"]),
                     backend_node_seconds=_seconds(v["backend_node_ms"]),
                     bytes_in=v["bytes_in"], bytes_out=v["bytes_out"],
                     connections=v["connections"], requests=v["requests"])


def _visible(caller: Caller, *, node: bool) -> list[Any]:
    if caller.operator:
        return []
    mine = [UsageRecord.provider == caller.account, UsageRecord.owner == caller.account]
    if not node:
        mine.append(UsageRecord.customer == caller.account)
    return [or_(*mine)]


# rows are ordered by appliance name, then appliance id (a name may come back), then node
ORDERS = {
    "appliance": paging.Order(kind="usage", columns=(UsageRecord.appliance,
                                                     UsageRecord.appliance_id),
                              shape=(str, int)),
    "node": paging.Order(kind="usage-by-node", columns=(UsageRecord.appliance,
                                                        UsageRecord.appliance_id,
                                                        UsageRecord.node),
                         shape=(str, int, str)),
}


def report(ctx: Context, caller: Caller, *, period: str | None = None,
           account: str | None = None, appliance: str | None = None,
           by: str = "appliance", page: PageRequest = FIRST) -> UsagePage:
    """A page of usage rows over a period (all time without one), per appliance or per node.

    Two queries: the page's keys (appliances, or nodes) in order, then the sums of the
    records between the first key and the last."""
    if by not in ("appliance", "node"):
        raise Invalid(f"by={by!r}: use 'appliance' or 'node'", where="by")
    node = by == "node"
    order = ORDERS[by]
    where = _visible(caller, node=node)
    when = parse_period(period) if period is not None else None
    with ctx.read() as session:
        if account is not None:
            if not caller.operator and account != caller.account:
                raise Forbidden(f"account {caller.account} may not read the usage of "
                                f"account {account}", where="account")
            lookup.account(session, account)
            where.append(or_(UsageRecord.customer == account, UsageRecord.provider == account,
                             UsageRecord.owner == account))
        if appliance is not None:
            if len(appliance) > MAX_FILTER:
                raise Invalid("appliance name is longer than 40 characters", where="appliance")
            where.append(UsageRecord.appliance == appliance)
        span: list[Any] = [] if when is None else [
            UsageRecord.hour >= metering.hour_index(when.start, "period.start"),
            UsageRecord.hour < metering.hour_index(when.end, "period.end")]
        keys, cursor = paging.rows(
            session, select(*order.columns).where(*where, *span).group_by(*order.columns),
            order, page)
        if not keys:
            return UsagePage.of([], None)
        start = page.after(order.kind, order.shape)
        if start is not None:
            where.append(paging.after(order, start))
        # up to the page's last key: NOT (key > last)
        where.append(~paging.after(order, tuple(keys[-1])))
        rows = metering.by_node(session, when, where=where) if node else \
            metering.totals(session, when, where=where)
    return UsagePage.of([_row(t, node) for t in rows], cursor)


# --- the edge: public addresses ----------------------------------------------------------------


ALL_TIME_START = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _hours(ms: int) -> str:
    return str((Decimal(ms) / 3_600_000).quantize(Decimal("0.000001")))


def _instant(ms: int | None) -> str | None:
    return None if ms is None else from_ms(ms).isoformat(timespec="milliseconds")


def _held(ctx: Context, caller: Caller, period: str | None, account: str | None
          ) -> tuple[Period | None, list[EdgeUse]]:
    """What the caller may see held at the edge over a period (all time without one), up to
    now: its own holdings, every account's for the operator (or `account`'s)."""
    when = parse_period(period, where="period") if period is not None else None
    now = dt.datetime.now(dt.UTC)
    if when is not None:
        metering.hour_index(when.start, "period")
        metering.hour_index(when.end, "period")
    span = when or Period(ALL_TIME_START, now.replace(minute=0, second=0, microsecond=0)
                          + dt.timedelta(hours=1))
    with ctx.read() as session:
        accounts: set[str] | None = None if caller.operator else {caller.account}
        if account is not None:
            if not caller.operator and account != caller.account:
                raise Forbidden(f"account {caller.account} may not read the usage of "
                                f"account {account}", where="account")
            lookup.account(session, account)
            accounts = {account}
        return when, edge_metering.by_subject(session, span, metering_ms(now), accounts)


def public_ips(ctx: Context, caller: Caller, *, period: str | None = None,
               account: str | None = None, address: str | None = None,
               page: PageRequest = FIRST) -> PublicIpUsagePage:
    """A page of each public address's usage over a period (all time without one): hours held
    (allocated to released, associated or not; up to now while still held) and bytes through
    its public gateway, in and out; one row per allocation (an address released and allocated
    again is two, told apart by `held_from`), oldest allocation first. An account sees its own
    addresses, the operator all."""
    if address is not None:
        address = edge.check_public(address, where="address")
    label, shown, after = _held_page(ctx, caller, period, account, PUBLIC_IP, address, page)
    return PublicIpUsagePage.of([PublicIpUsageRead(
        address=u.subject, account=u.account, kind=u.detail or "customer", period=label,
        held_from=_instant(u.start_ms), held_until=_instant(u.end_ms),
        ip_hours=_hours(u.held_ms), bytes_in=u.bytes_in, bytes_out=u.bytes_out)
        for u in shown], after)


def channels(ctx: Context, caller: Caller, *, period: str | None = None,
             account: str | None = None, channel: str | None = None,
             page: PageRequest = FIRST) -> ChannelUsagePage:
    """A page of each private channel's (VPN's) hours over a period (all time without one):
    created to deleted, up to now while it lives; one row per channel (a name used again is
    another channel, told apart by `held_from`), oldest first. An account sees its own
    channels, the operator all. A channel carries no billed bytes (docs/billing.md, "The
    edge")."""
    if channel is not None:
        names.check_name(channel, kind="vpn", where="channel")
    label, shown, after = _held_page(ctx, caller, period, account, VPN, channel, page)
    return ChannelUsagePage.of([ChannelUsageRead(
        channel=u.subject, account=u.account, period=label, held_from=_instant(u.start_ms),
        held_until=_instant(u.end_ms), channel_hours=_hours(u.held_ms)) for u in shown], after)


# each held thing's rows in the order of their holding: when it began, then which it is
HELD_ORDER = {PUBLIC_IP: paging.Order(kind="usage-public-ips", columns=(), shape=(int, int)),
              VPN: paging.Order(kind="usage-channels", columns=(), shape=(int, int))}


def _held_page(ctx: Context, caller: Caller, period: str | None, account: str | None,
               kind: str, subject: str | None, page: PageRequest
               ) -> tuple[str, list[EdgeUse], str | None]:
    """The period's label, a page of the holdings of `kind` (of `subject` only, if given) and
    the next page's cursor."""
    when, uses = _held(ctx, caller, period, account)
    mine = [u for u in uses if u.kind == kind and (subject is None or u.subject == subject)]
    shown, after = paging.computed(mine, HELD_ORDER[kind], page, _held_key)
    return (str(when) if when is not None else "all time"), shown, after


def _held_key(use: EdgeUse) -> tuple[int, int]:
    return (use.start_ms if use.start_ms is not None else -1), use.subject_id


# --- Prometheus text exposition ---------------------------------------------------------------

# a counter is named without `_total` here: prometheus_client adds it, so the series keep the
# names they always had (facade_usage_bytes_total...)
_HELP = {
    "facade_usage_node_seconds": ("counter", "Node time of appliance nodes, by role."),
    "facade_usage_bytes": ("counter", "Bytes through appliance endpoints, by direction "
                                      "(in: customer to backends, out: replies)."),
    "facade_usage_connections": ("counter", "Connections through appliance endpoints."),
    "facade_usage_requests": ("counter", "Requests served by appliance workloads that count "
                                         "them."),
    "facade_public_ip_bytes": ("counter", "Bytes through the public gateway per public address "
                                          "held now, by direction (in: to the address, out: "
                                          "from it)."),
    "facade_public_ip_held_seconds": ("counter", "Time a public address held now has been "
                                                 "held (allocated, associated or not)."),
    "facade_appliance_backends": ("gauge", "Backends an appliance should have."),
    "facade_appliance_ready": ("gauge", "1 when the appliance's endpoint answered."),
}
APPLIANCE = ("appliance", "account", "provider", "service")
ADDRESS = ("address", "account", "kind")
_LABELS = {
    "facade_usage_node_seconds": (*APPLIANCE, "role"),
    "facade_usage_bytes": (*APPLIANCE, "direction"),
    "facade_usage_connections": APPLIANCE, "facade_usage_requests": APPLIANCE,
    "facade_public_ip_bytes": (*ADDRESS, "direction"), "facade_public_ip_held_seconds": ADDRESS,
    "facade_appliance_backends": APPLIANCE, "facade_appliance_ready": APPLIANCE,
}


def _families() -> dict[str, CounterMetricFamily | GaugeMetricFamily]:
    return {name: (CounterMetricFamily if kind == "counter" else GaugeMetricFamily)(
        name, text, labels=_LABELS[name]) for name, (kind, text) in _HELP.items()}


def prometheus(ctx: Context, caller: Caller) -> bytes:
    """All-time usage counters per appliance (labels appliance, account = the customer,
    provider, service), each appliance's state, and each public address held now (labels
    address, account, kind), in the text exposition format 0.0.4."""
    out = _families()

    def add(name: str, labels: tuple[str, ...], value: float) -> None:
        out[name].add_metric(labels, value)

    with ctx.read() as session:
        totals = metering.totals(session, None, where=_visible(caller, node=False))
        apps = [a for a in session.scalars(select(Appliance).order_by(Appliance.id))
                if caller.may_see(a.account_id, a.service.account_id)]
        for t in totals:
            base = (t.appliance, t.customer, t.provider, t.service)
            v = t.values
            for role in (NodeRole.FRONTEND, NodeRole.BACKEND):
                add("facade_usage_node_seconds", (*base, role), v[f"{role}_node_ms"] / 1000)
            for direction in ("in", "out"):
                add("facade_usage_bytes", (*base, direction), v[f"bytes_{direction}"])
            add("facade_usage_connections", base, v["connections"])
            add("facade_usage_requests", base, v["requests"])
        held = edge_metering.by_subject(
            session, Period(ALL_TIME_START, dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)),
            metering_ms(dt.datetime.now(dt.UTC)),
            None if caller.operator else {caller.account})
        for u in held:
            # an address only (a channel has no counters), and only while held: released,
            # its counters end with it
            if u.kind != PUBLIC_IP or u.end_ms is not None:
                continue
            where = (u.subject, u.account, u.detail or "customer")
            add("facade_public_ip_bytes", (*where, "in"), u.bytes_in)
            add("facade_public_ip_bytes", (*where, "out"), u.bytes_out)
            add("facade_public_ip_held_seconds", where, u.held_ms / 1000)
        for a in apps:
            base = (a.name, a.account.name, a.service.account.name, a.service.name)
            add("facade_appliance_backends", base, a.desired_backends)
            add("facade_appliance_ready", base, 1 if a.status == ApplianceStatus.READY else 0)
    return metrics.exposition(out.values())
