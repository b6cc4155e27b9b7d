"""The management agent's loop (facade.workloads.agent.loop) without root: a node its config
names before the node's namespace exists (the control plane writes it when the node is created,
tenths of a second before the node is made) is waited for quietly, and only what keeps a node
unserved for GRACE_S is logged, once."""

from __future__ import annotations

import json
import secrets
import socket
import time
from pathlib import Path

import pytest

from facade.workloads.agent import loop

pytestmark = pytest.mark.no_store  # tests/conftest.py


def _free_port() -> int:
    """A port free on 127.0.0.1 now (the agent's hub listens there)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _agent(tmp_path: Path) -> loop.Agent:
    config = tmp_path / "agent.json"
    config.write_text(json.dumps({"secret": secrets.token_hex(32), "port": _free_port(), "nodes": [
        {"name": "b1", "netns": "fcd-i999999-not-made-yet", "mgmt_ip": "10.0.200.3",
         "role": "backend", "workload": None}]}))
    config.chmod(0o600)
    return loop.Agent(str(config))


def test_a_node_not_made_yet_is_waited_for_quietly_then_logged_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop, "GRACE_S", 0.3)
    agent = _agent(tmp_path)
    try:
        agent.converge()
        agent.converge()
        assert "does not exist" not in capsys.readouterr().err  # being made, most likely
        time.sleep(0.3)
        agent.converge()
        agent.converge()
        err = capsys.readouterr().err
        assert err.count("namespace fcd-i999999-not-made-yet does not exist") == 1, err
        assert agent.listeners == {}
    finally:
        if agent.hub is not None:
            agent.hub.close()
        agent.sel.close()
        agent.wake_r.close()
        agent.wake_w.close()
