"""The search workload: three or four real subprocesses on loopback sharing one peers file."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.unit.workload_procs import (
    HTTP_TIMEOUT,
    IP,
    Workloads,
)

pytestmark = pytest.mark.no_store  # tests/conftest.py


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind((IP, 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def addr(port: int) -> str:
    return f"{IP}:{port}"


def write_peers(path: Path, peers: list[str]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"peers": peers}))
    os.replace(tmp, path)  # atomic, as the control plane should do it


def call(
    port: int, method: str, path: str, body: bytes | None = None
) -> tuple[int, http.client.HTTPMessage, Any]:
    conn = http.client.HTTPConnection(IP, port, timeout=HTTP_TIMEOUT)
    try:
        conn.request(method, path, body, {"Content-Type": "application/json"} if body else {})
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    return response.status, response.headers, json.loads(data)


def post(port: int, doc_id: str, text: str) -> dict[str, Any]:
    body = json.dumps({"id": doc_id, "text": text}).encode()
    status, _, reply = call(port, "POST", "/documents", body)
    assert status == 201, reply
    return dict(reply)


def search(port: int, query: str) -> list[str]:
    status, _, reply = call(port, "GET", "/search?q=" + quote(query))
    assert status == 200 and reply["query"] == query, reply
    return list(reply["ids"])


def word() -> str:
    """A token no other test uses, so tests can share one cluster."""
    return "w" + uuid.uuid4().hex[:12]


class Cluster:
    def __init__(self, workloads: Workloads, tmp: Path) -> None:
        self.workloads, self.tmp = workloads, tmp
        self.peers_file = tmp / "peers.json"
        self.ports: dict[str, int] = {}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, port: int) -> subprocess.Popen[bytes]:
        self.ports[name] = port
        self.procs[name] = self.workloads.start(
            "facade.workloads.search", "--name", name, "--ip", IP, "--port", str(port),
            "--data-dir", str(self.tmp / f"data-{name}"), "--peers-file", str(self.peers_file),
        )
        return self.procs[name]


def start_cluster(workloads: Workloads, tmp: Path, names: list[str]) -> Cluster:
    cluster = Cluster(workloads, tmp)
    ports = free_ports(len(names))
    write_peers(cluster.peers_file, [addr(p) for p in ports])  # lists each node itself, too
    for name, port in zip(names, ports, strict=True):
        cluster.start(name, port)
    return cluster


@pytest.fixture(scope="module")
def trio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("trio")
    w = Workloads(tmp)
    try:
        yield start_cluster(w, tmp, ["s-a", "s-b", "s-c"])
    finally:
        w.stop_all()


def test_a_post_is_found_by_every_other_backend_within_one_second(trio: Cluster) -> None:
    a, b, c = (trio.ports[n] for n in ("s-a", "s-b", "s-c"))
    token = word()
    started = time.monotonic()
    reply = post(a, "doc-" + token, f"the quick {token} fox")
    found_at: dict[int, float] = {}
    first_try: dict[int, bool] = {}
    for port in (b, c):
        first_try[port] = True
        while "doc-" + token not in search(port, token):
            first_try[port] = False
            assert time.monotonic() - started < 5.0, f"{port} never found it"
            time.sleep(0.02)
        found_at[port] = time.monotonic() - started
    assert reply["backend"] == "s-a"
    assert sorted(reply["replicated_to"]) == sorted([addr(b), addr(c)]) and reply["failed"] == []
    assert all(first_try.values()), "replication is synchronous: the first query must find it"
    assert max(found_at.values()) < 1.0, f"found after {found_at} s"


def test_every_response_carries_x_backend(trio: Cluster) -> None:
    for name, port in trio.ports.items():
        for method, path, body in [("GET", "/health", None), ("GET", "/search?q=x", None),
                                   ("GET", "/documents/missing", None), ("GET", "/dump", None),
                                   ("GET", "/nope", None), ("POST", "/documents", b"{")]:
            _, headers, _ = call(port, method, path, body)
            assert headers["X-Backend"] == name, (name, path)
        status, _, health = call(port, "GET", "/health")
        assert status == 200 and health["status"] == "ok" and health["backend"] == name
        assert isinstance(health["documents"], int)


def test_all_words_must_match_and_best_match_comes_first(trio: Cluster) -> None:
    a, b, c = (trio.ports[n] for n in ("s-a", "s-b", "s-c"))
    x, y, z = word(), word(), word()
    post(a, "strong-" + x, f"{x} {x} {x} {y}")
    post(b, "weak-" + x, f"{x} {y} {z} " + "filler words that dilute the match " * 20)
    post(c, "only-z-" + x, f"{z} stands alone")
    for port in (a, b, c):
        assert search(port, x) == ["strong-" + x, "weak-" + x]
        assert search(port, f"{x} {z}") == ["weak-" + x]
        assert search(port, f"{z.upper()}  ,, {x}!") == ["weak-" + x]  # case, punctuation
        assert sorted(search(port, z)) == ["only-z-" + x, "weak-" + x]
        assert search(port, f"{x} nosuchword{y}") == []


def test_reposting_an_id_replaces_the_document(trio: Cluster) -> None:
    a, b = trio.ports["s-a"], trio.ports["s-b"]
    old, new, doc_id = word(), word(), "re/post " + word()
    post(a, doc_id, f"{old} version")
    post(b, doc_id, f"{new} version")
    for port in trio.ports.values():
        assert search(port, old) == [] and search(port, new) == [doc_id]
        status, _, doc = call(port, "GET", "/documents/" + quote(doc_id, safe=""))
        assert status == 200 and (doc["id"], doc["text"]) == (doc_id, f"{new} version")


def test_hostile_and_odd_queries_give_200_and_a_list(trio: Cluster) -> None:
    port = trio.ports["s-b"]
    token = word()
    post(port, "uni-" + token, f"Größe café 東京 {token}")
    for query in ['" OR (', "*", "NEAR(a b", "a AND", "^x", "-", "'", "col:x", '"""', "💩",
                  "___", "\x00", "a" * 5000, "OR AND NOT", f"{token} *"]:
        status, _, reply = call(port, "GET", "/search?q=" + quote(query))
        assert status == 200 and isinstance(reply["ids"], list), query
    assert search(port, "café") == ["uni-" + token]
    assert search(port, f"東京 {token}") == ["uni-" + token]
    assert search(port, f"{token} *") == ["uni-" + token]
    assert search(port, "") == []
    assert call(port, "GET", "/search")[2]["ids"] == []


