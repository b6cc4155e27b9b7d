"""Host agents as the control plane sees them (docs/multi-host.md, "Host agents"): their
tokens (made and revoked by the operator, one host name each), an agent's registration and
heartbeats, and the hosts whose agent went silent marked lost (the controller's host
watch calls `mark_lost` every second).

A host token is good for the host agent's routes only (/v1/host-agent/...): it is not an
account's, so every other route answers it 401, and an account's token is a 401 here. A
wrong or revoked token changes nothing. Two agents claiming one host: the second is refused
(409) while the first one's heartbeat is fresh, and a superseded agent's heartbeats are
refused (409), so it stops.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain import hosts
from facade.domain.errors import Conflict, Forbidden, Unauthorized
from facade.domain.states import HostState
from facade.readmodels.hosts import HeartbeatRead, HostRead, HostTokenRead
from facade.service import accounts
from facade.service import hosts as host_rows
from facade.service.context import Caller, Context
from facade.store.models import Host, HostToken

TOKEN_PREFIX = hosts.AGENT_TOKEN_PREFIX  # told apart from an account's token (fcd_) at a glance


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(at: dt.datetime | None) -> dt.datetime | None:
    """A stored time as UTC (SQLite hands it back naive)."""
    return at.replace(tzinfo=dt.UTC) if at is not None and at.tzinfo is None else at


def _require_operator(caller: Caller, what: str) -> None:
    if not caller.operator:
        raise Forbidden(f"only the operator may {what}: hosts are the provider's machines",
                        where="host")


def _token_host(name: str) -> str:
    checked = hosts.check_name(name, where="name")
    if checked == hosts.LOCAL:
        raise Conflict("the local host is the control plane's own machine: it has no agent "
                       "and no token", where="name")
    return checked


def create_token(ctx: Context, caller: Caller, name: str) -> HostTokenRead:
    """A new token for the agent of host `name` (the host need not exist yet: a machine's
    agent makes its row when it registers); shown once, its digest kept."""
    _require_operator(caller, "make host tokens")
    host = _token_host(name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with ctx.write() as session:
        session.add(HostToken(host=host, digest=accounts.digest(token)))
        ctx.event(session, "host.token", host, f"a token was made for host {host}'s agent")
    return HostTokenRead(host=host, token=token)


def revoke_tokens(ctx: Context, caller: Caller, name: str) -> int:
    """Revoke every token of host `name`: its agent's next request is a 401 (the host goes
    lost once its heartbeats stop); how many were revoked."""
    _require_operator(caller, "revoke host tokens")
    host = _token_host(name)
    now = _now()
    with ctx.write() as session:
        rows = session.scalars(select(HostToken).where(HostToken.host == host,
                                                       HostToken.revoked_at.is_(None))).all()
        for row in rows:
            row.revoked_at = now
        if rows:
            ctx.event(session, "host.token", host,
                      f"{len(rows)} token{'' if len(rows) == 1 else 's'} of host {host}'s "
                      "agent revoked")
    return len(rows)


@dataclass(frozen=True)
class AgentCaller:
    """Who called a host agent's route: the host its token is for."""

    host: str


def authenticate(ctx: Context, token: str | None) -> AgentCaller:
    if not token:
        raise Unauthorized("missing bearer token (Authorization: Bearer TOKEN): a host "
                           "agent presents its host's token")
    with ctx.read() as session:
        row = session.scalar(select(HostToken).where(HostToken.digest == accounts.digest(token)))
        if row is None or row.revoked_at is not None:
            raise Unauthorized("unknown or revoked host token (`facade host token create "
                               "NAME` makes one)")
        return AgentCaller(host=row.host)


def _row(session: Session, name: str) -> Host | None:
    return session.scalar(select(Host).where(Host.name == name))


def _rules(row: Host) -> hosts.Host:
    view = host_rows.rule_view(row, 0)
    return hosts.Host(name=view.name, address=view.address, state=view.state,
                      capacity=view.capacity, heartbeat=_aware(view.heartbeat),
                      simulated=view.simulated, nodes=view.nodes, agent=row.agent_id)


