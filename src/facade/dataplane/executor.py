"""The agent's side of an intent (docs/multi-host.md, "The host agent applies its host's
kernel work"): its arguments read back with wire.py (exactly the types the operation takes),
the operation run on the host's kernel, and its result (or the driver's error) made into the
answer the agent posts.

`HostKernel` is what the agent runs the operations on: the `DataPlane` operations, meaning
"on this host" (the security rules those of the host's own ports). The linux driver's is
`linux.agent_host.HostDataPlane`; the tests run the fake driver, which is one as it is.
Called by the host agent's work loop (workloads/host_agent/work.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from facade.dataplane import intents
from facade.dataplane.errors import DataPlaneError, Kind
from facade.dataplane.intents import Failure, Intent
from facade.dataplane.remote import Answer
from facade.dataplane.wire import Form, WireError, encode
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

T = TypeVar("T")
log = logging.getLogger("facade.host_agent")


class HostKernel(Protocol):
    """The operations a host agent runs, as the DataPlane protocol says them."""

    def ensure_node(self, spec: NodeSpec,
                    start: Sequence[ProcessSpec] = ()) -> frozenset[str]: ...

    def delete_node(self, netns: str) -> None: ...

    def node_gone(self, netns: str) -> bool: ...

    def observe_node(self, netns: str) -> ObservedNode | None: ...

    def has_node(self, netns: str) -> bool: ...

    def set_backends(self, netns: str, backends: tuple[str, ...]) -> None: ...

    def start_process(self, spec: ProcessSpec) -> int: ...

    def stop_process(self, key: str) -> None: ...

    def observe_process(self, key: str) -> ObservedProcess | None: ...

    def exec(self, netns: str, argv: list[str], *, timeout: float = 30.0,
             stdin: str | None = None, host: bool = False) -> ExecResult: ...

    def tcp_probe(self, netns: str, ip: str, port: int, *,
                  timeout: float = 1.0) -> ProbeResult: ...

    def http_request(self, netns: str, ip: str, port: int, path: str = "/", *,
                     method: str = "GET", body: bytes | None = None,
                     headers: dict[str, str] | None = None,
                     timeout: float = 2.0) -> ProbeResult: ...

    def probe_many(self, probes: Sequence[Probe]) -> list[ProbeResult]: ...

    def set_port_rules(self, rules: dict[str, tuple[PortRuleSpec, ...]]) -> None: ...

    def observe_rules(self) -> RulesObservation: ...

    def inventory(self, *, segments: bool = True) -> Inventory: ...

    def observe(self) -> ObservedState: ...

    def ensure_host(self, name: str, address: str) -> None: ...

    def remove_host(self, name: str) -> None: ...

    def host_alive(self, name: str) -> bool: ...

    def fence_host(self, name: str) -> list[str]: ...

    def rejoin_host(self, name: str, address: str, keep: set[str]) -> list[str] | None: ...


class _Args:
    """An intent's arguments, each read with its form (a missing or bad one: WireError
    naming `args.NAME`); an argument the operation does not take is refused before anything
    is read (and the operation runs only once all of its arguments are read)."""

    def __init__(self, op: str, args: dict[str, Any]) -> None:
        unknown = sorted(set(args) - set(intents.ARGS.get(op, ())))
        if op in intents.ARGS and unknown:
            raise WireError(f"args.{unknown[0]}", f"unknown argument of {op}")
        self.args = args

    def __call__(self, name: str, form: Form[T]) -> T:
        if name not in self.args:
            raise WireError(f"args.{name}", "missing")
        return form.decode(self.args[name], f"args.{name}")


def run(kernel: HostKernel, intent: Intent) -> object:
    """Run one intent on `kernel`; its result (raises the driver's DataPlaneError, or
    WireError for arguments that are not the operation's)."""
    a = _Args(intent.op, intent.args)
    result: object
    match intent.op:
        case "ensure_node":
            result = kernel.ensure_node(a("spec", intents.NODE), a("start", intents.PROCESSES))
        case "delete_node":
            kernel.delete_node(a("netns", intents.TEXT))
            result = None
        case "node_gone":
            result = kernel.node_gone(a("netns", intents.TEXT))
        case "observe_node":
            result = kernel.observe_node(a("netns", intents.TEXT))
        case "has_node":
            result = kernel.has_node(a("netns", intents.TEXT))
        case "set_backends":
            kernel.set_backends(a("netns", intents.TEXT), a("backends", intents.TEXTS))
            result = None
        case "start_process":
            result = kernel.start_process(a("spec", intents.PROCESS))
        case "stop_process":
            kernel.stop_process(a("key", intents.TEXT))
            result = None
        case "observe_process":
            result = kernel.observe_process(a("key", intents.TEXT))
        case "exec":
            result = kernel.exec(a("netns", intents.TEXT), list(a("argv", intents.TEXTS)),
                                 timeout=a("timeout", intents.NUMBER),
                                 stdin=a("stdin", intents.OPTIONAL_TEXT),
                                 host=a("host", intents.FLAG))
        case "tcp_probe":
            result = kernel.tcp_probe(a("netns", intents.TEXT), a("ip", intents.TEXT),
                                      a("port", intents.INTEGER),
                                      timeout=a("timeout", intents.NUMBER))
        case "http_request":
            result = kernel.http_request(
                a("netns", intents.TEXT), a("ip", intents.TEXT), a("port", intents.INTEGER),
                a("path", intents.TEXT), method=a("method", intents.TEXT),
                body=a("body", intents.OPTIONAL_BYTES), headers=a("headers", intents.HEADERS),
                timeout=a("timeout", intents.NUMBER))
        case "probe_many":
            result = kernel.probe_many(a("probes", intents.PROBES))
        case "set_port_rules":
            kernel.set_port_rules(a("rules", intents.RULES))
            result = None
        case "observe_rules":
            result = kernel.observe_rules()
        case "inventory":
            result = kernel.inventory(segments=a("segments", intents.FLAG))
        case "observe":
            result = kernel.observe()
        case "ensure_host":
            kernel.ensure_host(a("name", intents.TEXT), a("address", intents.TEXT))
            result = None
        case "remove_host":
            kernel.remove_host(a("name", intents.TEXT))
            result = None
        case "host_alive":
            result = kernel.host_alive(a("name", intents.TEXT))
        case "fence_host":
            result = kernel.fence_host(a("name", intents.TEXT))
        case "rejoin_host":
            result = kernel.rejoin_host(a("name", intents.TEXT), a("address", intents.TEXT),
                                        set(a("keep", intents.TEXT_SET)))
        case _:
            raise WireError("op", f"{intent.op!r} is not an operation a host agent runs")
    return result


def answer(kernel: HostKernel, intent: Intent) -> Answer:
    """The answer the agent posts for `intent`: its result, or a failure. An intent whose
    arguments are not its operation's is a Fatal failure (trying again sends the same); an
    error the driver did not translate is a Retry, logged."""
    try:
        return Answer(id=intent.id, value=encode(run(kernel, intent)))
    except DataPlaneError as exc:
        return Answer(id=intent.id, failure=Failure(message=str(exc), kind=exc.kind))
    except WireError as exc:
        return Answer(id=intent.id, failure=Failure(
            message=f"the agent cannot read this {intent.op}: {exc}",
            kind=Kind.FATAL))
    except Exception as exc:  # the agent keeps serving; the caller retries
        log.exception("%s failed", intent.op)
        return Answer(id=intent.id, failure=Failure(
            message=f"{intent.op} failed on the host: {type(exc).__name__}: {exc}"))