@pytest.mark.parametrize("body", [
    b"", b"{", b"not json", b"[1, 2]", b'"text"', b"{}", b'{"text": "t"}', b'{"id": "x"}',
    b'{"id": "", "text": "t"}', b'{"id": 5, "text": "t"}', b'{"id": "x", "text": 5}',
    b'{"id": "x", "text": null}', b'{"id": "x", "text": "\\ud800"}',
    json.dumps({"id": "x" * 201, "text": "t"}).encode(),
    json.dumps({"id": "x", "text": "t" * (1024 * 1024 + 1)}).encode(),
    b"[" * 100_000,
])
def test_bad_post_bodies_give_400_json(trio: Cluster, body: bytes) -> None:
    status, headers, reply = call(trio.ports["s-a"], "POST", "/documents", body)
    assert status == 400 and headers["Content-Type"] == "application/json"
    assert isinstance(reply["error"], str) and "Traceback" not in reply["error"]


def test_document_lookup_and_dump(trio: Cluster) -> None:
    a, c = trio.ports["s-a"], trio.ports["s-c"]
    doc_id = "lookup " + word()
    post(a, doc_id, "some text")
    status, _, doc = call(c, "GET", "/documents/" + quote(doc_id, safe=""))
    assert status == 200 and (doc["id"], doc["text"]) == (doc_id, "some text")
    assert call(c, "GET", "/documents/" + word())[0] == 404
    _, _, dump = call(c, "GET", "/dump")
    assert {"id": doc_id, "text": "some text"} in dump["documents"]


def test_replicate_stores_without_forwarding(trio: Cluster) -> None:
    a, b = trio.ports["s-a"], trio.ports["s-b"]
    token = word()
    body = json.dumps({"id": "local-" + token, "text": token}).encode()
    assert call(a, "POST", "/replicate", body)[0] == 200
    assert search(a, token) == ["local-" + token]
    assert search(b, token) == []


def test_an_unreachable_peer_does_not_fail_the_post(workloads: Workloads, tmp_path: Path) -> None:
    a_port, b_port, dead_port = free_ports(3)
    with socket.socket() as blackhole:  # accepts connections (backlog) but never answers
        blackhole.bind((IP, 0))
        blackhole.listen(8)
        silent = addr(blackhole.getsockname()[1])
        cluster = Cluster(workloads, tmp_path)
        write_peers(cluster.peers_file, [addr(a_port), addr(b_port), addr(dead_port), silent])
        cluster.start("p-a", a_port)
        cluster.start("p-b", b_port)
        token = word()
        started = time.monotonic()
        reply = post(a_port, "d-" + token, token)
        elapsed = time.monotonic() - started
        assert reply["replicated_to"] == [addr(b_port)]
        assert reply["failed"] == [addr(dead_port), silent]
        assert search(b_port, token) == ["d-" + token]
        assert elapsed < 3.0, f"the POST waited {elapsed:.2f}s for dead peers"


def test_a_node_started_later_catches_up(workloads: Workloads, tmp_path: Path) -> None:
    cluster = start_cluster(workloads, tmp_path, ["c-a", "c-b"])
    a, b = cluster.ports["c-a"], cluster.ports["c-b"]
    token = word()
    for i in range(3):
        post(a if i % 2 else b, f"old-{i}-{token}", f"{token} number {i}")
    d = free_ports(1)[0]
    write_peers(cluster.peers_file, [addr(a), addr(b), addr(d)])
    cluster.start("c-d", d)
    deadline = time.monotonic() + 15.0
    while call(d, "GET", "/health")[2]["documents"] < 3:
        assert time.monotonic() < deadline, "the new node did not catch up"
        time.sleep(0.05)
    assert sorted(search(d, token)) == [f"old-{i}-{token}" for i in range(3)]
    reply = post(b, "new-" + token, f"{token} after scaling")
    assert addr(d) in reply["replicated_to"]
    assert "new-" + token in search(d, token)


def test_sigterm_exits_promptly_and_documents_persist(
    workloads: Workloads, tmp_path: Path
) -> None:
    cluster = Cluster(workloads, tmp_path)
    port = free_ports(1)[0]
    write_peers(cluster.peers_file, [addr(port)])
    proc = cluster.start("t-a", port)
    token = word()
    assert post(port, "p-" + token, token)["failed"] == []
    started = time.monotonic()
    proc.terminate()
    assert proc.wait(10) == 0
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"took {elapsed:.2f}s to exit on SIGTERM"
    cluster.start("t-a", port)
    assert search(port, token) == ["p-" + token]
