"""The states objects go through, named once: what the store keeps and the API shows as
strings (a StrEnum member is its string, so rows, JSON and comparisons with plain strings stay as
they were)."""

from __future__ import annotations

from enum import StrEnum

from facade.domain.errors import Invalid


class ApplianceStatus(StrEnum):
    """An appliance's: `provisioning` until it first becomes `ready` (every backend in rotation,
    a request through its endpoint answered, its nodes' agents reached), `degraded` when a
    ready one stops being so, `failed` when it cannot be made, `deleting` on its way out."""

    PROVISIONING = "provisioning"
    READY = "ready"
    DEGRADED = "degraded"
    FAILED = "failed"
    DELETING = "deleting"


def appliance_status(value: str, *, where: str = "status") -> ApplianceStatus:
    """A status a caller wrote (a list filter), checked."""
    try:
        return ApplianceStatus(value)
    except ValueError:
        raise Invalid(f"status {value!r} must be one of "
                      f"{', '.join(s.value for s in ApplianceStatus)}", where=where) from None
