"""The `world` fixture's shortcut (tests/service/conftest.py): each test gets a copy of the world
built once per process (tests/worlds.py), not one built afresh. The copy must be what building
gives: the same rows (but what is random or a time: tokens, request ids, timestamps, the hour a
price list starts; and the events' numbers, and those of the controller's own timing), the
same kernel, tokens that work, the same ids handed out next; and the
controller started on it must find nothing to do."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, cast

from facade.controller import Controller
from tests import worlds
from tests.service.helpers import Api, SavedApi, build_world, eventually, ok, running_api, settle

WORKERS_OWN = ("reconcile.", "management.")  # events of the controller's timing
RANDOM = re.compile(r"[0-9a-f]{32}|[0-9a-f]{64}")  # a request id, a token's digest


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return "<time>"
    if isinstance(value, str) and RANDOM.fullmatch(value):
        return "<random>"
    return value


def _alike(rows: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    """The rows, what is random or a time of their making left out."""
    out = {table: [tuple(map(_plain, row)) for row in found] for table, found in rows.items()}
    # a price list starts at the hour it was made in: the saved world's is from the run's start
    out["price_lists"] = [row[:3] + row[4:] for row in out["price_lists"]]
    # two worlds built alike number their events differently (the controller's own land
    # between the API's as they come), and the controller's own differ with its timing (a
    # router made before the service that changes it, or after)
    out["events"] = sorted((row[1:] for row in out["events"]
                            if not row[2].startswith(WORKERS_OWN)), key=repr)
    return out


def _idle(api: Api) -> None:
    """The controller's first pass (every key, queued at its start) done, and the world settled."""
    worker = cast(Controller, api.ctx.kicker)
    eventually(lambda: worker.queue.depth() == 0, what="the controller's first pass")
    settle(api)


def _after_a_write(api: Api) -> dict[str, Any]:
    made = ok(api.req("POST", "/v1/networks", token=api.acme, json={
        "name": "more", "cidr": "10.9.0.0/16",
        "subnets": [{"name": "s", "cidr": "10.9.1.0/24"}]}), 201)
    assert api.ctx.converge()
    return {"made": made, "kernel": worlds.kernel(api.dp)}


def test_a_copied_world_is_one_built_afresh(saved_world: SavedApi, tmp_path: Path) -> None:
    baseline = worlds.copied(saved_world.world, tmp_path / "baseline")
    rows = worlds.rows(baseline)
    baseline.engine.dispose()
    with running_api(tmp_path / "copy", saved_world) as api:
        _idle(api)
        assert worlds.rows(api.ctx) == rows, "the controller wrote to a copied world"
        assert api.dp.calls == saved_world.world.dataplane.calls, \
            "the controller changed the kernel"
        for token in (api.token, api.acme, api.searchco):
            assert ok(api.req("GET", "/v1/networks", token=token))
        copied, kernel = _alike(worlds.rows(api.ctx)), worlds.kernel(api.dp)
        copied_next = _after_a_write(api)
    with running_api(tmp_path / "fresh") as api:
        build_world(api)
        _idle(api)
        assert _alike(worlds.rows(api.ctx)) == copied
        assert worlds.kernel(api.dp) == kernel
        assert _after_a_write(api) == copied_next


def test_the_world_fixture_is_a_copy(world: Api, saved_world: SavedApi) -> None:
    """A test that has `world` runs on a copy (the saved world's tokens), and `api` beside it is
    that same control plane."""
    assert world.token == saved_world.token and world.acme == saved_world.tokens["acme"]
    assert ok(world.req("GET", "/v1/instances/client", token=world.acme))["name"] == "client"


def test_a_test_without_the_world_gets_an_empty_control_plane(api: Api,
                                                               saved_world: SavedApi) -> None:
    assert api.token != saved_world.token
    assert [a["name"] for a in api.items("/v1/accounts")] == ["operator"]