def register(ctx: Context, caller: AgentCaller, body: dict[str, Any]) -> HostRead:
    """The agent of `caller.host` registers at its underlay address: the host is made (a
    machine joining: `ready`, the default capacity) or comes back (`ready`, or `draining` if
    it was; a lost simulated host stays lost, and its agent, told so, fences itself until the
    host watch rejoins it), its agent and heartbeat noted. Refused (409) while another agent's heartbeat is
    fresh, or when another host has that underlay address."""
    agent = hosts.check_agent_id(body.get("agent"))
    address = hosts.check_address(body.get("underlay"), where="underlay")
    now = _now()
    with ctx.write() as session:
        row = _row(session, caller.host)
        others = session.scalars(select(Host).where(Host.state != HostState.REMOVED,
                                                    Host.name != caller.host)).all()
        holder = next((h.name for h in others if h.address == address), None)
        if holder is not None:
            raise Conflict(f"underlay address {address} is host {holder}'s", where="underlay")
        if row is None:
            row = Host(name=caller.host, capacity=hosts.DEFAULT_CAPACITY, simulated=False,
                       state=HostState.READY)
            session.add(row)
            state, came = HostState.READY, "joined"
        else:
            state = _rules(row).registered(agent, now)
            came = "registered again" if row.state == state else f"is {state} again"
        row.address, row.state, row.agent_id, row.heartbeat_at = address, state, agent, now
        session.flush()
        ctx.event(session, "host.registered", caller.host,
                  f"host {caller.host}'s agent {came} at {address}")
        return host_rows.view(row, host_rows.held(session, row))


def registered(session: Session, caller: AgentCaller, agent: str) -> Host:
    """The host row of `caller`, whose registered agent must be `agent` (a 409 otherwise:
    never registered, superseded by another agent's registration, or the host removed)."""
    row = _row(session, caller.host)
    if row is None or row.agent_id is None:
        raise Conflict(f"host {caller.host} has no registered agent: register first",
                       where="host")
    if row.agent_id != agent:
        raise Conflict(f"another agent registered for host {caller.host} since this one "
                       "did: this one must stop", where="agent")
    if row.state == HostState.REMOVED:
        raise Conflict(f"host {caller.host} was removed: register to join again",
                       where="host")
    return row


def heartbeat(ctx: Context, caller: AgentCaller, body: dict[str, Any]) -> HeartbeatRead:
    """The agent is alive: its heartbeat noted (a lost machine is ready again). A heartbeat of an
    agent the host does not know (never registered, or superseded by another agent's
    registration) is a 409: it must register (again) or stop."""
    agent = hosts.check_agent_id(body.get("agent"))
    with ctx.write() as session:
        row = registered(session, caller, agent)
        row.heartbeat_at = _now()
        # a lost machine is ready again; a lost simulated host once the host watch rejoined
        # it (service/hosts_loss.py: swept, then its FRR started by its agent)
        if row.state == HostState.LOST and not row.simulated:
            row.state = HostState.READY
            ctx.event(session, "host.ready", caller.host,
                      f"host {caller.host}'s agent is heard again: ready")
        return HeartbeatRead(host=caller.host, state=HostState(row.state),
                             every=hosts.HEARTBEAT_EVERY)


def mark_lost(ctx: Context) -> list[str]:
    """Machines whose agent sent no heartbeat for hosts.LOST_AFTER seconds, marked lost (a
    read first: a write only when one is); their names."""
    now = _now()
    watched = (HostState.READY, HostState.DRAINING)
    with ctx.read() as session:
        # a simulated host is the host watch's (service/hosts_loss.py), agent or not: its
        # loss also moves its nodes away and fences it
        stale = [r.id for r in session.scalars(select(Host).where(
            Host.state.in_(watched), Host.heartbeat_at.is_not(None),
            Host.simulated.is_(False)))
            if not hosts.fresh(_aware(r.heartbeat_at), now)]
    if not stale:
        return []
    lost = []
    with ctx.write(track=False) as session:
        for row in session.scalars(select(Host).where(Host.id.in_(stale))):
            if row.state in watched and not hosts.fresh(_aware(row.heartbeat_at), now):
                row.state = HostState.LOST
                lost.append(row.name)
                ctx.event(session, "host.lost", row.name,
                          f"host {row.name} is lost: its agent sent no heartbeat for "
                          f"{hosts.LOST_AFTER:g} s")
    return lost


def any_other(session: Session) -> bool:
    """Whether the store has a host besides the local one, not removed (the controller's host
    watch has nothing to look at otherwise)."""
    return session.scalar(select(Host.id).where(Host.name != hosts.LOCAL,
                                                Host.state != HostState.REMOVED).limit(1)) \
        is not None
