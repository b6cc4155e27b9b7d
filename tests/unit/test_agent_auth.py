"""Signing of management-agent requests: `Authorization: Facade-HMAC <ts>:<hex>`."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from facade.domain.agent_auth import SCHEME, WINDOW_S, sign, verify

pytestmark = pytest.mark.no_store  # tests/conftest.py

SECRET = "ab" * 32
OTHER = "cd" * 32
NOW = 1_700_000_000.0


def test_round_trip() -> None:
    header = sign(SECRET, "GET", "/v1/health", "docs-b1", now=NOW)
    assert header.startswith(f"{SCHEME} {int(NOW)}:")
    assert verify(SECRET, header, "GET", "/v1/health", "docs-b1", now=NOW)


def test_round_trip_with_the_real_clock_and_a_query() -> None:
    header = sign(SECRET, "GET", "/v1/counters?x=1", "fe")
    assert verify(SECRET, header, "GET", "/v1/counters?x=1", "fe")


def test_the_mac_is_the_documented_hmac() -> None:
    ts = int(NOW)
    msg = f"{ts}\nGET\n/v1/health\ndocs-b1".encode()
    mac = hmac.new(bytes.fromhex(SECRET), msg, hashlib.sha256).hexdigest()
    assert sign(SECRET, "GET", "/v1/health", "docs-b1", now=NOW) == f"Facade-HMAC {ts}:{mac}"


def test_wrong_secret() -> None:
    header = sign(OTHER, "GET", "/v1/health", "n1", now=NOW)
    assert not verify(SECRET, header, "GET", "/v1/health", "n1", now=NOW)


def test_signed_for_another_node() -> None:
    header = sign(SECRET, "GET", "/v1/health", "n2", now=NOW)
    assert not verify(SECRET, header, "GET", "/v1/health", "n1", now=NOW)


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/v1/health"), ("GET", "/v1/counters"), ("GET", "/v1/health?a=1"), ("get", "/v1/health"),
])
def test_wrong_method_or_path(method: str, path: str) -> None:
    header = sign(SECRET, "GET", "/v1/health", "n1", now=NOW)
    assert not verify(SECRET, header, method, path, "n1", now=NOW)


@pytest.mark.parametrize("skew", [WINDOW_S + 1, -(WINDOW_S + 1), 3600, -3600])
def test_expired_and_future_timestamps(skew: float) -> None:
    header = sign(SECRET, "GET", "/v1/health", "n1", now=NOW + skew)
    assert not verify(SECRET, header, "GET", "/v1/health", "n1", now=NOW)


@pytest.mark.parametrize("skew", [0, WINDOW_S, -WINDOW_S, 5.5])
def test_within_the_window(skew: float) -> None:
    header = sign(SECRET, "GET", "/v1/health", "n1", now=NOW + skew)
    assert verify(SECRET, header, "GET", "/v1/health", "n1", now=NOW)


def _good() -> str:
    return sign(SECRET, "GET", "/v1/health", "n1", now=NOW)


@pytest.mark.parametrize("header", [
    None, "", " ", "Facade-HMAC", "Facade-HMAC ", "Bearer abc",
    "Facade-HMAC 1700000000", "Facade-HMAC :" + "0" * 64,
    "Facade-HMAC 1700000000:", "Facade-HMAC 1700000000:xyz",
    "Facade-HMAC 1700000000:" + "g" * 64, "Facade-HMAC 1700000000:" + "0" * 63,
    "Facade-HMAC -1700000000:" + "0" * 64, "Facade-HMAC 1.7e9:" + "0" * 64,
    "Facade-HMAC ١٧٠٠٠٠٠٠٠٠:" + "0" * 64,  # non-ASCII digits
    "Facade-HMAC 1700000000:" + "é" * 64,
    "Facade-HMAC 99999999999999999999:" + "0" * 64,
    "HMAC " + _good().split(" ", 1)[1],
    _good() + "00", _good()[:-1],
])
def test_malformed_headers(header: str | None) -> None:
    assert not verify(SECRET, header, "GET", "/v1/health", "n1", now=NOW)


def test_a_bad_secret_never_raises() -> None:
    assert not verify("not hex", _good(), "GET", "/v1/health", "n1", now=NOW)


def test_uppercase_hex_is_accepted() -> None:
    scheme, cred = _good().split(" ", 1)
    assert verify(SECRET, f"{scheme} {cred.upper()}", "GET", "/v1/health", "n1", now=NOW)


def test_default_now_is_the_clock() -> None:
    stale = sign(SECRET, "GET", "/v1/health", "n1", now=time.time() - 120)
    assert not verify(SECRET, stale, "GET", "/v1/health", "n1")
