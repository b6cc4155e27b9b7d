"""The web workload, run as real subprocesses on loopback: web -> web -> http-echo, with the
upstream files written the way the worker writes them, spoken to over real HTTP."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

import pytest

from tests.unit.workload_procs import HTTP_TIMEOUT, IP, Workloads, free_port, request

pytestmark = pytest.mark.no_store  # tests/conftest.py


def _point(path: Path, appliance: str | None, port: int | None) -> None:
    path.write_text(json.dumps({"appliance": appliance,
                                "endpoint": f"{IP}:{port}" if port else None}))


def _ask(port: int, method: str = "GET", path: str = "/x",
         body: bytes | None = None) -> tuple[int, Any, Any]:
    conn = http.client.HTTPConnection(IP, port, timeout=HTTP_TIMEOUT)
    try:
        status, headers, data = request(conn, method, path, body)
    finally:
        conn.close()
    return status, headers, json.loads(data)


@pytest.fixture
def chain(workloads: Workloads, tmp_path: Path) -> dict[str, Any]:
    """web-1 -> web-2 -> echo-1; each web's upstream file is in tmp_path."""
    ports = {name: free_port() for name in ("web-1", "web-2", "echo-1")}
    files = {name: tmp_path / f"{name}.upstream.json" for name in ("web-1", "web-2")}
    _point(files["web-1"], "b", ports["web-2"])
    _point(files["web-2"], "c", ports["echo-1"])
    workloads.start("facade.workloads.http_echo", "--name", "echo-1", "--ip", IP,
                    "--port", str(ports["echo-1"]))
    for name in ("web-2", "web-1"):
        workloads.start("facade.workloads.web", "--name", name, "--ip", IP,
                        "--port", str(ports[name]), "--upstream-file", str(files[name]))
    return {"ports": ports, "files": files}


def test_a_request_goes_down_the_chain_and_shows_its_path(chain: dict[str, Any]) -> None:
    status, headers, answer = _ask(chain["ports"]["web-1"], "GET", "/whoami?q=a+b")
    assert status == 200 and headers["X-Backend"] == "web-1"
    assert answer["path"] == ["web-1", "web-2", "echo-1"]
    assert answer["upstream"] == "b" and answer["endpoint"] == f"{IP}:{chain['ports']['web-2']}"
    # the last hop is the echo's own answer, as it saw the connection from web-2
    assert answer["answer"]["answer"]["node"] == "echo-1"
    status, _, answer = _ask(chain["ports"]["web-1"], "POST", "/documents", b'{"id": "1"}')
    assert status == 200 and answer["path"] == ["web-1", "web-2", "echo-1"]
    assert answer["answer"]["answer"] == "echo-1\n"


def test_health_and_root_never_need_the_upstream(chain: dict[str, Any],
                                                 workloads: Workloads) -> None:
    _point(chain["files"]["web-1"], None, None)
    port = chain["ports"]["web-1"]
    assert _ask(port, path="/health")[0] == 200
    status, _, answer = _ask(port, path="/")
    assert status == 200 and answer == {"backend": "web-1", "upstream": None, "endpoint": None}
    status, _, answer = _ask(port)
    assert status == 503 and "no upstream" in answer["error"] and answer["path"] == ["web-1"]


def test_the_upstream_file_is_followed_without_a_restart(chain: dict[str, Any]) -> None:
    port, f = chain["ports"]["web-1"], chain["files"]["web-1"]
    _point(f, "gone", None)  # named, but not (or no longer) an appliance
    status, _, answer = _ask(port)
    assert status == 503 and "gone does not exist" in answer["error"]
    _point(f, "dead", free_port())  # nothing listens there
    status, _, answer = _ask(port)
    assert status == 502 and "did not answer" in answer["error"]
    _point(f, "echo", chain["ports"]["echo-1"])  # straight to the echo now
    status, _, answer = _ask(port)
    assert status == 200 and answer["path"] == ["web-1", "echo-1"]
    f.write_text("{half")  # a broken file is no upstream, never a crash
    assert _ask(port)[0] == 503


def test_a_loop_stops_after_a_bounded_number_of_hops(chain: dict[str, Any]) -> None:
    port = chain["ports"]["web-1"]
    _point(chain["files"]["web-1"], "self", port)
    status, _, answer = _ask(port)
    assert status == 508
    depth, node = 0, answer
    while "answer" in node:  # every level reports the same refusal upwards
        node, depth = node["answer"], depth + 1
    assert depth == 16 and "hops" in node["error"]
