"""Simulated hosts on their own agents (docs/multi-host.md, "Simulated hosts on their
agents"): with `ctx.agents` (the server's, controller/simulated_agents.py), a simulated host's
kernel is changed by an agent the control plane runs for it, as a machine's is by its own:
`hosts.add` starts it with a new token (`start`), waits until it registered and asks for work
(`wait`), then makes the host through it; `hosts.restore` starts them again at `facade up`;
`hosts.remove` stops its agent after the host is gone (`stop`: its tokens revoked too).
"""

from __future__ import annotations

import datetime as dt
import secrets
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain import hosts
from facade.service import accounts
from facade.service.context import Context
from facade.store.models import Host, HostToken

START_WAIT = 30.0  # seconds an agent has to register and ask for work


def running(ctx: Context) -> bool:
    """Whether simulated hosts run on their agents here."""
    return ctx.agents is not None


def start(ctx: Context, name: str, address: str) -> None:
    """Host NAME's agent started (a run before stopped) with a new token, the old ones
    revoked: a token is shown to nobody, so each start makes its own."""
    assert ctx.agents is not None
    token = hosts.AGENT_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with ctx.write() as session:
        _revoke(session, name)
        session.add(HostToken(host=name, digest=accounts.digest(token)))
    ctx.agents.start(name, token, address)


def wait(ctx: Context, name: str, timeout: float = START_WAIT) -> bool:
    """Until host NAME's agent registered and asks for work; False after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with ctx.read() as session:
            agent = session.scalar(select(Host.agent_id).where(Host.name == name))
        if agent is not None and ctx.host_work.present(name):
            return True
        time.sleep(0.05)
    return False


def stop(ctx: Context, name: str) -> None:
    """Host NAME's agent stopped on purpose and its tokens revoked; what it had taken fails
    now (Retry), not when its callers' waits end: once its host is removed its answers are
    refused, and the host watch's `host_alive` taken just before waited 15 s so."""
    if ctx.agents is not None:
        ctx.agents.stop(name)
        ctx.host_work.gone(name, f"host {name}'s agent was stopped")
    with ctx.write() as session:
        _revoke(session, name)


def _revoke(session: Session, name: str) -> None:
    now = dt.datetime.now(dt.UTC)
    for row in session.scalars(select(HostToken).where(HostToken.host == name,
                                                       HostToken.revoked_at.is_(None))):
        row.revoked_at = now
