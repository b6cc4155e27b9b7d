"""The workloads' HTTP/1.1 wire format (facade.workloads._http1): request heads, and the URL
helpers that stand in for urllib.parse, checked against urllib.parse itself."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from facade.workloads._http1 import (
    HttpError,
    head_end,
    http_date,
    parse_query,
    parse_request_head,
    parse_response_head,
    wants_close,
)
from facade.workloads._http1 import unquote as our_unquote

pytestmark = pytest.mark.no_store  # tests/conftest.py

URL_CHARS = st.text(alphabet=st.sampled_from("abcXYZ019%+=&;/?#~-_.é東 "), max_size=40)


@given(URL_CHARS)
def test_unquote_is_urllibs(text: str) -> None:
    assert our_unquote(text) == unquote(text)


@given(URL_CHARS)
def test_parse_query_is_urllibs_parse_qs(query: str) -> None:
    assert parse_query(query) == parse_qs(query)


def test_percent_escapes_of_invalid_utf8_are_replaced() -> None:
    assert our_unquote("a%ffb%e6%9d%b1%e4%ba%ac%2") == unquote("a%ffb%e6%9d%b1%e4%ba%ac%2")


@pytest.mark.parametrize("buf, end", [
    (b"GET / HTTP/1.1\r\n\r\n", 18), (b"GET / HTTP/1.1\n\n", 16),
    (b"GET / HTTP/1.1\r\nA: b\n\r\nbody", 23), (b"GET / HTTP/1.1\r\nA: b\r\n", -1),
    (b"GET / HTTP/1.1\r\n\r", -1),
])
def test_head_end(buf: bytes, end: int) -> None:
    assert head_end(buf) == end


def test_a_request_head_parsed() -> None:
    method, target, version, fields = parse_request_head(
        b"POST https://h.example:8080/p/q?x=1 HTTP/1.0\r\nHost: h\r\nX-A: 1\r\n"
        b"x-a:  2 \r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n")
    assert (method, target, version) == ("POST", "/p/q?x=1", "HTTP/1.0")
    assert fields == {"host": "h", "x-a": "1, 2", "content-length": "3"}
    assert wants_close(version, fields) and not wants_close("HTTP/1.1", fields)
    assert wants_close("HTTP/1.1", {"connection": "Upgrade, Close"})
    assert not wants_close("HTTP/1.0", {"connection": "keep-alive"})


def test_header_values_are_latin1_and_errors_carry_a_status() -> None:
    fields = parse_request_head(b"GET / HTTP/1.1\r\nX: caf\xe9\r\n\r\n")[3]
    assert fields["x"] == "caf\xe9"
    with pytest.raises(HttpError) as err:
        parse_request_head(b"GET / HTTP/3\r\n\r\n")
    assert err.value.status == 400


def test_response_heads_and_dates() -> None:
    assert parse_response_head(b"HTTP/1.1 508 Loop Detected\r\nX-Backend: n\r\n\r\n") == (
        508, {"x-backend": "n"})
    assert parse_response_head(b"HTTP/1.0 200\r\n\r\n") == (200, {})
    with pytest.raises(ValueError):
        parse_response_head(b"SSH-2.0-OpenSSH\r\n\r\n")
    assert http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert http_date(1_700_000_000) == "Tue, 14 Nov 2023 22:13:20 GMT"
