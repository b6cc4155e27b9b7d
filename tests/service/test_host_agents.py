"""Host agents on the fake driver (docs/multi-host.md, "Host agents"): the operator makes and
revokes a host's tokens; an agent registers with its token (the host is made, or ready again),
heartbeats, and a host whose agent goes silent is lost. A wrong, revoked or account token
changes nothing; two agents of one host: the second is refused while the first is alive; a
superseded agent's heartbeat is refused. The last tests run the real program
(`python -m facade.workloads.host_agent`, what `facade host-agent` runs) against a control
plane served on a loopback port."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from facade.domain import hosts
from facade.service import host_agents
from facade.store.models import Event, Host, HostToken
from tests.console_plane import served_plane
from tests.service.helpers import err, ok

ROOT = Path(__file__).resolve().parents[2]


def _token(api: Any, host: str) -> str:
    body = ok(api.req("POST", f"/v1/hosts/{host}/tokens"), 201)
    assert body["host"] == host and body["token"].startswith("fch_")
    return str(body["token"])


def _register(api: Any, token: str, agent: str = "agent-0001",
              underlay: str = "10.9.0.4") -> Any:
    return api.req("POST", "/v1/host-agent/register", token=token,
                   json={"agent": agent, "underlay": underlay})


def _beat(api: Any, token: str, agent: str = "agent-0001") -> Any:
    return api.req("POST", "/v1/host-agent/heartbeat", token=token, json={"agent": agent})


def _host(api: Any, name: str) -> Any:
    return ok(api.req("GET", f"/v1/hosts/{name}"))


def _hosts_in_store(api: Any) -> list[tuple[str, str, str | None]]:
    with api.ctx.read() as session:
        return [(h.name, h.state, h.agent_id) for h in session.scalars(select(Host))]


def test_an_agent_registers_its_host_heartbeats_and_its_host_is_lost_when_it_stops(
        world: Any) -> None:
    world.changed = True
    token = _token(world, "h4")
    assert "h4" not in {h["name"] for h in world.items("/v1/hosts")}  # a token makes no host
    host = ok(_register(world, token))
    assert (host["name"], host["address"], host["state"], host["simulated"]) == \
        ("h4", "10.9.0.4", "ready", False)
    assert host["heartbeat"] is not None and host["detail"] == ""
    beat = ok(_beat(world, token))
    assert beat == {"host": "h4", "state": "ready", "every": hosts.HEARTBEAT_EVERY}
    assert host_agents.mark_lost(world.ctx) == []  # its heartbeat is fresh
    with world.ctx.write() as session:  # as if it had been silent for LOST_AFTER seconds
        old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=hosts.LOST_AFTER + 1)
        session.execute(update(Host).where(Host.name == "h4").values(heartbeat_at=old))
    assert host_agents.mark_lost(world.ctx) == ["h4"]
    lost = _host(world, "h4")
    assert lost["state"] == "lost" and "no heartbeat" in lost["detail"]
    assert host_agents.mark_lost(world.ctx) == []  # lost once
    assert ok(_beat(world, token))["state"] == "ready"  # heard again
    assert _host(world, "h4")["state"] == "ready"
    with world.ctx.read() as session:
        kinds = [e.kind for e in session.scalars(select(Event).where(Event.object == "h4")
                                                 .order_by(Event.id))]
    assert kinds == ["host.token", "host.registered", "host.lost", "host.ready"]


def test_wrong_revoked_and_account_tokens_are_refused_and_change_nothing(world: Any) -> None:
    world.changed = True
    token = _token(world, "h5")
    before = _hosts_in_store(world)
    for bad in ("fch_nothing", world.acme, world.token, ""):
        e = err(_register(world, bad) if bad else world.client.post(
            "/v1/host-agent/register", json={"agent": "agent-0001", "underlay": "10.9.0.5"}),
            401)
        assert "token" in e["message"]
    assert _hosts_in_store(world) == before
    # a host token is good for nothing else
    err(world.req("GET", "/v1/hosts", token=token), 401, "unknown token")
    err(world.req("GET", "/v1/networks", token=token), 401, "unknown token")
    ok(_register(world, token, underlay="10.9.0.5"))
    ok(world.req("DELETE", "/v1/hosts/h5/tokens"), 204)
    err(_beat(world, token), 401, "revoked")
    err(_register(world, token, underlay="10.9.0.5"), 401, "revoked")
    with world.ctx.read() as session:
        rows = session.scalars(select(HostToken).where(HostToken.host == "h5")).all()
    assert len(rows) == 1 and rows[0].revoked_at is not None
    assert token not in {r.digest for r in rows}  # its digest only


def test_tokens_are_the_operators_and_the_local_host_has_none(world: Any) -> None:
    err(world.req("POST", "/v1/hosts/h6/tokens", token=world.acme), 403, "operator")
    err(world.req("DELETE", "/v1/hosts/h6/tokens", token=world.acme), 403, "operator")
    err(world.req("POST", "/v1/hosts/local/tokens"), 409, "local host", where="name")
    err(world.req("POST", "/v1/hosts/Bad_Name/tokens"), 400, where="name")


def test_a_second_agent_of_a_live_host_is_refused_and_a_superseded_one_must_stop(
        world: Any) -> None:
    world.changed = True
    token = _token(world, "h7")
    ok(_register(world, token, agent="first-0001", underlay="10.9.0.7"))
    e = err(_register(world, token, agent="second-002", underlay="10.9.0.7"), 409,
            "live agent", where="host")
    assert "h7" in e["message"]
    assert _hosts_in_store(world)[-1] == ("h7", "ready", "first-0001")
    ok(_register(world, token, agent="first-0001", underlay="10.9.0.7"))  # itself, again
    with world.ctx.write() as session:  # the first one went silent
        old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=hosts.LOST_AFTER + 1)
        session.execute(update(Host).where(Host.name == "h7").values(heartbeat_at=old))
    ok(_register(world, token, agent="second-002", underlay="10.9.0.7"))
    err(_beat(world, token, agent="first-0001"), 409, "must stop", where="agent")
    ok(_beat(world, token, agent="second-002"))


def test_bad_registrations_name_what_is_wrong(world: Any) -> None:
    world.changed = True
    token = _token(world, "h8")
    before = _hosts_in_store(world)
    err(_register(world, token, underlay="10.9.0"), 400, "IPv4", where="underlay")
    err(_register(world, token, agent="x"), 400, "agent's id", where="agent")
    err(world.req("POST", "/v1/host-agent/register", token=token,
                  json={"agent": "agent-0001"}), 422, where="underlay")
    err(world.req("POST", "/v1/host-agent/register", token=token,
                  json={"agent": "agent-0001", "underlay": "10.9.0.8", "x": 1}), 422, where="x")
    err(_beat(world, token), 409, "register first")  # never registered
    other = _token(world, "h9")
    ok(_register(world, other, underlay="10.9.0.9"))
    err(_register(world, token, underlay="10.9.0.9"), 409, "h9", where="underlay")
    assert _hosts_in_store(world)[:len(before)] == before
    assert "h8" not in {n for n, _, _ in _hosts_in_store(world)}


# -- the real program --------------------------------------------------------------------------


def _agent(url: str, token: str, underlay: str) -> subprocess.Popen[str]:
    env = {**os.environ, "FACADE_HOST_TOKEN": token, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.Popen(
        [sys.executable, "-m", "facade.workloads.host_agent", "--control-plane", url,
         "--underlay", underlay], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)


def _until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.fixture
def quick_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host is lost after 1.5 s of silence (5 s in use), its watch every 0.2 s."""
    monkeypatch.setattr(hosts, "LOST_AFTER", 1.5)
    monkeypatch.setattr(hosts, "HEARTBEAT_EVERY", 0.2)


