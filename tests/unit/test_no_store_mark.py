"""The `no_store` mark's check (tests/conftest.py): any use of a store (a connection out of an
engine's pool, SQLite's or PostgreSQL's) is counted by tests/stores.py, and a claim of none
fails once one was used; a run on PostgreSQL leaves marked tests out."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from facade.dataplane.fake import FakeDataPlane
from tests import conftest, stores


def test_a_store_used_is_counted_and_breaks_the_claim(tmp_path: Path) -> None:
    before = stores.uses()
    conftest._unused_since(before, "nothing yet")  # nothing used: no failure
    ctx = stores.open_context(tmp_path / "home", FakeDataPlane())
    try:
        with ctx.read() as session:
            assert session.execute(text("SELECT 1")).scalar() == 1
    finally:
        ctx.engine.dispose()
    assert stores.uses() > before
    with pytest.raises(pytest.fail.Exception, match="here is marked no_store but used a store"):
        conftest._unused_since(before, "here")


def test_a_marked_test_is_left_out_on_postgresql_only(monkeypatch: pytest.MonkeyPatch,
                                                     request: pytest.FixtureRequest) -> None:
    plain = request.node
    item = pytest.Function.from_parent(plain.parent, name=plain.name, callobj=plain.obj)
    item.add_marker(conftest.NO_STORE)
    dropped: list[pytest.Item] = []
    monkeypatch.setattr(request.config.hook, "pytest_deselected",
                        lambda items: dropped.extend(items))
    for store, kept in (("sqlite", [item, plain]), ("postgresql", [plain])):
        monkeypatch.setattr(stores, "STORE", store)
        items = [item, plain]
        conftest.pytest_collection_modifyitems(request.config, items)
        assert items == kept
    assert dropped == [item]
