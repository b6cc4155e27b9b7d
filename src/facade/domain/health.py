"""The rules of a service's health check: what checks its backends, how often, and when a
backend counts as healthy or not (docs/health.md).

Three types, as load balancers offer them:
- `http`: GET `path` from inside the backend's namespace; healthy when the status is one of
  `codes` ("200-399", "200,204", ranges and codes separated by commas);
- `tcp`: a TCP connection to the service port is accepted (and closed at once);
- `agent`: the node's management agent reports whether a process listens on the service port,
  read from the kernel's socket table without connecting (for servers that serve one client at
  a time, such as `iperf3 -s`, where a probe would count as a client).

Each check waits `timeout` seconds at most and runs every `interval`; `rise` checks in a row
that pass make a backend healthy, `fall` that fail make it unhealthy, and while a backend's
checks disagree with its state it is checked at a quarter of its interval (HAProxy's
`fastinter`). The defaults (1 s, 0.5 s, rise 1, fall 2) detect a failed backend within 2.25 s:
the last good check, then a failure after at most interval + timeout, then the second one a
quarter interval + timeout later. One slow answer alone never takes a backend out.

A service stores what it set (a partial mapping; None for "the default"); `effective` gives the
check that applies, given the service's workload (built-in workloads answer `/health`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from facade.domain.errors import Invalid

TYPES = ("http", "tcp", "agent")
FIELDS = ("type", "path", "codes", "interval", "timeout", "rise", "fall")
MAX_PATH = 200
MAX_CODES = 64
INTERVAL = (0.2, 60.0)  # seconds
TIMEOUT = (0.05, 30.0)
THRESHOLD = (1, 10)
_CODES = re.compile(r"^[1-5][0-9]{2}(-[1-5][0-9]{2})?(,[1-5][0-9]{2}(-[1-5][0-9]{2})?)*$")


@dataclass(frozen=True)
class HealthCheck:
    type: str = "tcp"
    path: str | None = None  # http only
    codes: str = "200-299"
    interval: float = 1.0
    timeout: float = 0.5
    rise: int = 1
    fall: int = 2

    def accepts(self, status: int | None) -> bool:
        """Whether an HTTP status counts as healthy."""
        return status is not None and any(lo <= status <= hi for lo, hi in _ranges(self.codes))

    def judge(self, status: int | None, detail: str) -> tuple[bool, str]:
        """An http check's answer (its status, None without one): passed, and what it saw."""
        if self.accepts(status) or status is None:
            return self.accepts(status), detail
        return False, f"{detail} (expected {self.codes})"

    @property
    def fast_interval(self) -> float:
        """How soon a backend whose check just disagreed with its state is checked again."""
        return max(0.1, self.interval / 4)

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "path": self.path if self.type == "http" else None,
                "codes": self.codes if self.type == "http" else None,
                "interval": self.interval, "timeout": self.timeout, "rise": self.rise,
                "fall": self.fall}


def _ranges(codes: str) -> list[tuple[int, int]]:
    out = []
    for part in codes.split(","):
        lo, _, hi = part.partition("-")
        out.append((int(lo), int(hi or lo)))
    return out


def check_path(path: object, *, where: str) -> str:
    """The URL path an http check requests: it goes into an HTTP request line."""
    if (not isinstance(path, str) or not path.startswith("/") or len(path) > MAX_PATH
            or any(c.isspace() or not c.isprintable() for c in path)):
        raise Invalid(f"health check path must start with '/' (a URL path like /health) and "
                      f"hold no spaces or control characters ({MAX_PATH} characters at most)",
                      where=where)
    return path


def _number(value: object, name: str, bounds: tuple[float, float], where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not bounds[0] <= value <= bounds[1]:
        raise Invalid(f"health check {name} must be a number of seconds from {bounds[0]:g} to "
                      f"{bounds[1]:g}; not {value!r}", where=f"{where}.{name}")
    return round(float(value), 3)


def _threshold(value: object, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) \
            or not THRESHOLD[0] <= value <= THRESHOLD[1]:
        raise Invalid(f"health check {name} must be a whole number of checks from "
                      f"{THRESHOLD[0]} to {THRESHOLD[1]}; not {value!r}", where=f"{where}.{name}")
    return value


def check(raw: object, *, where: str = "health_check") -> dict[str, Any]:
    """A partial health-check mapping, checked field by field; a None value means "back to the
    default". Whether the fields fit together is `effective`'s to say."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise Invalid(f"health_check must be a mapping of {', '.join(FIELDS)}", where=where)
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise Invalid(f"unknown health check setting {unknown[0]!r}; the settings are "
                      f"{', '.join(FIELDS)}", where=f"{where}.{unknown[0]}")
    out: dict[str, Any] = {name: None for name in raw}
    if raw.get("type") is not None:
        if raw["type"] not in TYPES:
            raise Invalid(f"health check type must be one of {', '.join(TYPES)}; not "
                          f"{raw['type']!r}", where=f"{where}.type")
        out["type"] = raw["type"]
    if raw.get("path") is not None:
        out["path"] = check_path(raw["path"], where=f"{where}.path")
    if raw.get("codes") is not None:
        codes = raw["codes"]
        if not isinstance(codes, str) or len(codes) > MAX_CODES or not _CODES.match(codes) \
                or any(lo > hi for lo, hi in _ranges(codes)):
            raise Invalid("health check codes must be HTTP status codes and ranges separated by "
                          f"commas, like 200-399 or 200,204; not {codes!r}", where=f"{where}.codes")
        out["codes"] = codes
    for name, bounds in (("interval", INTERVAL), ("timeout", TIMEOUT)):
        if raw.get(name) is not None:
            out[name] = _number(raw[name], name, bounds, where)
    for name in ("rise", "fall"):
        if raw.get(name) is not None:
            out[name] = _threshold(raw[name], name, where)
    return out


def combine(health_path: str | None, raw: dict[str, Any] | None) -> dict[str, Any]:
    """A service's top-level `health_path` (the older way to give the path) and its checked
    `health_check` settings as one mapping: both may name the path only if they agree."""
    if health_path is None:
        return raw or {}
    if raw is not None and raw.get("path") not in (None, health_path):
        raise Invalid("health_path and health_check.path differ; give the path once",
                      where="health_check.path")
    return {**(raw or {}), "path": health_path}


def effective(stored: dict[str, Any], default_path: str | None, *,
              where: str = "health_check") -> HealthCheck:
    """The check that applies: what a service set (None: not set) over the defaults. A built-in
    workload (default_path "/health") is checked over http, any other service by a TCP
    connection unless it names a path. Invalid when the settings do not fit together."""
    path = stored.get("path") or default_path
    kind = stored.get("type") or ("http" if path else "tcp")
    if kind == "http" and not path:
        raise Invalid("a health check of type http needs a path (like /health)",
                      where=f"{where}.path")
    base = HealthCheck()
    hc = HealthCheck(
        type=kind, path=path if kind == "http" else None,
        codes=stored.get("codes") or base.codes,
        interval=stored.get("interval") or base.interval,
        timeout=stored.get("timeout") or base.timeout,
        rise=stored.get("rise") or base.rise, fall=stored.get("fall") or base.fall)
    if hc.timeout > hc.interval:
        raise Invalid(f"health check timeout ({hc.timeout:g} s) must not exceed its interval "
                      f"({hc.interval:g} s)", where=f"{where}.timeout")
    return hc


def detection_bound(hc: HealthCheck) -> float:
    """The longest a failed backend can stay in rotation, in seconds (docs/health.md)."""
    return hc.interval + hc.timeout + (hc.fall - 1) * (hc.fast_interval + hc.timeout)
