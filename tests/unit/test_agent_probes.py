"""The management agent's workload probes (facade.workloads.agent.probes) against canned
answers on loopback, the namespace step left out (it needs root): an http check reads the
status only, the built-in workloads' numbers at most 1 KiB, and what is not HTTP, too large or
too slow is a detail, never an exception."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from facade.workloads.agent import probes
from facade.workloads.agent.config import Workload
from tests.unit.canned_http import IP, canned, endless, trickle

pytestmark = pytest.mark.no_store  # tests/conftest.py

T = TypeVar("T")


@pytest.fixture(autouse=True)
def _here(monkeypatch: pytest.MonkeyPatch) -> None:
    def in_namespace(ns_fd: int, fn: Callable[[], T]) -> T:
        return fn()

    monkeypatch.setattr(probes, "in_namespace", in_namespace)


def _check(answer: Any, codes: str = "200-299") -> tuple[dict[str, Any], list[bytes]]:
    with canned(answer) as (port, received):
        result = probes.check_workload(-1, Workload(IP, port, "/health", "http", codes))
    return result, received


def test_an_http_check_sends_a_get_and_judges_the_status() -> None:
    result, received = _check(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert result == {"ok": True, "detail": "HTTP 204"}
    lines = received[0].split(b"\r\n")
    assert lines[0] == b"GET /health HTTP/1.1" and lines[1].startswith(f"Host: {IP}:".encode())
    assert lines[2:] == [b"User-Agent: facade-agent", b"Connection: close", b"", b""]
    result, _ = _check(b"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy")
    assert result == {"ok": False, "detail": "HTTP 503"}


def test_an_http_check_does_not_read_the_body() -> None:
    start = time.monotonic()
    result, _ = _check(endless(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                               b"10000\r\n" + b"x" * 65536 + b"\r\n"))
    assert result == {"ok": True, "detail": "HTTP 200"}
    assert time.monotonic() - start < probes.WORKLOAD_TIMEOUT_S


@pytest.mark.parametrize("answer, detail", [
    (b"", "not an HTTP response"),
    (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP response"),
    (endless(b"HTTP/1.1 200 OK\r\n", b"X: " + b"a" * 1000 + b"\r\n"),
     "answer head larger than 65536 bytes"),
])
def test_what_is_not_an_answer_is_a_detail(answer: Any, detail: str) -> None:
    assert _check(answer)[0] == {"ok": False, "detail": detail}


def test_a_trickling_workload_times_out_within_the_probe_time() -> None:
    slow = trickle(b"HTTP/1.1 200 OK\r\n", b"X: y\r\n", times=40, gap=0.05)
    start = time.monotonic()
    assert _check(slow)[0] == {"ok": False, "detail": "timed out"}
    assert time.monotonic() - start < 2 * probes.WORKLOAD_TIMEOUT_S


def test_workload_stats_read_at_most_a_kilobyte() -> None:
    stats = b'{"requests": 7, "boot": "abc"}'
    with canned(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(stats), stats)) as (
            port, received):
        assert probes.workload_stats(-1, Workload(IP, port, None, stats=True)) == {
            "requests": 7, "boot": "abc"}
    assert received[0].startswith(b"GET /_facade/stats HTTP/1.1\r\n")
    big = b'{"requests": 7, "boot": "' + b"a" * 2000 + b'"}'
    with canned(b"HTTP/1.0 200 OK\r\n\r\n" + big) as (port, _):
        assert probes.workload_stats(-1, Workload(IP, port, None, stats=True)) is None
