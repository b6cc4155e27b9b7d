"""Waiting for appliances: poll GET /v1/appliances/NAME until ready (or gone), showing progress.

Used by `apply`, `destroy` and `appliance create|scale|delete`. On a terminal a rich spinner on
stderr names each appliance with its status and status_detail; elsewhere one line is printed on
stderr whenever an appliance's status changes. `sleep` and `clock` are module attributes so tests
can run the loop without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Self

from rich.text import Text

from facade.cli import render
from facade.cli.client import Client, fail
from facade.client.models import Appliance
from facade.domain.states import ApplianceStatus

POLL_SECONDS = 0.1

sleep: Callable[[float], None] = time.sleep
clock: Callable[[], float] = time.monotonic


class _Stop(Exception):
    """Leave the polling loop (and its spinner) before printing why."""


def _describe(obj: Appliance | None) -> str:
    if obj is None:
        return "gone"
    text = obj.status or "?"
    if obj.status_detail:
        text += f" ({obj.status_detail})"
    return text


class _Progress:
    """A spinner on a terminal, change lines otherwise."""

    def __init__(self, verb: str) -> None:
        self._verb = verb
        self._console = render.console(stderr=True)
        self._live = self._console.is_terminal
        self._seen: dict[str, str] = {}
        self._status: Any = None

    def __enter__(self) -> Self:
        if self._live:
            self._status = self._console.status(Text(self._verb))
            self._status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.__exit__(None, None, None)

    def update(self, name: str, obj: Appliance | None) -> None:
        described = _describe(obj)
        changed = self._seen.get(name) != described
        self._seen[name] = described
        if self._live:
            lines = [self._verb] + [f"  {n}: {d}" for n, d in self._seen.items()]
            self._status.update(Text("\n".join(lines)))
        elif changed:
            self._console.print(f"{name}: {described}")


def _poll(
    cli: Client,
    names: Sequence[str],
    timeout: float,
    verb: str,
    done: Callable[[str, Appliance | None], bool],
) -> dict[str, Appliance | None]:
    """Poll every name until `done` says so for all; `done` raises _Stop to give up."""
    pending = list(dict.fromkeys(names))
    finished: dict[str, Appliance | None] = {}
    last: dict[str, Appliance | None] = {}
    deadline = clock() + timeout
    reason = ""
    try:
        with _Progress(verb) as progress:
            while pending:
                for name in list(pending):
                    # ACCOUNT/NAME (`facade appliance scale acme/docs`): that account's
                    account, _, bare = name.rpartition("/")
                    obj = cli.appliances.find(bare, account=account or None)
                    last[name] = obj
                    progress.update(name, obj)
                    if done(name, obj):
                        finished[name] = obj
                        pending.remove(name)
                if not pending:
                    break
                if clock() >= deadline:
                    late = ", ".join(f"{n} is {_describe(last.get(n))}" for n in pending)
                    raise _Stop(f"timed out after {timeout:g}s {verb}: {late}")
                sleep(POLL_SECONDS)
    except _Stop as stop:
        reason = str(stop)
    except KeyboardInterrupt:
        fail("interrupted; the control plane carries on (see `facade appliance list`)", 130)
    if reason:
        fail(reason)
    return finished


def wait_ready(
    cli: Client, names: Sequence[str], timeout: float, backends: int | None = None
) -> dict[str, Appliance]:
    """Wait until each appliance is `ready` (with `backends` backends, when given)."""

    def done(name: str, obj: Appliance | None) -> bool:
        if obj is None:
            raise _Stop(f"appliance {name} does not exist (any more)")
        if obj.status == ApplianceStatus.FAILED:
            raise _Stop(f"appliance {name} failed: {obj.status_detail or 'no detail'}")
        if obj.status != ApplianceStatus.READY:
            return False
        return backends is None or render.backend_count(obj) == backends

    what = "appliance " + ", ".join(names) if len(names) == 1 else "appliances"
    finished = _poll(cli, names, timeout, f"waiting for {what} to be ready", done)
    return {name: obj for name, obj in finished.items() if obj is not None}


def wait_gone(cli: Client, names: Sequence[str], timeout: float) -> None:
    """Wait until each appliance answers 404 (its kernel objects are gone)."""

    def done(name: str, obj: Appliance | None) -> bool:
        if obj is not None and obj.status == ApplianceStatus.FAILED:
            raise _Stop(f"deleting appliance {name} failed: {obj.status_detail or '?'}")
        return obj is None

    what = "appliance " + ", ".join(names) if len(names) == 1 else "appliances"
    _poll(cli, names, timeout, f"waiting for {what} to be deleted", done)


def ready_line(obj: Appliance) -> str:
    """`docs ready at 10.0.1.2:80`"""
    return f"{obj.name} ready at {render.endpoint_str(obj)}"
