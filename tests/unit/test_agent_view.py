"""What a management network's agent serves, as its reconciler reads it (desired.agent_roll:
plain rows, the names and whether a node is being deleted) and as each node's reconciler writes
its own entry (desired.agent_node), is what the object-by-object read of every agent says
(desired.agents, which the engines use): the same nodes, their legs, their services' checks
and whether the agent still serves a live node."""

from __future__ import annotations

from sqlalchemy import select

from facade.domain import names
from facade.service import accounts, appliances, catalog, desired, management, networks, quotas
from facade.service.context import Context
from facade.store.models import Instance, Network


def test_an_agents_roll_and_its_nodes_entries_are_the_agent_read_as_objects(
        ctx: Context) -> None:
    op = accounts.authenticate(ctx, accounts.bootstrap_operator(ctx) or "")
    for name in ("acme", "searchco", "cacheco"):
        accounts.create(ctx, op, name)
    quotas.set_(ctx, op, "acme", {"appliances": 20, "backends": 40})
    networks.create_network(ctx, op, "acme-vpc", "acme", "10.0.0.0/16",
                            [{"name": "app", "cidr": "10.0.1.0/24"}])
    for provider, cidr in (("searchco", "10.1.0.0/16"), ("cacheco", "10.2.0.0/16")):
        base = cidr.rsplit(".", 2)[0]
        networks.create_network(ctx, op, f"{provider}-vpc", provider, cidr,
                                [{"name": "backend", "cidr": f"{base}.1.0/24"},
                                 {"name": "mgmt", "cidr": f"{base}.200.0/24"}])
    catalog.create(ctx, op, name="search", account="searchco", workload_name="http-echo",
                   command=None, port=80, backend_subnet="searchco-vpc/backend",
                   management_subnet="searchco-vpc/mgmt")
    catalog.create(ctx, op, name="cache", account="cacheco", workload_name=None,
                   command="sleep 1000 {ip} {port}", port=6379,
                   backend_subnet="cacheco-vpc/backend", management_subnet="cacheco-vpc/mgmt",
                   health_check={"type": "agent"})
    with ctx.write() as session:
        for i, (service, n) in enumerate((("search", 2), ("cache", 1), ("search", 3))):
            appliances.new_appliance(ctx, session, op, name=f"a{i}", account="acme",
                                     service=service, subnet="acme-vpc/app", backends=n)
    with ctx.write() as session:  # one node on its way out: still served, not live
        victim = session.scalars(select(Instance).where(Instance.role == "backend")).first()
        assert victim is not None
        victim.status = "deleting"
        # an agent knows a node by its namespace's name (docs/api.md, "Names")
        victim_name = names.node_netns(victim.id, victim.name)
    with ctx.read() as session:
        by_objects = {a.network_id: a for a in desired.agents(session)}
        nets = list(session.scalars(select(Network.id)))
        rolls = {n: desired.agent_roll(session, n) for n in nets}
        entries: dict[int, list[management.AgentNode]] = {}
        for inst in session.scalars(select(Instance).order_by(Instance.id)):
            served = desired.agent_node(inst)
            if served is not None:
                entries.setdefault(served[0], []).append(served[1])
    assert set(by_objects) == {n for n, r in rolls.items() if r.nodes} == set(entries)
    assert len(by_objects) == 2
    for net, agent in by_objects.items():
        assert entries[net] == agent.nodes
        assert rolls[net].nodes == {n.name: (n.netns, n.name == victim_name)
                                    for n in agent.nodes}
        assert rolls[net].live == agent.live
        assert agent.live and len(agent.nodes) >= 2
    checks = {n.workload["check"] for a in by_objects.values() for n in a.nodes if n.workload}
    assert checks == {"http", "listen"}
    for net, roll in rolls.items():  # what the agent's key reads at every creation
        with ctx.read() as session:
            state = desired.agent_liveness(session, net)
        assert state.live == roll.live
        assert state.leaving == ()
    with ctx.write() as session:  # every node of one agent on its way out: not live
        cache_net = next(n for n, a in by_objects.items()
                         if any(x.workload and x.workload["check"] == "listen"
                                for x in a.nodes))
        for inst in session.scalars(select(Instance)):
            served = desired.agent_node(inst)
            if served is not None and served[0] == cache_net:
                inst.status = "deleting"
    with ctx.read() as session:
        state = desired.agent_liveness(session, cache_net)
        roll = desired.agent_roll(session, cache_net)
    assert not state.live and not roll.live
    assert sorted(state.leaving) == sorted(netns for netns, _ in roll.nodes.values())
    assert len(state.leaving) == 2
