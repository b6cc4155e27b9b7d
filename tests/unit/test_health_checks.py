"""Tunable health checks (docs/health.md): the rules, the engine's thresholds and codes (a
scripted driver, a fake clock), and the agent's "is something listening" check read from the
kernel's socket table (the API: tests/service/test_health_checks.py)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from facade.controller.health import HealthEngine
from facade.dataplane.fake import FakeDataPlane
from facade.domain import health
from facade.domain.errors import Invalid
from facade.domain.keys import Key
from facade.domain.specs import ProbeResult
from facade.service import desired
from facade.service.context import Context
from facade.workloads.agent import config as agent_config
from facade.workloads.agent import probes as agent_probes
from tests.unit.clock import Clock

pytestmark = pytest.mark.no_store  # tests/conftest.py

# -- the rules ---------------------------------------------------------------------------------


def test_defaults_detect_a_failure_within_three_seconds() -> None:
    builtin = health.effective({}, "/health")
    assert (builtin.type, builtin.path, builtin.codes) == ("http", "/health", "200-299")
    assert health.effective({}, None).type == "tcp"
    assert health.detection_bound(builtin) == pytest.approx(2.25)


@pytest.mark.parametrize(("raw", "where", "words"), [
    ({"kind": "tcp"}, "health_check.kind", "unknown health check setting 'kind'"),
    ({"type": "icmp"}, "health_check.type", "must be one of http, tcp, agent"),
    ({"codes": "2xx"}, "health_check.codes", "like 200-399 or 200,204"),
    ({"codes": "399-200"}, "health_check.codes", "like 200-399"),
    ({"interval": 0.01}, "health_check.interval", "from 0.2 to 60"),
    ({"timeout": True}, "health_check.timeout", "a number of seconds"),
    ({"rise": 0}, "health_check.rise", "from 1 to 10"),
    ({"fall": 2.5}, "health_check.fall", "whole number"),
    ({"path": "health"}, "health_check.path", "must start with '/'"),
])
def test_each_bad_setting_says_what_and_where(raw: dict[str, Any], where: str,
                                             words: str) -> None:
    with pytest.raises(Invalid) as info:
        health.check(raw)
    assert info.value.where == where and words in info.value.message


def test_settings_that_do_not_fit_together() -> None:
    with pytest.raises(Invalid, match="type http needs a path"):
        health.effective({"type": "http"}, None)
    with pytest.raises(Invalid, match=r"timeout \(2 s\) must not exceed its interval \(1 s\)"):
        health.effective({"timeout": 2.0}, "/health")


def test_codes_match_ranges_and_lists() -> None:
    hc = health.HealthCheck(codes="200-204,301,400-401")
    assert [c for c in (200, 204, 205, 301, 302, 400, 401, 402) if hc.accepts(c)] == [
        200, 204, 301, 400, 401]
    assert not hc.accepts(None)


# -- the engine --------------------------------------------------------------------------------


class Scripted(FakeDataPlane):
    """Answers each http check with the next status of a script (None: refused)."""

    def __init__(self, statuses: list[int | None]) -> None:
        super().__init__()
        self.statuses = statuses
        self.asked: list[tuple[str, str, dict[str, str] | None]] = []

    def http_request(self, netns: str, ip: str, port: int, path: str = "/", *,
                     method: str = "GET", body: bytes | None = None,
                     headers: dict[str, str] | None = None,
                     timeout: float = 2.0) -> ProbeResult:
        self.asked.append((netns, path, headers))
        status = self.statuses.pop(0)
        if status is None:
            return ProbeResult(ok=False, detail="connection refused")
        if path == "/v1/health":  # the agent's answer: status 200 = listening, else not
            up = status == 200
            return ProbeResult(ok=True, detail="HTTP 200", status=200, body=json.dumps(
                {"workload": {"ok": up, "detail": "listening" if up else "nothing listens"}}))
        return ProbeResult(ok=200 <= status < 300, detail=f"HTTP {status}", status=status)


def _engine(tmp_path: Path, dp: FakeDataPlane, hc: health.HealthCheck
            ) -> tuple[HealthEngine, list[list[Key]], Clock, str]:
    ctx = cast(Context, SimpleNamespace(dataplane=dp, home=tmp_path))
    touched: list[list[Key]] = []
    clock = Clock()
    engine = HealthEngine(ctx, lambda keys: touched.append(list(keys)), clock)
    backend = desired.BackendTarget(7, "docs-b1", "fcd-i7-docs-b1", "10.0.1.3", (3, "10.0.200.3"))
    engine.register(desired.ApplianceTarget(
        id=1, name="docs", status="ready", frontend_netns=None, router_netns="fcd-r1",
        endpoint=None, port=80, health=hc, backends=(backend,), leaving=(),
        peers_file=tmp_path / "p", peers=()))
    return engine, touched, clock, backend.netns


def _check(engine: HealthEngine, netns: str) -> float:
    """Run the backend's next check now; how long until the one after."""
    state = engine._states[netns]
    state.in_flight = True  # as the engine's loop hands it out
    engine._in_flight += 1
    if state.check.type == "agent":
        engine._check(state)
    else:
        engine._check_batch([state])
    assert engine._in_flight == 0
    return state.due - engine.clock()


