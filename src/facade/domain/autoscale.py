"""Autoscaling policy and decision (pure): how many backends an appliance should have now.

A service may carry a policy: `min` and `max` backends, a `metric` (`connections` or
`requests`, per second, through the endpoint / served by the workloads) and a `target` per
backend, and a `cooldown` in seconds. The wanted size is ceil(rate / target) kept within
[min, max].

- Up: as soon as the wanted size is above the current one, at most every UP_COOLDOWN seconds
  (the new backends need a moment to show in the rate).
- Down: only once the wanted size has stayed below the current one for `cooldown` seconds
  without a break, and `cooldown` seconds after the last change; then to the largest size
  wanted during that time. So a dip shorter than the cool-down never removes a backend, and the
  appliance never flaps between two sizes faster than once per cool-down.
- A current size outside [min, max] (the policy changed, or a person scaled by hand) is
  brought inside at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from facade.domain.counts import MAX_BACKENDS, MIN_BACKENDS
from facade.domain.errors import Invalid, describe

METRICS = ("connections", "requests")
UP_COOLDOWN = 3.0
DEFAULT_COOLDOWN = 30
MAX_COOLDOWN = 3600
MAX_TARGET = Decimal(10**6)
# a target a user gives has at most this many decimal places: with MAX_TARGET, it fits the
# store's 24 characters of exact text
TARGET_PLACES = 6
MAX_TARGET_TEXT = 40  # characters of a target given as text


@dataclass(frozen=True)
class Policy:
    min: int
    max: int
    metric: str
    target: Decimal  # per backend per second
    cooldown: int  # seconds

    def __post_init__(self) -> None:
        for name in ("min", "max", "cooldown"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise Invalid(f"{name} must be a whole number", where=f"autoscale.{name}")
        if not 1 <= self.min <= self.max:
            raise Invalid(f"min {self.min} and max {self.max} must satisfy 1 <= min <= max",
                          where="autoscale.min")
        if self.metric not in METRICS:
            raise Invalid(f"metric {self.metric!r} is not one of {', '.join(METRICS)}",
                          where="autoscale.metric")
        if not (isinstance(self.target, Decimal) and self.target.is_finite()
                and 0 < self.target <= MAX_TARGET):
            raise Invalid(f"target {self.target} must be a number above 0 and at most "
                          f"{MAX_TARGET} ({self.metric} per second per backend)",
                          where="autoscale.target")
        if not 0 <= self.cooldown <= MAX_COOLDOWN:
            raise Invalid(f"cooldown {self.cooldown} must be 0..{MAX_COOLDOWN} seconds",
                          where="autoscale.cooldown")


def target_of(value: object) -> Decimal:
    """A target from JSON/YAML (int, float or numeric string) as an exact Decimal."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise Invalid(f"target {value!r} must be a number", where="autoscale.target")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise Invalid(f"target {value!r} must be a number", where="autoscale.target") from None


def _places(value: Decimal) -> int:
    """Decimal places of an exact value, trailing zeros aside (50.000 has none)."""
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        return 0  # not finite: Policy refuses it
    kept = len(digits)
    while exponent < 0 and kept > 1 and digits[kept - 1] == 0:
        kept, exponent = kept - 1, exponent + 1
    return max(0, -exponent)


def requested(*, min: object, max: object, metric: object, target: object,
              cooldown: object = None) -> Policy:
    """A policy as a user asks for it (an API body or a scenario file), checked field by field;
    `where` names the field ("autoscale.max"). `cooldown` None: DEFAULT_COOLDOWN."""
    cooldown = DEFAULT_COOLDOWN if cooldown is None else cooldown
    for name, value, low, high in (("min", min, MIN_BACKENDS, MAX_BACKENDS),
                                   ("max", max, MIN_BACKENDS, MAX_BACKENDS),
                                   ("cooldown", cooldown, 0, MAX_COOLDOWN)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(f"{name} must be a whole number {low}-{high}, not {describe(value)}",
                          where=f"autoscale.{name}")
        if not low <= value <= high:
            raise Invalid(f"{name} {value} is out of range; expected {low}-{high}",
                          where=f"autoscale.{name}")
    if not isinstance(metric, str):
        raise Invalid(f"metric must be one of {', '.join(METRICS)}, not {describe(metric)}",
                      where="autoscale.metric")
    if isinstance(target, str) and len(target) > MAX_TARGET_TEXT:
        raise Invalid(f"target {target[:20]!r}... is longer than {MAX_TARGET_TEXT} characters",
                      where="autoscale.target")
    wanted_target = target_of(target)
    if _places(wanted_target) > TARGET_PLACES:
        raise Invalid(f"target {target!r} has more than {TARGET_PLACES} decimal places",
                      where="autoscale.target")
    assert isinstance(min, int) and isinstance(max, int) and isinstance(cooldown, int)
    return Policy(min=min, max=max, metric=metric, target=wanted_target, cooldown=cooldown)


def wanted(policy: Policy, rate: float) -> int:
    """ceil(rate / target) within [min, max]; rate is per second over all backends."""
    if not math.isfinite(rate) or rate <= 0:
        return policy.min
    need = math.ceil(Decimal(repr(rate)) / policy.target)
    return max(policy.min, min(policy.max, need))


@dataclass
class State:
    """What the decision remembers about one appliance between two reviews."""

    last_change: float = float("-inf")
    low_since: float | None = None  # since when the wanted size is below the current one
    low_peak: int = 0  # the largest size wanted since then


def decide(policy: Policy, current: int, rate: float, now: float, state: State) -> int | None:
    """The new size, or None to stay; updates `state`."""
    if current < policy.min or current > policy.max:
        state.last_change, state.low_since = now, None
        return max(policy.min, min(policy.max, current))
    want = wanted(policy, rate)
    if want > current:
        state.low_since = None
        if now - state.last_change >= UP_COOLDOWN:
            state.last_change = now
            return want
        return None
    if want == current:
        state.low_since = None
        return None
    if state.low_since is None:
        state.low_since, state.low_peak = now, want
    state.low_peak = max(state.low_peak, want)
    if (now - state.low_since >= policy.cooldown
            and now - state.last_change >= policy.cooldown):
        size = state.low_peak
        state.last_change, state.low_since = now, None
        return size if size < current else None
    return None