def test_the_host_agent_program_registers_beats_is_refused_and_its_loss_is_seen(
        tmp_path: Path, quick_loss: None) -> None:
    with served_plane(tmp_path) as plane:
        token = plane.req("POST", "/v1/hosts/h1/tokens")["token"]
        first = second = wrong = again = _agent(plane.base, token, "10.9.1.1")
        try:
            host = _until(lambda: next((h for h in plane.req("GET", "/v1/hosts")["items"]
                                        if h["name"] == "h1"), None), 20, "h1 never registered")
            assert host["state"] == "ready" and host["address"] == "10.9.1.1"
            beat = host["heartbeat"]
            _until(lambda: plane.req("GET", "/v1/hosts/h1")["heartbeat"] != beat, 10,
                   "no heartbeat after the registration")
            # a second agent for h1 while the first is alive: refused, exits 3
            second = _agent(plane.base, token, "10.9.1.1")
            out, _ = second.communicate(timeout=30)
            assert second.returncode == 3 and "live agent" in out, out
            # a wrong token: refused, exits 2, nothing made
            wrong = _agent(plane.base, "fch_wrong", "10.9.1.3")
            out, _ = wrong.communicate(timeout=30)
            assert wrong.returncode == 2 and "unknown or revoked" in out, out
            assert {h["name"] for h in plane.req("GET", "/v1/hosts")["items"]} == {"local", "h1"}
            first.kill()  # a host whose agent dies is lost
            out, _ = first.communicate(timeout=10)
            assert "registered host h1 at 10.9.1.1" in out, out
            _until(lambda: plane.req("GET", "/v1/hosts/h1")["state"] == "lost", 10,
                   "h1 never went lost")
            # its agent comes back (a new run): ready again; revoked, it stops
            again = _agent(plane.base, token, "10.9.1.1")
            _until(lambda: plane.req("GET", "/v1/hosts/h1")["state"] == "ready", 20,
                   "h1 not ready again")
            plane.http.request("DELETE", plane.base + "/v1/hosts/h1/tokens",
                               headers={"Authorization": f"Bearer {plane.token}"})
            out, _ = again.communicate(timeout=30)
            assert again.returncode == 2 and "revoked" in out, out
        finally:
            for proc in (first, second, wrong, again):
                if proc.poll() is None:
                    proc.kill()
                proc.communicate(timeout=10)


def test_a_machine_that_registered_takes_no_node_yet(world: Any) -> None:
    """Its agent does not make nodes in this version: placing one there is a 409, nothing
    made (docs/multi-host.md)."""
    world.changed = True
    ok(_register(world, _token(world, "m1"), underlay="10.9.2.1"))
    before = len(world.items("/v1/instances"))
    e = err(world.req("POST", "/v1/instances", json={
        "name": "far", "account": "acme", "host": "m1",
        "interfaces": [{"subnet": "acme-vpc/app"}]}), 409, "simulated hosts", where="host")
    assert "m1" in e["message"]
    assert len(world.items("/v1/instances")) == before