def test_codes_rise_and_fall_decide_and_a_disagreeing_check_comes_sooner(
        tmp_path: Path) -> None:
    dp = Scripted([302, 500, 302, 500, 500, 200, 200])
    hc = health.HealthCheck(type="http", path="/h", codes="200-399", interval=2.0, rise=2,
                            fall=2)
    engine, touched, _clock, netns = _engine(tmp_path, dp, hc)
    _check(engine, netns)
    assert engine.healthy(netns) is True and len(touched) == 1  # the first verdict counts
    assert _check(engine, netns) == pytest.approx(0.5)  # 500 once: checked again sooner
    assert engine.healthy(netns) is True
    assert _check(engine, netns) == pytest.approx(2.0)  # 302: agrees again
    _check(engine, netns)
    _check(engine, netns)
    assert engine.healthy(netns) is False and len(touched) == 2  # two 500s in a row
    assert {k.kind for k in touched[1]} == {"appliance", "node"}
    _check(engine, netns)
    assert engine.healthy(netns) is False  # rise 2: one pass is not enough
    _check(engine, netns)
    assert engine.healthy(netns) is True and len(touched) == 3
    assert [p for _, p, _ in dp.asked] == ["/h"] * 7
    # each check counted by its outcome (302 passes with codes 200-399)
    registry = engine.metrics.registry
    assert [registry.get_sample_value("facade_health_checks_total",
                                      {"type": "http", "outcome": o})
            for o in ("pass", "fail", "timeout")] == [4, 3, None]


def test_a_starting_backend_is_checked_at_its_interval_not_back_to_back(
        tmp_path: Path) -> None:
    """Checks due close together run as one batch (due within GATHER of now), but a starting
    backend, rechecked every STARTING_INTERVAL (below GATHER), is not taken before its time:
    gathered early it was checked back to back, a thousand refused connections a second
    while its workload started (found in a trace at 300 appliances)."""
    from facade.controller import health as engine_mod

    assert engine_mod.STARTING_INTERVAL < engine_mod.GATHER
    dp = Scripted([None, None, 200])
    engine, _touched, clock, netns = _engine(tmp_path, dp,
                                             health.HealthCheck(type="http", path="/h"))
    taken, _ = engine._take_due(clock())
    assert [s.target.netns for s in taken] == [netns]  # registered: due at once
    engine._in_flight -= 1
    engine._states[netns].in_flight = False
    _check(engine, netns)  # refused: it is starting
    taken, wait = engine._take_due(clock())
    assert taken == [] and wait == pytest.approx(engine_mod.STARTING_INTERVAL)
    clock.t += engine_mod.STARTING_INTERVAL / 2
    assert engine._take_due(clock())[0] == []  # still early, though within GATHER
    clock.t += engine_mod.STARTING_INTERVAL / 2
    taken, _ = engine._take_due(clock())
    assert [s.target.netns for s in taken] == [netns]
    engine._in_flight -= 1
    engine._states[netns].in_flight = False
    _check(engine, netns)  # refused again
    clock.t += engine_mod.STARTING_INTERVAL
    _check(engine, netns)  # 200: healthy, on its steady interval from now
    assert engine.healthy(netns) is True
    clock.t += engine._states[netns].check.interval - engine_mod.GATHER / 2
    taken, _ = engine._take_due(clock())  # a steady check is gathered early
    assert [s.target.netns for s in taken] == [netns]
    assert len(dp.asked) == 3


def test_an_agent_check_asks_the_nodes_agent_signed_and_never_the_workload(
        tmp_path: Path) -> None:
    dp = Scripted([200, 404, 404, None])
    engine, _touched, _clock, netns = _engine(tmp_path, dp, health.HealthCheck(type="agent"))
    _check(engine, netns)
    assert engine.healthy(netns) is True
    _check(engine, netns)
    _check(engine, netns)
    assert engine.healthy(netns) is False and engine.detail(netns) == "agent: nothing listens"
    _check(engine, netns)
    assert engine.detail(netns) == "agent: connection refused"  # no agent: no vouching
    assert {(ns, path) for ns, path, _ in dp.asked} == {("fcd-r3", "/v1/health")}
    assert all(h and h["Authorization"].startswith("Facade-HMAC ") for _, _, h in dp.asked)


# -- the agent's listening check ---------------------------------------------------------------


def test_the_agent_sees_a_listening_socket_without_connecting() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]
    try:
        assert not agent_probes.listening("127.0.0.1", port)  # bound, not listening
        server.listen(1)
        assert agent_probes.listening("127.0.0.1", port)
        assert not agent_probes.listening("127.0.0.2", port)  # another address
        server.settimeout(0.05)
        with pytest.raises(TimeoutError):
            server.accept()  # nobody connected to it
    finally:
        server.close()
    assert not agent_probes.listening("127.0.0.1", port)
    wildcard = socket.socket()
    wildcard.bind(("0.0.0.0", 0))
    wildcard.listen(1)
    try:
        assert agent_probes.listening("10.0.1.3", wildcard.getsockname()[1])  # any address
    finally:
        wildcard.close()


def test_the_agent_reads_kernel_addresses_in_host_byte_order() -> None:
    assert str(agent_probes._proc_address("0100007F")) == "127.0.0.1"
    assert str(agent_probes._proc_address("00000000000000000000000001000000")) == "::1"


def test_the_agent_config_takes_the_check_and_refuses_a_bad_one() -> None:
    base = {"secret": "ab" * 32, "port": 9700, "nodes": [{
        "name": "b1", "netns": "fcd-i1-b1", "mgmt_ip": "10.0.200.3", "role": "backend",
        "workload": {"ip": "10.0.1.3", "port": 5201, "health_path": None, "check": "listen"}}]}
    config, skipped = agent_config.parse_config(base)
    wl = config.nodes["b1"].workload
    assert wl is not None and wl.check == "listen" and not skipped
    base["nodes"][0]["workload"]["check"] = "http"  # type: ignore[index]
    config, skipped = agent_config.parse_config(base)
    assert not config.nodes and "check must be one of" in skipped[0]
