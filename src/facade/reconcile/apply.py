"""apply(): carry out a plan through a DataPlane, one action at a time, reporting each.

A failing action does not stop the others that do not depend on it: the error is reported
(to the caller's `report` callback, which turns it into an event) and the next pass retries,
as a level-based reconciler should.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from facade.dataplane.protocol import DataPlane
from facade.reconcile.plan import Action, Plan


@dataclass
class ApplyResult:
    done: list[Action] = field(default_factory=list)
    failed: list[tuple[Action, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def _run(action: Action, dp: DataPlane) -> None:
    match action.verb:
        case "set_backends":
            dp.set_backends(action.target, action.backends)
        case "stop_process":
            dp.stop_process(action.target)
        case "delete_node":
            dp.delete_node(action.target)
        case "delete_subnet":
            dp.delete_subnet(action.target)
        case "ensure_subnet":
            assert action.subnet is not None
            dp.ensure_subnet(action.subnet)
        case "ensure_node":
            assert action.node is not None
            dp.ensure_node(action.node)
        case "start_process":
            assert action.process is not None
            dp.stop_process(action.target)  # a stale copy must not hold the port
            dp.start_process(action.process)
        case "set_port_rules":
            assert action.port_rules is not None
            dp.set_port_rules(action.port_rules)
        case _:
            raise ValueError(f"unknown action {action.verb}")


def apply(plan: Plan, dp: DataPlane,
          report: Callable[[Action, str | None], None] | None = None) -> ApplyResult:
    result = ApplyResult()
    broken: set[str] = set()  # nodes whose creation failed: skip what lives in them
    for action in plan.actions:
        netns = action.process.netns if action.process else None
        if netns in broken:
            continue
        try:
            _run(action, dp)
        except Exception as exc:  # every driver failure becomes an event
            message = f"{type(exc).__name__}: {exc}"
            result.failed.append((action, message))
            if action.verb == "ensure_node":
                broken.add(action.target)
            if report:
                report(action, message)
            continue
        result.done.append(action)
        if report:
            report(action, None)
    return result
