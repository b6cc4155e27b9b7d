"""apply(): carry out a plan through a DataPlane in its order, reporting each action.

A failing action does not stop the others that do not depend on it: the error is reported
(to the caller's `report` callback, which turns it into an event) and the next pass retries,
as a level-based reconciler should. A run of consecutive actions of one kind on different
nodes (making, deleting nodes, starting processes: they depend on what came before, not on
each other) runs side by side, up to the driver's `concurrency`; a node made in such a run
starts its processes as soon as it is ready (`_chains`). Reports keep the plan's order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from facade.dataplane.errors import DataPlaneError
from facade.dataplane.protocol import DataPlane
from facade.reconcile.plan import (
    Action,
    DeleteNode,
    DeleteSubnet,
    EnsureNode,
    EnsureSubnet,
    Plan,
    SetBackends,
    SetPortRules,
    StartProcess,
    StopProcess,
)

trace = logging.getLogger("facade.trace")  # each action's time, with FACADE_TRACE


@dataclass
class ApplyResult:
    done: list[Action] = field(default_factory=list)
    failed: list[tuple[Action, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def _run(action: Action, dp: DataPlane, start: tuple[StartProcess, ...] = ()) -> frozenset[str]:
    """Carry out one action; for a node made with `start` (its chain's processes), the keys
    of those the driver started with it."""
    match action:
        case SetBackends(netns=netns, backends=backends):
            dp.set_backends(netns, backends)
        case StopProcess(key=key):
            dp.stop_process(key)
        case DeleteNode(netns=netns):
            dp.delete_node(netns)
        case DeleteSubnet(bridge=bridge):
            dp.delete_subnet(bridge)
        case EnsureSubnet(subnet=subnet):
            dp.ensure_subnet(subnet)
        case EnsureNode(node=node):
            return dp.ensure_node(node, tuple(a.process for a in start)) if start \
                else dp.ensure_node(node)
        case StartProcess(process=process):
            dp.stop_process(process.key)  # a stale copy must not hold the port
            dp.start_process(process)
        case SetPortRules(port_rules=rules):
            dp.set_port_rules(rules)
    return frozenset()


SIDE_BY_SIDE = frozenset({"ensure_node", "delete_node", "start_process"})


def _node_of(action: Action) -> str:
    return action.process.netns if isinstance(action, StartProcess) else action.target


def _batches(actions: tuple[Action, ...]) -> list[list[Action]]:
    """The plan cut into runs that may go side by side: consecutive actions of one kind in
    SIDE_BY_SIDE, on different nodes; every other action is a run of its own."""
    out: list[list[Action]] = []
    for action in actions:
        last = out[-1] if out else None
        if (last is not None and action.verb in SIDE_BY_SIDE and last[0].verb == action.verb
                and _node_of(action) not in {_node_of(a) for a in last}):
            last.append(action)
        else:
            out.append([action])
    return out


def _chains(batches: list[list[Action]]) -> list[list[list[Action]]]:
    """Runs of chains: a run of nodes to make followed by a run of processes becomes one run
    of chains, one per node (make it, then start its processes), so a node's workload starts
    as soon as its node is ready rather than when the slowest node is. Every other run is a
    run of one-action chains."""
    out: list[list[list[Action]]] = []
    i = 0
    while i < len(batches):
        batch = batches[i]
        after = batches[i + 1] if i + 1 < len(batches) else []
        if isinstance(batch[0], EnsureNode) and after and isinstance(after[0], StartProcess):
            chains = {a.target: [a] for a in batch}
            loose: list[list[Action]] = []
            for proc in after:
                if _node_of(proc) in chains:
                    chains[_node_of(proc)].append(proc)
                else:
                    loose.append([proc])
            out.append([*chains.values(), *loose])
            i += 2
        else:
            out.append([[a] for a in batch])
            i += 1
    return out


Outcome = tuple[Action, str | None, bool]  # the action, its error, whether that is Fatal


def _attempt(action: Action, dp: DataPlane, start: tuple[StartProcess, ...] = ()
             ) -> tuple[str | None, bool, frozenset[str]]:
    began = time.perf_counter()
    try:
        started = _run(action, dp, start)
    except DataPlaneError as exc:
        return f"{type(exc).__name__}: {exc}", exc.fatal, frozenset()
    except Exception as exc:  # every driver failure becomes an event
        return f"{type(exc).__name__}: {exc}", False, frozenset()
    finally:
        if trace.isEnabledFor(logging.DEBUG):
            trace.debug("%s %s took %.3f s", action.verb, action.target,
                        time.perf_counter() - began)
    return None, False, started


def _run_chain(chain: list[Action], dp: DataPlane) -> list[Outcome]:
    """A node's actions in order; after a failure to make the node, its processes are not
    tried (they are left out of the answer: not done, not failed). A node made here is asked
    to start its early processes itself (ProcessSpec.early: while its ports are made); the
    others, and any it could not start, are started after it."""
    done: list[Outcome] = []
    early = tuple(a for a in chain[1:] if isinstance(a, StartProcess) and a.process.early)
    started: frozenset[str] = frozenset()
    for action in chain:
        if isinstance(action, StartProcess) and action.process.key in started:
            done.append((action, None, False))  # started with its node
            continue
        error, fatal, now = _attempt(action, dp, early if isinstance(action, EnsureNode) else ())
        started |= now
        done.append((action, error, fatal))
        if error is not None and isinstance(action, EnsureNode):
            break
    return done


def apply(plan: Plan, dp: DataPlane,
          report: Callable[[Action, str | None], None] | None = None,
          errors: list[tuple[Action, str, bool]] | None = None) -> ApplyResult:
    """`errors`, when given, receives each failure with whether it is Fatal (the driver says
    so: facade.dataplane.errors)."""
    result = ApplyResult()
    workers = max(1, getattr(dp, "concurrency", 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="facade-apply") as pool:
        for run in _chains(_batches(plan.actions)):
            if len(run) > 1 and workers > 1:
                outcomes = [o for chain in pool.map(lambda c: _run_chain(c, dp), run)
                            for o in chain]
            else:
                outcomes = [o for chain in run for o in _run_chain(chain, dp)]
            by_action = {id(a): (e, f) for a, e, f in outcomes}
            for action in plan.actions:  # reported in the plan's order
                if id(action) not in by_action:
                    continue
                error, fatal = by_action.pop(id(action))
                if error is not None:
                    result.failed.append((action, error))
                    if errors is not None:
                        errors.append((action, error, fatal))
                else:
                    result.done.append(action)
                if report:
                    report(action, error)
    return result
