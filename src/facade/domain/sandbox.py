"""The rules of tenant sandboxes: whose host uids a node's root maps to, and its limits.

Root inside a node is uid `uid_base(account)` on the host: one range of UID_RANGE uids per
account, far above any real user's (systemd hands containers 524288 and up; Facade starts at
FIRST_UID), owning nothing on the host. Limits are per node: memory, processes (threads count)
and a CPU weight (100 = an ordinary share); a service sets its backends', an instance its own,
front-ends take FRONTEND_LIMITS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from facade.domain.errors import Invalid

UID_RANGE = 65536
FIRST_UID = 0x10000000  # 268435456
MAX_ACCOUNT_ID = (0xFFFFFFFE - FIRST_UID) // UID_RANGE - 1  # uid 2^32-1 is "no uid"

MEMORY_MB = (16, 65536)
PIDS = (16, 65536)
CPU_WEIGHT = (1, 10000)


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 512
    pids: int = 512
    cpu_weight: int = 100

    @property
    def memory(self) -> int:
        return self.memory_mb * 1024 * 1024

    def as_dict(self) -> dict[str, int]:
        return {"memory_mb": self.memory_mb, "pids": self.pids, "cpu_weight": self.cpu_weight}


DEFAULT_LIMITS = Limits()
FRONTEND_LIMITS = Limits(memory_mb=128, pids=128, cpu_weight=100)


def uid_base(account_id: int) -> int:
    """The host uid that root of this account's nodes is (the range's first)."""
    if not 0 < account_id <= MAX_ACCOUNT_ID:
        raise ValueError(f"account id {account_id} has no uid range (1..{MAX_ACCOUNT_ID})")
    return FIRST_UID + account_id * UID_RANGE


def _bounded(value: object, name: str, bounds: tuple[int, int], unit: str, where: str) -> int:
    lo, hi = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise Invalid(f"{name} must be a whole number from {lo} to {hi}{unit}, not {value!r}",
                      where=f"{where}.{name}")
    return value


def check_limits(raw: object, *, where: str = "limits") -> dict[str, int]:
    """A partial limits mapping ({memory_mb, pids, cpu_weight}, each optional), checked."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise Invalid("limits must be a mapping of memory_mb, pids and cpu_weight", where=where)
    unknown = sorted(set(raw) - {"memory_mb", "pids", "cpu_weight"})
    if unknown:
        raise Invalid(f"unknown limit {unknown[0]!r}; limits are memory_mb, pids and "
                      "cpu_weight", where=f"{where}.{unknown[0]}")
    out: dict[str, int] = {}
    if raw.get("memory_mb") is not None:
        out["memory_mb"] = _bounded(raw["memory_mb"], "memory_mb", MEMORY_MB, " (MiB)", where)
    if raw.get("pids") is not None:
        out["pids"] = _bounded(raw["pids"], "pids", PIDS, "", where)
    if raw.get("cpu_weight") is not None:
        out["cpu_weight"] = _bounded(raw["cpu_weight"], "cpu_weight", CPU_WEIGHT,
                                     " (100 is an ordinary share)", where)
    return out


def effective(memory_mb: Any, pids: Any, cpu_weight: Any,
              default: Limits = DEFAULT_LIMITS) -> Limits:
    """Stored settings (None: not set) over the defaults."""
    return Limits(memory_mb=memory_mb if memory_mb is not None else default.memory_mb,
                  pids=pids if pids is not None else default.pids,
                  cpu_weight=cpu_weight if cpu_weight is not None else default.cpu_weight)
