"""plan(): the difference between the desired state and what the kernel has, as ordered actions.

Pure: no I/O, so it is unit-tested on plain data. The order is the dependency order:
1. shrink front-end rotations (a backend leaves the rotation before its node goes away),
2. stop processes and delete nodes and subnets that should not exist (reverse dependency order),
3. create or repair subnets, then nodes, then processes,
4. set every front-end's rotation to the desired one (again when its map or `active` set was
   edited by hand: `drift`),
5. replace the fabric ports' security rules if the kernel's differ (after the ports exist; a
   port that disappears drops out of the rule set, and rules naming a port that is gone are
   harmless name matches until this action removes them). "Differ": the fingerprint the
   driver recorded is not the desired one (`changed`, `missing`, `removed`), or it is but the
   rules the kernel enforces, read back, are not the desired ones, or the driver saw anything
   else in its rule objects that it did not write (`drift: <what>`).
Running plan() on a state that matches gives an empty plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from typing import ClassVar

from facade.domain.specs import (
    DesiredState,
    NodeSpec,
    ObservedNode,
    ObservedProcess,
    ObservedState,
    PortRuleSpec,
    ProcessSpec,
    RulesObservation,
    SubnetSpec,
    port_rules_fingerprint,
)


class _Step:
    """What every action has: its verb (the driver method it runs, in events and traces), its
    target (a bridge, netns or process key: the field `target_field` names, dotted) and why it
    is needed."""

    verb: ClassVar[str]
    target_field: ClassVar[str]
    reason: str

    @property
    def target(self) -> str:
        return str(attrgetter(self.target_field)(self))

    def __str__(self) -> str:
        return f"{self.verb} {self.target} ({self.reason})"


@dataclass(frozen=True)
class EnsureSubnet(_Step):
    subnet: SubnetSpec
    reason: str
    verb: ClassVar[str] = "ensure_subnet"
    target_field: ClassVar[str] = "subnet.bridge"


@dataclass(frozen=True)
class DeleteSubnet(_Step):
    bridge: str
    reason: str
    verb: ClassVar[str] = "delete_subnet"
    target_field: ClassVar[str] = "bridge"


@dataclass(frozen=True)
class EnsureNode(_Step):
    node: NodeSpec
    reason: str
    verb: ClassVar[str] = "ensure_node"
    target_field: ClassVar[str] = "node.netns"


@dataclass(frozen=True)
class DeleteNode(_Step):
    netns: str
    reason: str
    verb: ClassVar[str] = "delete_node"
    target_field: ClassVar[str] = "netns"


@dataclass(frozen=True)
class StartProcess(_Step):
    process: ProcessSpec
    reason: str
    verb: ClassVar[str] = "start_process"
    target_field: ClassVar[str] = "process.key"


@dataclass(frozen=True)
class StopProcess(_Step):
    key: str
    reason: str
    verb: ClassVar[str] = "stop_process"
    target_field: ClassVar[str] = "key"


@dataclass(frozen=True)
class SetBackends(_Step):
    netns: str
    backends: tuple[str, ...]
    reason: str
    verb: ClassVar[str] = "set_backends"
    target_field: ClassVar[str] = "netns"


@dataclass(frozen=True)
class SetPortRules(_Step):
    """The fabric's security rules, replaced as one set."""

    port_rules: dict[str, tuple[PortRuleSpec, ...]]
    reason: str
    verb: ClassVar[str] = "set_port_rules"

    @property
    def target(self) -> str:
        return "fabric"


# One step of a plan: each kind carries exactly what its driver method needs.
Action = (EnsureSubnet | DeleteSubnet | EnsureNode | DeleteNode | StartProcess | StopProcess
          | SetBackends | SetPortRules)


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return bool(self.actions)

    def __len__(self) -> int:
        return len(self.actions)


