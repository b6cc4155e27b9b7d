"""A service's health check (docs/health.md): what applies to its backends, and changing it.

The path lives in the service's `health_path` column (also the older top-level setting), the
other settings in `health_*` columns, None meaning the default (domain.health). A change
applies to running appliances at once: the service's appliances are queued, whose reconciler
hands the new check to the health engine; the management agents learn the type with their
configuration. Only the provider (or the operator) changes it; other accounts get 403 (a
service is a public offer).
"""

from __future__ import annotations

from typing import Any

from facade.domain import health, workload
from facade.readmodels.services import HealthCheckRead
from facade.service import lookup
from facade.service.context import Caller, Context
from facade.store.models import Service

# setting -> (column, stored as): seconds are kept as whole milliseconds
COLUMNS: dict[str, tuple[str, float]] = {
    "type": ("health_type", 0), "path": ("health_path", 0), "codes": ("health_codes", 0),
    "interval": ("health_interval_ms", 1000), "timeout": ("health_timeout_ms", 1000),
    "rise": ("health_rise", 0), "fall": ("health_fall", 0)}


def stored(row: Service) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (column, scale) in COLUMNS.items():
        value = getattr(row, column)
        out[name] = value / scale if scale and value is not None else value
    return out


def of_row(row: Service) -> health.HealthCheck:
    """The check that applies to a service's backends."""
    return health.effective(stored(row), workload.default_health_path(row.workload))


def store(row: Service, raw: object, *, where: str = "health_check") -> bool:
    """Check a partial health-check mapping, store it on the row (a null value resets that
    setting to the default) and check the result fits together; True if something changed.
    Invalid leaves the row as it was."""
    checked = health.check(raw, where=where)
    merged = {**stored(row), **checked}
    health.effective(merged, workload.default_health_path(row.workload), where=where)
    changed = False
    for name, value in checked.items():
        column, scale = COLUMNS[name]
        value = round(value * scale) if scale and value is not None else value
        if getattr(row, column) != value:
            setattr(row, column, value)
            changed = True
    return changed


def set_service(ctx: Context, caller: Caller, name: str, raw: dict[str, Any]) -> HealthCheckRead:
    with ctx.write() as session:
        row = lookup.own_service(session, caller, name, "its health check")
        if store(row, raw):
            ctx.event(session, "service.health_check", name,
                      f"health check now {describe(of_row(row))}",
                      account=row.account_id)
        out = HealthCheckRead(**of_row(row).as_dict())
    ctx.kick()
    return out


def describe(hc: health.HealthCheck) -> str:
    what = f"GET {hc.path} answers {hc.codes}" if hc.type == "http" else hc.type
    return (f"{what} every {hc.interval:g} s (timeout {hc.timeout:g} s, rise {hc.rise}, "
            f"fall {hc.fall})")
