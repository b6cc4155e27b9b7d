"""The agent reconciler: one management network's agent, serving that network's nodes.

Each node writes its own entry in the agent's configuration folder (controller/nodes.py, when
it is made and at every look; removed once the node is gone), and the agent reads only the
entries that changed. This reconciler keeps the rest: the agent's settings, no entry of a node
that no longer exists (one left by a crash between a node's deletion and its entry's: looked
for once a minute), and its
process, which runs in the network's router namespace while it serves a node that is not being
deleted, and stops after the last one went (metering reads a node being deleted through it one
last time first).
"""

from __future__ import annotations

import time

from facade.controller.runtime import Later, Runtime
from facade.domain import keys, names
from facade.domain.keys import Key
from facade.reconcile.plan import Action, StartProcess, StopProcess
from facade.service import desired, management

# Entries of nodes that no longer exist are left only by a crash between a node's deletion and
# its entry's (a node removes its own): they are looked for at the first pass and then once a
# minute, not at every creation (the whole roll of a network's nodes: O(nodes)).
PRUNE_EVERY = 60.0  # seconds


def reconcile_agent(rt: Runtime, key: Key) -> None:
    assert isinstance(key.ident, int)
    network_id = key.ident
    before = time.time()
    prune = rt.prune_due(network_id, PRUNE_EVERY)
    with rt.ctx.read() as session:
        state = desired.agent_liveness(session, network_id)
        roll = desired.agent_roll(session, network_id) if prune else None
    if state.live or state.leaving:
        management.write_settings(rt.home, network_id)
    if roll is not None:
        management.prune_nodes(rt.home, network_id, roll.nodes, before)
    # nodes being deleted are still served while they exist: metering reads them one last
    # time right before they go (their reconciler queues this key once they are gone)
    live = state.live or any(rt.dp.has_node(netns) for netns in state.leaving)
    agent = management.Agent(network_id)
    want = management.process(rt.home, network_id) if live else None
    seen = rt.dp.observe_process(agent.key)
    actions: list[Action] = []
    if want is None:
        if seen is not None:
            actions.append(StopProcess(agent.key, "not desired"))
    elif seen is None or seen.fingerprint != want.fingerprint():
        if rt.dp.observe_node(names.router_netns(network_id)) is None:
            rt.touch([keys.router(network_id)])
            raise Later(0.05, f"agent {agent.key} waits for its router")
        actions.append(StartProcess(want, "missing" if seen is None else "restart"))
    rt.act(actions)