def _node_differs(spec: NodeSpec, seen: ObservedNode,
                  recreated_bridges: set[str]) -> str | None:
    want = frozenset((p.ifname, p.address) for p in spec.ports)
    tenant = spec.sandbox is not None and spec.sandbox.own_network
    if tenant:
        # the tenant's own network: Facade's ports and addresses must be there; what the
        # tenant added (addresses, links) is its own (docs/security.md)
        if not seen.own_network:  # made before it had a sandbox
            return "its network does not belong to its sandbox"
        if seen.ports is not None and seen.ports != {p.ifname for p in spec.ports}:
            return "interfaces differ"
        if not want <= seen.addresses:
            return "interfaces differ"
        if not seen.guarded:
            return "port security missing"
    elif seen.addresses != want:
        return "interfaces differ"
    elif spec.sandbox is not None and seen.own_network:
        return "its network belongs to a sandbox"
    if seen.fingerprint != spec.fingerprint():
        return "configuration changed"
    if seen.tunnels is not None and seen.tunnels != {t.ifname for t in spec.tunnels}:
        return "tunnels differ"  # a channel's engine died, or an interface was deleted
    if spec.frontend is not None and seen.backends is None:
        return "front-end rules missing"  # e.g. its nftables table was deleted
    if spec.frontend is not None and seen.rules_drift:
        return f"drift: front-end {seen.rules_drift}"  # a rule deleted or added by hand
    if spec.isolated and seen.rules_drift:
        return f"drift: {seen.rules_drift}"  # the router's filter edited by hand
    if recreated_bridges & {p.bridge for p in spec.ports}:
        return "its subnet's bridge was recreated"  # its ports must join the new bridge
    return None


# -- one object at a time (what the controller reconciles for one key) -----------------------

def plan_subnet(bridge: str, want: SubnetSpec | None, present: bool) -> list[Action]:
    """A subnet's segment: made when missing, removed when no longer wanted."""
    if want is None:
        return [DeleteSubnet(bridge, "not desired")] if present else []
    return [] if present else [EnsureSubnet(want, "missing")]


def plan_node(netns: str, want: NodeSpec | None, seen: ObservedNode | None,
              procs: tuple[ProcessSpec, ...], seen_procs: dict[str, ObservedProcess | None],
              recreated_bridges: set[str] | frozenset[str] = frozenset()) -> list[Action]:
    """One node and the processes that live in it, in dependency order: processes that must
    not run stop, the node is made, repaired or deleted, then its processes start (again,
    when the node was made anew). `seen_procs`: what runs now under the keys concerned."""
    if want is None:
        return plan_node_removal(netns, seen is not None, seen_procs)
    actions: list[Action] = []
    wanted = {p.key: p for p in procs}
    for key, proc in sorted(seen_procs.items()):
        if proc is None:
            continue
        if key not in wanted:
            actions.append(StopProcess(key, "not desired"))
        elif wanted[key].fingerprint() != proc.fingerprint:
            actions.append(StopProcess(key, "command changed"))
    made = seen is None
    if made:
        actions.append(EnsureNode(want, "missing"))
    else:
        assert seen is not None
        why = _node_differs(want, seen, set(recreated_bridges))
        if why:
            actions.append(EnsureNode(want, why))
    for key, proc_spec in sorted(wanted.items()):
        running = seen_procs.get(key)
        if running is None or running.fingerprint != proc_spec.fingerprint() or made:
            actions.append(StartProcess(proc_spec, "missing" if running is None else "restart"))
    return actions


def plan_node_removal(netns: str, exists: bool,
                      seen_procs: dict[str, ObservedProcess | None]) -> list[Action]:
    """A node that is not desired: its processes stop, then it goes (if it exists)."""
    actions: list[Action] = [StopProcess(key, "not desired")
                             for key, proc in sorted(seen_procs.items()) if proc is not None]
    if exists:
        actions.append(DeleteNode(netns, "not desired"))
    return actions


def plan_rotation(netns: str, backends: tuple[str, ...], seen: ObservedNode | None
                  ) -> list[Action]:
    """A front-end's rotation: exactly `backends` (in any order), and again when its map or
    `active` set was edited by hand."""
    if seen is None:
        return []
    current = seen.backends if seen.backends is not None else ()
    target = tuple(sorted(backends))
    if current != target:
        return [SetBackends(netns, target, "rotation")]
    if seen.rotation_drift:
        return [SetBackends(netns, target, f"drift: {seen.rotation_drift}")]
    return []


def plan_rules(rules: dict[str, tuple[PortRuleSpec, ...]], live_ports: set[str],
               observed: RulesObservation) -> list[Action]:
    """The fabric's security rules as one set: replaced when the kernel's differ (see the
    module doc, step 5)."""
    rules = {port: rs for port, rs in sorted(rules.items()) if rs and port in live_ports}
    want_fp = port_rules_fingerprint(rules)
    seen_rules, drift = observed.seen, list(observed.drift)
    if seen_rules is not None and (drift or observed.fingerprint == want_fp):
        drift = rules_drift(rules, seen_rules) + drift
    why: str | None = None
    if drift:
        why = f"drift: {_first(drift)}"
    elif observed.fingerprint != want_fp:
        why = ("missing" if observed.fingerprint is None else
               "removed" if want_fp is None else "changed")
    return [SetPortRules(rules, why)] if why else []


