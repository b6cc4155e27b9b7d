"""The management agent's hub (facade.workloads.agent.hub): many nodes' counters in one signed
request on 127.0.0.1, the namespace step left out (it needs root: the kernel test is
tests/integration/test_agent.py): only a signature for the hub opens it, bad names are a 400
that says why, a node not served, failing or slow is left out with the reason while the others
are answered, and what does not fit in time or size is left for another request."""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from facade.domain import agent_auth
from facade.workloads.agent import hub
from facade.workloads.agent.config import Node, parse_config
from facade.workloads.agent.listeners import Listener

pytestmark = pytest.mark.no_store  # tests/conftest.py

SECRET = secrets.token_hex(32)
NAMES = ("b1", "b2", "fe")


def _listener(name: str) -> Listener:
    node = Node(name, f"fcd-i1-{name}", "10.0.200.3", "frontend" if name == "fe" else "backend",
                None)
    return Listener(node, 9700, socket.socket(), os.open("/dev/null", os.O_RDONLY))


@pytest.fixture
def listeners() -> Iterator[dict[str, Listener]]:
    made = {name: _listener(name) for name in NAMES}
    yield made
    for listener in made.values():
        if not listener.closed:
            listener.close()


@pytest.fixture(autouse=True)
def _counters(monkeypatch: pytest.MonkeyPatch) -> None:
    """A node's counters without its namespace; "bad" nodes fail."""

    def counters(node: Node, ns_fd: int) -> dict[str, Any]:
        os.fstat(ns_fd)  # the hub lent a descriptor of its own
        if node.name.startswith("bad"):
            raise OSError(2, "no such file")
        return {"node": node.name, "counters": {}, "workload": None}

    monkeypatch.setattr(hub, "counters", counters)


def ask(listeners: dict[str, Listener], path: str = "/v1/counters", *,
        auth: str | None = "hub", method: str = "GET",
        signed: str | None = None) -> tuple[int, dict[str, Any]]:
    """One request to a hub serving `listeners`, signed for the hub (or the node `auth`, or
    not at all), for `path` (or `signed`): (status, JSON body)."""
    server = hub.Hub.open(0)
    try:
        client = socket.create_connection(server.sock.getsockname(), timeout=5)
        with client:
            head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            if auth is not None:
                name = agent_auth.HUB if auth == "hub" else auth
                header = agent_auth.sign(SECRET, method, signed or path, name)
                head += f"Authorization: {header}\r\n"
            client.sendall((head + "\r\n").encode())
            time.sleep(0.05)  # the connection waits in the backlog
            server.accept(listeners, SECRET)
            data = b""
            while chunk := client.recv(65536):
                data += chunk
    finally:
        server.close()
    head_bytes, _, body = data.partition(b"\r\n\r\n")
    return int(head_bytes.split(b" ", 2)[1]), json.loads(body)


def test_every_node_in_one_answer(listeners: dict[str, Listener]) -> None:
    status, body = ask(listeners)
    assert status == 200, body
    assert body == {"nodes": {name: {"node": name, "counters": {}, "workload": None}
                              for name in NAMES}, "missing": {}, "more": []}


def test_the_nodes_named_and_one_not_served(listeners: dict[str, Listener]) -> None:
    status, body = ask(listeners, "/v1/counters?nodes=fe,ghost,fe")
    assert status == 200
    assert list(body["nodes"]) == ["fe"] and body["missing"] == {"ghost": "not served"}


def test_a_closed_listener_is_not_served(listeners: dict[str, Listener]) -> None:
    listeners["b2"].close()  # the loop dropped it while the request was on its way
    body = ask(listeners)[1]
    assert set(body["nodes"]) == {"b1", "fe"} and body["missing"] == {"b2": "not served"}


@pytest.mark.parametrize("auth", [None, "b1", "fe"])
def test_only_a_signature_for_the_hub_opens_it(listeners: dict[str, Listener],
                                               auth: str | None) -> None:
    status, body = ask(listeners, auth=auth)
    assert status == 401
    assert body["error"] == ("missing Authorization header" if auth is None
                             else "invalid or expired signature")


def test_a_signature_for_another_path_is_refused(listeners: dict[str, Listener]) -> None:
    # a signature made for every node does not open a list of names, nor the reverse
    assert ask(listeners, "/v1/counters?nodes=b1", signed="/v1/counters")[0] == 401
    assert ask(listeners, "/v1/counters", signed="/v1/counters?nodes=b1")[0] == 401


@pytest.mark.parametrize("query, words", [
    ("nodes=b1,../etc", "bad node name '../etc'"),
    ("nodes=", "bad node name ''"),
    ("nodes=b1,,fe", "bad node name ''"),
    ("other=1", "nodes=NAME"),
    ("nodes=b1&nodes=fe", "nodes=NAME"),
    ("nodes=" + ",".join(f"n{i}" for i in range(hub.MAX_NAMES + 1)), "at most 512 nodes"),
])
def test_bad_names_are_a_400_that_says_why(listeners: dict[str, Listener], query: str,
                                           words: str) -> None:
    status, body = ask(listeners, f"/v1/counters?{query}")
    assert status == 400 and words in body["error"], body


def test_only_counters_and_only_get(listeners: dict[str, Listener]) -> None:
    assert ask(listeners, "/v1/health")[0] == 404
    assert ask(listeners, method="POST")[0] == 405


def test_a_failing_node_is_left_out_with_its_reason(listeners: dict[str, Listener]) -> None:
    listeners["bad1"] = _listener("bad1")
    body = ask(listeners)[1]
    assert set(body["nodes"]) == set(NAMES)
    assert body["missing"] == {"bad1": "no such file or directory"}


def test_a_slow_node_costs_the_deadline_and_the_rest_is_left_for_later(
        listeners: dict[str, Listener], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub, "HUB_DEADLINE_S", 0.3)
    monkeypatch.setattr(hub, "HUB_WORKERS", 1)  # the slow node holds the one reader
    listeners["a-slow"] = _listener("a-slow")  # sorted first: read first
    monkeypatch.setattr(hub, "counters", _slow_first)
    start = time.monotonic()
    status, body = ask(listeners)
    assert status == 200 and time.monotonic() - start < 0.9
    assert body["nodes"] == {} and body["missing"] == {"a-slow": "timed out"}
    assert body["more"] == list(NAMES)  # never started: asked again, nothing spent on them


def _slow_first(node: Node, ns_fd: int) -> dict[str, Any]:
    if node.name == "a-slow":
        time.sleep(1.0)
    return {"node": node.name}


def test_an_answer_stays_within_its_size(listeners: dict[str, Listener],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub, "MAX_ANSWER", 10)  # smaller than any node's answer
    body = ask(listeners)[1]
    assert list(body["nodes"]) == ["b1"]  # the first always: asking again progresses
    assert body["more"] == ["b2", "fe"]


def test_no_node_may_be_named_as_the_hub() -> None:
    node = {"name": agent_auth.HUB, "netns": "x", "mgmt_ip": "10.0.0.1", "role": "backend"}
    config, skipped = parse_config({"secret": SECRET, "port": 9700, "nodes": [node]})
    assert config.nodes == {} and "is the hub's" in skipped[0]
