"""The host agent's work, as words both sides share (docs/multi-host.md, "The host agent
applies its host's kernel work"): an `Intent` is one `DataPlane` operation for one host (its
name, as the protocol's method, and its arguments in wire.py's JSON); the agent answers each
with a value of the operation's result type, or a failure (the seam's error: its message and
whether a retry can help).

`OPS` lists the operations that may travel and the form of each one's result (`ARGS` the
names of their arguments): remote.py
decodes an answer with it (a bad one is refused at the API, naming the field) and executor.py
runs each on the agent's host. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from facade.dataplane.errors import Kind
from facade.dataplane.wire import Form
from facade.domain.specs import (
    ExecResult,
    Inventory,
    NodeSpec,
    ObservedNode,
    ObservedProcess,
    ObservedState,
    PortRuleSpec,
    Probe,
    ProbeResult,
    ProcessSpec,
    RulesObservation,
)

MAX_ID = 40  # characters of an intent's id


@dataclass(frozen=True)
class Intent:
    """One operation for one host: `op` one of OPS, `args` its arguments as JSON."""

    id: str
    op: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Failure:
    """An operation that failed on the host: the DataPlaneError it raised there."""

    message: str
    kind: Kind = Kind.RETRY


# the arguments' forms (executor.py reads them) ...
NODE: Form[NodeSpec] = Form(NodeSpec)
PROCESS: Form[ProcessSpec] = Form(ProcessSpec)
PROCESSES: Form[tuple[ProcessSpec, ...]] = Form(tuple[ProcessSpec, ...])
RULES: Form[dict[str, tuple[PortRuleSpec, ...]]] = Form(dict[str, tuple[PortRuleSpec, ...]])
PROBES: Form[tuple[Probe, ...]] = Form(tuple[Probe, ...])
TEXT: Form[str] = Form(str)
TEXTS: Form[tuple[str, ...]] = Form(tuple[str, ...])
TEXT_SET: Form[frozenset[str]] = Form(frozenset[str])
OPTIONAL_TEXT: Form[str | None] = Form(str | None)
OPTIONAL_BYTES: Form[bytes | None] = Form(bytes | None)
HEADERS: Form[dict[str, str] | None] = Form(dict[str, str] | None)
NUMBER: Form[float] = Form(float)
INTEGER: Form[int] = Form(int)
FLAG: Form[bool] = Form(bool)

# ... and the results' (remote.py decodes the agent's answers with them)
NOTHING: Form[None] = Form(type(None))
NODE_OR_NONE: Form[ObservedNode | None] = Form(ObservedNode | None)
PROCESS_OR_NONE: Form[ObservedProcess | None] = Form(ObservedProcess | None)
STARTED: Form[frozenset[str]] = TEXT_SET
EXEC: Form[ExecResult] = Form(ExecResult)
PROBE: Form[ProbeResult] = Form(ProbeResult)
PROBED: Form[list[ProbeResult]] = Form(list[ProbeResult])
REMOVED: Form[list[str]] = Form(list[str])
REMOVED_OR_NONE: Form[list[str] | None] = Form(list[str] | None)
RULES_SEEN: Form[RulesObservation] = Form(RulesObservation)
INVENTORY: Form[Inventory] = Form(Inventory)
OBSERVED: Form[ObservedState] = Form(ObservedState)

OPS: dict[str, Form[Any]] = {
    "ensure_node": STARTED, "delete_node": NOTHING, "node_gone": FLAG,
    "observe_node": NODE_OR_NONE, "has_node": FLAG, "set_backends": NOTHING,
    "start_process": INTEGER, "stop_process": NOTHING, "observe_process": PROCESS_OR_NONE,
    "exec": EXEC, "tcp_probe": PROBE, "http_request": PROBE, "probe_many": PROBED,
    "set_port_rules": NOTHING, "observe_rules": RULES_SEEN, "inventory": INVENTORY,
    "observe": OBSERVED,
    "ensure_host": NOTHING, "remove_host": NOTHING, "host_alive": FLAG,
    "fence_host": REMOVED, "rejoin_host": REMOVED_OR_NONE,
}

# each operation's arguments, by name (the protocol's parameters; `exec`'s `host` is its flag)
ARGS: dict[str, tuple[str, ...]] = {
    "ensure_node": ("spec", "start"), "delete_node": ("netns",), "node_gone": ("netns",),
    "observe_node": ("netns",), "has_node": ("netns",), "set_backends": ("netns", "backends"),
    "start_process": ("spec",), "stop_process": ("key",), "observe_process": ("key",),
    "exec": ("netns", "argv", "timeout", "stdin", "host"),
    "tcp_probe": ("netns", "ip", "port", "timeout"),
    "http_request": ("netns", "ip", "port", "path", "method", "body", "headers", "timeout"),
    "probe_many": ("probes",), "set_port_rules": ("rules",), "observe_rules": (),
    "inventory": ("segments",), "observe": (),
    "ensure_host": ("name", "address"), "remove_host": ("name",), "host_alive": ("name",),
    "fence_host": ("name",), "rejoin_host": ("name", "address", "keep"),
}