# -- the whole world at once ------------------------------------------------------------------

def plan(desired: DesiredState, observed: ObservedState) -> Plan:
    actions: list[Action] = []
    want_nodes = {n.netns: n for n in desired.nodes}
    want_procs = {p.key: p for p in desired.processes}
    want_subnets = {s.bridge: s for s in desired.subnets}

    # 1. backends leaving: drop them from rotations first, keep the ones that stay.
    for netns, node in observed.nodes.items():
        if node.backends is None or netns not in want_nodes:
            continue
        keep = tuple(b for b in node.backends if b in desired.backends.get(netns, ()))
        if keep != node.backends:
            actions.append(SetBackends(netns, keep, "backends leaving"))

    # 2. removals, processes before nodes before subnets.
    for key, proc in sorted(observed.processes.items()):
        want = want_procs.get(key)
        if want is None:
            actions.append(StopProcess(key, "not desired"))
        elif want.fingerprint() != proc.fingerprint or proc.netns not in want_nodes:
            actions.append(StopProcess(key, "command changed"))
    for netns in sorted(set(observed.nodes) - set(want_nodes)):
        actions.append(DeleteNode(netns, "not desired"))
    for bridge in sorted(observed.subnets - set(want_subnets)):
        actions.append(DeleteSubnet(bridge, "not desired"))

    # 3. creation and repair.
    recreated: set[str] = set()
    for bridge, sub in sorted(want_subnets.items()):
        if bridge not in observed.subnets:
            actions.append(EnsureSubnet(sub, "missing"))
            recreated.add(bridge)
    repaired: set[str] = set()
    for netns, spec in sorted(want_nodes.items()):
        seen = observed.nodes.get(netns)
        if seen is None:
            actions.append(EnsureNode(spec, "missing"))
            repaired.add(netns)
            continue
        why = _node_differs(spec, seen, recreated)
        if why:
            actions.append(EnsureNode(spec, why))
    for key, wanted_proc in sorted(want_procs.items()):
        seen_proc = observed.processes.get(key)
        if (seen_proc is None or seen_proc.fingerprint != wanted_proc.fingerprint()
                or wanted_proc.netns in repaired):
            reason = "missing" if seen_proc is None else "restart"
            actions.append(StartProcess(wanted_proc, reason))

    # 4. rotations as desired (after the backends exist).
    for netns, backends in sorted(desired.backends.items()):
        if netns not in want_nodes:
            continue
        seen = observed.nodes.get(netns)
        current = seen.backends if seen is not None and seen.backends is not None else ()
        target = tuple(sorted(backends))
        shrunk = next((a.backends for a in actions
                       if isinstance(a, SetBackends) and a.netns == netns), None)
        if netns in repaired and seen is None:
            current = ()
        if (shrunk if shrunk is not None else current) != target:
            actions.append(SetBackends(netns, target, "rotation"))
        elif shrunk is None and seen is not None and seen.rotation_drift:
            actions.append(SetBackends(netns, target, f"drift: {seen.rotation_drift}"))

    # 5. security rules of the ports that are wanted, as one set.
    actions += plan_rules(desired.port_rules, {p.host for n in desired.nodes for p in n.ports},
                          RulesObservation(fingerprint=observed.port_rules,
                                           seen=observed.port_rules_seen,
                                           drift=observed.port_rules_drift))
    return Plan(tuple(actions))


def _first(phrases: list[str], limit: int = 4) -> str:
    more = len(phrases) - limit
    return "; ".join(phrases[:limit]) + (f"; and {more} more" if more > 0 else "")


def rules_drift(want: dict[str, tuple[PortRuleSpec, ...]],
                seen: dict[str, tuple[PortRuleSpec, ...]]) -> list[str]:
    """How the rules the kernel enforces differ from the desired ones, per port and direction
    (each direction is its own ordered list; how the two interleave does not matter), as short
    phrases for an event: `fcdv12 ingress: deny tcp 22 (priority 10) missing`."""
    found: list[str] = []
    for port in sorted(set(want) | set(seen)):
        for direction in ("egress", "ingress"):
            w = [r for r in want.get(port, ()) if r.direction == direction]
            s = [r for r in seen.get(port, ()) if r.direction == direction]
            if w == s:
                continue
            where = f"{port} {direction}"
            missing = [r for r in w if r not in s]
            extra = [r for r in s if r not in w]
            found += [f"{where}: {r.describe()} missing" for r in missing]
            found += [f"{where}: unexpected {r.describe()}" for r in extra]
            if not missing and not extra:
                found.append(f"{where}: rules out of order")
    return found
