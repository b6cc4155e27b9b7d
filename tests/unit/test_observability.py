"""The pieces of observability without a control plane: request ids checked and carried by the
work queue with its keys, the queue's depth by kind, the log formats, `facade up --log-format`
and FACADE_LOG_FORMAT refused when unknown (the service tests drive them through the API:
tests/service/test_observability.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from facade.api import logs, server
from facade.controller.queue import WorkQueue
from facade.domain.errors import Invalid
from facade.domain.keys import Key
from facade.service import request_ids
from facade.service.metrics import health_outcome
from tests.unit.clock import Clock

pytestmark = pytest.mark.no_store  # tests/conftest.py


@pytest.fixture
def rid() -> Iterator[Any]:
    """Set the current request id for the test's duration."""
    tokens: list[Any] = []

    def set_(value: str | None) -> None:
        tokens.append(request_ids.current.set(value))

    yield set_
    for token in reversed(tokens):
        request_ids.current.reset(token)


@pytest.mark.parametrize("value", ["a", "0" * 128, "6f1c-9a:b.c_d/e+f=g@h"])
def test_good_request_ids_are_kept_as_sent(value: str) -> None:
    assert request_ids.check(value) == value


@pytest.mark.parametrize("value", ["", "0" * 129, "a b", "a\nb", "a;b", "<a>", "caf\u00e9"])
def test_bad_request_ids_name_the_header(value: str) -> None:
    with pytest.raises(Invalid) as caught:
        request_ids.check(value)
    assert caught.value.where == "X-Request-ID"


def test_made_request_ids_differ_and_pass_their_own_check() -> None:
    made = {request_ids.new() for _ in range(100)}
    assert len(made) == 100 and all(request_ids.check(m) == m for m in made)


def test_the_queue_hands_a_key_out_with_the_request_it_was_queued_for(rid: Any) -> None:
    clock = Clock()
    q = WorkQueue(clock)
    a, b, c = Key("node", 1), Key("node", 2), Key("appliance", 3)
    rid("req-1")
    q.add([a, b])
    rid("req-2")
    q.add([b])  # touched again by a later request: the later one's
    rid(None)
    q.add([a, c])  # the controller's own touch keeps the request's id
    got = {k: q.origin(k) for k in (q.get(0), q.get(0), q.get(0))}
    assert got == {a: "req-1", b: "req-2", c: None}
    # a retry queued while the worker reconciles for req-1 comes back with it
    rid("req-1")
    q.retry(a)
    rid(None)
    for key in (a, b, c):
        q.done(key)
    assert q.origin(a) is None  # done: forgotten
    clock.t += 1
    assert q.get(0) == a and q.origin(a) == "req-1"


def test_the_queue_counts_its_keys_by_kind_and_state() -> None:
    clock = Clock()
    q = WorkQueue(clock)
    q.add([Key("node", 1), Key("node", 2), Key("subnet", 1)])
    q.add([Key("node", 1)])  # once
    q.add_after(Key("appliance", 1), 5)
    assert q.depth_by_kind() == {("node", "waiting"): 2, ("subnet", "waiting"): 1,
                                 ("appliance", "delayed"): 1}
    key = q.get(0)
    assert key == Key("node", 1)
    assert q.depth_by_kind()[("node", "waiting")] == 1  # held: no longer waiting
    clock.t += 5
    assert [q.get(0) for _ in range(3)] == [Key("node", 2), Key("subnet", 1),
                                            Key("appliance", 1)]
    assert set(q.depth_by_kind().values()) == {0}


def test_health_outcomes() -> None:
    assert health_outcome(True, "HTTP 200") == "pass"
    assert health_outcome(False, "timed out") == "timeout"
    assert health_outcome(False, "agent: timed out") == "timeout"
    assert health_outcome(False, "connection refused") == "fail"


# -- log lines ---------------------------------------------------------------------------------


def _record(msg: str, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            import sys
            info = sys.exc_info()
    return logging.LogRecord("facade.x", logging.WARNING, __file__, 1, msg, ("y",), info)


def test_a_json_line_has_the_request_id_only_when_there_is_one(rid: Any) -> None:
    line = json.loads(logs.JsonFormatter().format(_record("x %s")))
    assert set(line) == {"time", "level", "logger", "message"}
    assert (line["level"], line["logger"], line["message"]) == ("WARNING", "facade.x", "x y")
    rid("r-1")
    line = json.loads(logs.JsonFormatter().format(_record("x\n\"%s\"", exc=True)))
    assert line["request_id"] == "r-1" and line["message"] == "x\n\"y\""
    assert "ValueError: boom" in line["exception"]


def test_a_text_line_ends_with_the_request_id_when_there_is_one(rid: Any) -> None:
    assert logs.TextFormatter().format(_record("x %s")).endswith(" facade.x x y")
    rid("r-2")
    assert logs.TextFormatter().format(_record("x %s")).endswith(" facade.x x y request_id=r-2")


def test_configure_json_makes_every_line_of_the_process_json(capsys: Any) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        logs.configure("json")
        logging.getLogger("uvicorn.error").warning("from a library")
        logging.getLogger("facade.controller").info("ours %d", 1)
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in handlers:
            root.addHandler(h)
        root.setLevel(level)
    # every line JSON; a thread another test left running (a controller of the same worker
    # process) may log beside these two, so they are looked for among the lines
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
    ours = [(x["logger"], x["message"]) for x in lines
            if x["message"] in ("from a library", "ours 1")]
    assert ours == [("uvicorn.error", "from a library"), ("facade.controller", "ours 1")]
    with pytest.raises(ValueError, match="xml"):
        logs.configure("xml")


# -- facade up's option ------------------------------------------------------------------------


def test_an_unknown_log_format_is_refused_naming_where_it_came_from(
        monkeypatch: Any, capsys: Any, tmp_path: Path) -> None:
    monkeypatch.setattr(server.os, "geteuid", lambda: 1000)
    monkeypatch.setenv("FACADE_HOME", str(tmp_path / "home"))
    with pytest.raises(SystemExit) as caught:
        server.main(["--log-format", "xml"])
    assert caught.value.code == 2 and "--log-format" in capsys.readouterr().err
    monkeypatch.setenv("FACADE_LOG_FORMAT", "xml")
    with pytest.raises(SystemExit) as caught:
        server.main([])
    assert caught.value.code == 2 and "FACADE_LOG_FORMAT='xml'" in capsys.readouterr().err
    monkeypatch.setenv("FACADE_LOG_FORMAT", "json")
    with pytest.raises(SystemExit, match="needs root"):  # accepted; then it needs root
        server.main([])
    assert not (tmp_path / "home").exists()
