"""A host agent's work as the control plane serves it (docs/multi-host.md, "The host agent
applies its host's kernel work"): the long poll that hands an agent the intents for its host
(`take`), the answers it posts (`answer`), and `StoreHosts`, which tells the routed data plane
(dataplane/routed.py) which hosts' kernels their agents change.

Both routes take the host's token (service/host_agents.py authenticates it: a wrong or revoked
one is a 401 and changes nothing) and the agent's id, which must be the host's registered
agent (a 409 otherwise, as for a heartbeat): a superseded agent takes no work and answers
nothing. An answer whose value is not its operation's result type is a 400 naming the field
(`results[0].value.ports`), and then none of the post's answers is given to its caller.

A host's kernel is changed by its agent once an agent registered for it (`Host.agent_id`):
a machine always, a simulated host once it runs one. Until then the control plane changes a
simulated host's namespaces itself, as slice 2b does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from facade.dataplane.errors import Kind
from facade.dataplane.intents import Failure
from facade.dataplane.remote import MAX_POLL, Answer
from facade.dataplane.routed import RoutedDataPlane
from facade.dataplane.wire import WireError
from facade.domain import hosts
from facade.domain.errors import Invalid
from facade.domain.states import HostState
from facade.readmodels.hosts import HostResultsRead, HostWorkRead, IntentRead
from facade.service import host_agents
from facade.service.context import Context
from facade.store.models import Host, Instance

MAX_TAKE = 100  # intents one poll may take


def take(ctx: Context, caller: host_agents.AgentCaller, agent: object, wait: float,
         limit: int) -> HostWorkRead:
    """The intents for the caller's host, waiting up to `wait` seconds for the first."""
    checked = hosts.check_agent_id(agent)
    if not 0 <= wait <= MAX_POLL:
        raise Invalid(f"wait is 0-{MAX_POLL:g} seconds, not {wait:g}", where="wait")
    if not 1 <= limit <= MAX_TAKE:
        raise Invalid(f"limit is 1-{MAX_TAKE}, not {limit}", where="limit")
    with ctx.read() as session:
        host_agents.registered(session, caller, checked)
    taken = ctx.host_work.take(caller.host, wait, limit)
    return HostWorkRead(host=caller.host, intents=[
        IntentRead(id=i.id, op=i.op, args=i.args) for i in taken])


def answer(ctx: Context, caller: host_agents.AgentCaller,
           body: dict[str, Any]) -> HostResultsRead:
    """The agent's answers, given to the callers waiting for them (see the module)."""
    agent = hosts.check_agent_id(body.get("agent"))
    answers = []
    for i, item in enumerate(body.get("results") or []):
        error = item.get("error")
        if error is not None and item.get("value") is not None:
            raise Invalid("an answer has a value or an error, not both",
                          where=f"results[{i}].value")
        failure = None if error is None else Failure(message=str(error["message"]),
                                                     kind=Kind(error.get("kind", "retry")))
        answers.append(Answer(id=str(item["id"]), value=item.get("value"), failure=failure))
    with ctx.read() as session:
        host_agents.registered(session, caller, agent)
    try:
        accepted, late = ctx.host_work.answer(caller.host, answers)
    except WireError as exc:
        raise Invalid(f"{exc.detail}", where=exc.where) from exc
    return HostResultsRead(accepted=accepted, late=late)


class StoreHosts:
    """The routed data plane's `RemoteHosts`, read from the store: a host is remote once an
    agent registered for it (not the local host, not removed)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @staticmethod
    def _remote(row: Host | None) -> bool:
        return row is not None and row.name != hosts.LOCAL and row.agent_id is not None \
            and row.state != HostState.REMOVED

    def remote(self, host: str) -> bool:
        with self.ctx.read() as session:
            return self._remote(session.scalar(select(Host).where(Host.name == host)))

    def remote_hosts(self) -> list[str]:
        with self.ctx.read() as session:
            return sorted(r.name for r in session.scalars(select(Host).where(
                Host.agent_id.is_not(None), Host.state != HostState.REMOVED,
                Host.name != hosts.LOCAL)))

    def node_host(self, instance_id: int) -> str | None:
        with self.ctx.read() as session:
            name = session.scalar(select(Host.name).join(Instance, Instance.host_id == Host.id)
                                  .where(Instance.id == instance_id))
            return None if name is None or name == hosts.LOCAL else name

    def lost(self, host: str) -> bool:
        with self.ctx.read() as session:
            return session.scalar(select(Host.state).where(Host.name == host)) \
                == HostState.LOST


def route(ctx: Context) -> RoutedDataPlane:
    """`ctx`'s data plane made the routed one over it: the hosts whose agents registered get
    their operations as intents (ctx.host_work), every other one's go to the driver it had.
    The server does this at start; so may a test, over the fake driver."""
    routed = RoutedDataPlane(ctx.dataplane, ctx.host_work, StoreHosts(ctx))
    ctx.dataplane = routed
    return routed
