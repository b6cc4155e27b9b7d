"""Views of the nodes and appliances (controller/quiet_views.py): read many at once (CHUNK of
them, from the one asked for) once the store has been quiet for QUIET seconds, the same as each
one's own read, and never served after a write that touched a row the controller keys on."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from facade.controller import quiet_views
from facade.controller.node_views import read_from, read_one
from facade.controller.quiet_views import QUIET, QuietViews
from facade.service import desired
from facade.store.models import Appliance, Instance
from tests.service.helpers import appliance_body, ok, settle


def test_views_are_read_at_once_while_quiet_and_never_after_a_write(world: Any) -> None:
    world.changed = True
    ok(world.req("POST", "/v1/appliances", token=world.acme, json=appliance_body()), 202)
    settle(world)
    ctx = world.ctx
    now = [1000.0]
    views = QuietViews(ctx, lambda s, first, n: read_from(s, ctx.home, first, n),
                       clock=lambda: now[0])
    with ctx.read() as s:
        ids = list(s.scalars(select(Instance.id)))
        expected = {i: read_one(s, ctx.home, i) for i in ids}
    assert len(ids) == 4 and all(v is not None for v in expected.values())  # client, fe, 2 b
    assert views.get(ids[0]) is None  # the store's generation just seen: not quiet yet
    now[0] += QUIET
    assert {i: views.get(i) for i in ids} == expected  # read at once: the same views
    assert views.get(max(ids) + 100) is None  # no such node

    # an event is no row the controller keys on: the views stay
    with ctx.write() as s:
        ctx.event(s, "test.note", "docs", "nothing that matters to a node")
    assert views.get(ids[0]) == expected[ids[0]]

    # a node's status written: its view is not served again, not even after QUIET...
    backend = next(i for i, v in expected.items() if v is not None and v.role == "backend")
    with ctx.write(track=False) as s:
        row = s.get(Instance, backend)
        assert row is not None
        row.status = "failed"
    assert views.get(backend) is None
    # ...until all are read again, once quiet: with the new status
    now[0] += QUIET
    fresh = views.get(backend)
    assert fresh is not None and fresh.status == "failed"
    with ctx.write(track=False) as s:  # as it was (the guard of the world compares nothing)
        row = s.get(Instance, backend)
        assert row is not None
        row.status = "active"


def test_appliance_views_are_each_appliances_own_target(world: Any) -> None:
    world.changed = True
    for name in ("docs", "wiki"):
        ok(world.req("POST", "/v1/appliances", token=world.acme,
                     json=appliance_body(name=name, backends=1)), 202)
    settle(world)
    ctx = world.ctx
    now = [1000.0]
    views = QuietViews(ctx, lambda s, first, n: desired.appliance_targets(s, ctx.home, first, n),
                       clock=lambda: now[0])
    with ctx.read() as s:
        apps = list(s.scalars(select(Appliance)))
        expected = {a.id: desired.appliance_target(s, ctx.home, a) for a in apps}
    assert views.get(apps[0].id) is None
    now[0] += QUIET
    assert {i: views.get(i) for i in expected} == expected and len(expected) == 2
    ok(world.req("DELETE", "/v1/appliances/wiki", token=world.acme), 202)
    assert all(views.get(i) is None for i in expected)  # a write: read each yourself


def test_views_are_read_a_chunk_at_a_time_from_the_one_asked_for(
        world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never every view in one piece (at 1,000 nodes that was 0.36 s of CPU holding the
    interpreter): CHUNK of them, from the id asked for on, the next chunk when an id beyond
    it is asked for."""
    world.changed = True
    ok(world.req("POST", "/v1/appliances", token=world.acme, json=appliance_body()), 202)
    settle(world)
    ctx = world.ctx
    monkeypatch.setattr(quiet_views, "CHUNK", 2)
    reads: list[tuple[int, list[int]]] = []

    def read(s: Any, first: int, n: int) -> dict[int, Any]:
        got = read_from(s, ctx.home, first, n)
        reads.append((first, sorted(got)))
        return got

    now = [1000.0]
    views = QuietViews(ctx, read, clock=lambda: now[0])
    with ctx.read() as s:
        ids = sorted(s.scalars(select(Instance.id)))
        expected = {i: read_one(s, ctx.home, i) for i in ids}
    assert len(ids) == 4
    assert views.get(ids[0]) is None and reads == []  # not quiet yet
    now[0] += QUIET
    assert views.get(ids[0]) == expected[ids[0]]
    assert views.get(ids[1]) == expected[ids[1]]  # from the same chunk
    assert reads == [(ids[0], ids[:2])]
    assert [views.get(i) for i in ids[2:]] == [expected[i] for i in ids[2:]]
    assert reads == [(ids[0], ids[:2]), (ids[2], ids[2:])]
    assert views.get(ids[-1] + 100) is None  # beyond the last: a short chunk, read to the end
    assert len(reads) == 3 and reads[-1] == (ids[-1] + 100, [])
    assert views.get(ids[-1] + 150) is None and len(reads) == 3  # covered by that short read
