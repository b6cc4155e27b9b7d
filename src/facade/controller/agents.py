"""The agent reconciler: one management network's agent, serving that network's nodes.

Its configuration (the nodes, their management addresses, the secret) is rewritten when it
changes (the agent re-reads it); its process runs in the network's router namespace while it
serves a node that is not being deleted, and stops after the last one went (metering reads a
node being deleted through it one last time first).
"""

from __future__ import annotations

from facade.controller.runtime import Later, Runtime
from facade.domain import keys, names
from facade.domain.keys import Key
from facade.reconcile.plan import Action, StartProcess, StopProcess
from facade.service import desired, management


def reconcile_agent(rt: Runtime, key: Key) -> None:
    assert isinstance(key.ident, int)
    with rt.ctx.read() as session:
        agent = desired.agent_of(session, key.ident)
    if agent.nodes:
        management.write_config(rt.home, agent)
    # nodes being deleted are still served while they exist: metering reads them one last
    # time right before they go (their reconciler queues this key once they are gone)
    live = agent.live or any(rt.dp.observe_node(n.netns) is not None for n in agent.nodes)
    want = management.process(rt.home, agent) if live else None
    seen = rt.dp.observe_process(agent.key)
    actions: list[Action] = []
    if want is None:
        if seen is not None:
            actions.append(StopProcess(agent.key, "not desired"))
    elif seen is None or seen.fingerprint != want.fingerprint():
        if rt.dp.observe_node(names.router_netns(key.ident)) is None:
            rt.touch([keys.router(key.ident)])
            raise Later(0.05, f"agent {agent.key} waits for its router")
        actions.append(StartProcess(want, "missing" if seen is None else "restart"))
    rt.act(actions)
