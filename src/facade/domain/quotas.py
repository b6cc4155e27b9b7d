"""Per-account quotas: which resources are counted, the defaults when the operator has set
nothing, the range of a limit, and the rule itself. The service layer counts and calls `check`
inside the write transaction that allocates (service/quotas.py); the operator account is never
limited."""

from __future__ import annotations

from facade.domain.errors import Invalid, QuotaExceeded

# resource -> what is counted (docs/api.md, Quotas)
RESOURCES: dict[str, str] = {
    "networks": "networks the account owns",
    "subnets": "subnets in the account's networks",
    "instances": "the account's own instances (not appliance nodes)",
    "appliances": "appliances the account owns as customer",
    "backends": "backend nodes of the appliances the account owns as customer",
    "public_ips": "customer public IPs the account holds (allocated, associated or not)",
}

# Generous but finite: a runaway script stops long before it exhausts the host.
DEFAULTS: dict[str, int] = {
    "networks": 20,
    "subnets": 100,
    "instances": 200,
    "appliances": 50,
    "backends": 256,
    "public_ips": 10,  # as a cloud's elastic addresses: few, asked for, released when idle
}

MAX_LIMIT = 100_000


def check_limit(resource: str, value: object, *, where: str | None = None) -> int:
    """A limit the operator may set: an integer 0..MAX_LIMIT for a known resource."""
    where = where or resource
    if resource not in RESOURCES:
        raise Invalid(f"unknown quota {resource!r}; quotas are {', '.join(RESOURCES)}",
                      where=where)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LIMIT:
        raise Invalid(f"quota {resource} must be an integer 0-{MAX_LIMIT}, not {value!r}",
                      where=where)
    return value


def check(account: str, resource: str, limit: int | None, used: int, adding: int = 1, *,
          where: str | None = None) -> None:
    """Refuse to go from `used` to `used + adding` past `limit` (None: not limited)."""
    if limit is None or used + adding <= limit:
        return
    asks = "" if adding == 1 else f" and asks for {adding} more"
    noun = resource.replace("_", " ")
    noun = noun[:-1] if limit == 1 else noun  # every resource name is a plain plural
    raise QuotaExceeded(f"account {account} may have at most {limit} {noun} (quota); "
                        f"it has {used}{asks}", where=where)
