"""The tests' PostgreSQL databases are handed on (tests/stores.py, tests/pgreset.py): a
database a test is done with is emptied back to the migrated template, so the next test finds
exactly what a fresh copy holds (no rows but the schema's revision, ids from 1 again); one
whose schema a test changed is dropped, never handed on; one still connected is kept."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from facade.dataplane.fake import FakeDataPlane
from facade.service import accounts, networks
from facade.service.context import Caller, Context
from facade.store import db
from facade.store.models import Host
from tests import stores


def _name(url: str) -> str:
    return url.partition("@/")[2].partition("?")[0]


def _databases() -> set[str]:
    return {row[0] for row in stores.server().admin("SELECT datname FROM pg_database")}


def _contents(url: str) -> tuple[dict[str, int], str, list[int]]:
    """(rows per table, the schema's revision, the next ids of accounts and networks), read
    with SQL of this test's own."""
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
            counts = {t: conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one()
                      for t in tables}
            revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
            ids = [conn.execute(sa.text(f"SELECT nextval('{s}_id_seq')")).scalar_one()
                   for s in ("accounts", "networks")]
            conn.rollback()  # nextval is not undone: this database is dropped afterwards
    finally:
        engine.dispose()
    return counts, revision, ids


@pytest.fixture
def used(tmp_path: Path) -> Iterator[str]:
    """A database a test used (an account, a network with a subnet, events), closed."""
    url = stores.postgresql_url()
    ctx = Context.open(tmp_path, FakeDataPlane(), url)
    accounts.bootstrap_operator(ctx)
    with ctx.write() as s:
        op = Caller(1, "operator", operator=True)
        accounts.new_account(ctx, s, op, "acme")
        networks.new_network(ctx, s, op, "prod", "acme", "10.0.0.0/16",
                             [{"name": "app", "cidr": "10.0.1.0/24"}])
        s.add(Host(name="h1", address="172.31.0.11", state="ready", capacity=5,
                   simulated=True))
    ctx.engine.dispose()
    yield url


def _done_with(url: str) -> None:
    """drop_made, until it took the database of `url`: the server process of a connection
    closed ends a moment after the close, and until then the database counts as in use."""
    deadline = time.monotonic() + 10
    while _name(url) in stores._made and time.monotonic() < deadline:
        stores.drop_made()
        time.sleep(0.02)
    assert _name(url) not in stores._made


def _take(name: str, template: str = stores.TEMPLATE) -> str:
    """The recycled database `name`, out of the pool for good (this test reads its sequences,
    which moves them): dropped at the test's end."""
    stores._free[template].remove(name)
    stores._made.append(name)  # dropped by drop_made, as not recyclable
    return stores.server().url(name)


def test_a_used_database_is_handed_on_as_a_fresh_copy_is(used: str) -> None:
    fresh = stores.postgresql_url(dropped=False)  # made from the template, never recycled
    _done_with(used)
    assert _name(used) in stores._free[stores.TEMPLATE]
    have, want = _contents(_take(_name(used))), _contents(fresh)
    assert have == want
    counts, revision, ids = have
    assert revision == db.head() and ids == [1, 1]
    # the template's own rows: its revision, and the local host migration 0023 makes (the
    # used database's second host is gone)
    assert {t: n for t, n in counts.items() if n} == {"alembic_version": 1, "hosts": 1}
    stores.server().admin(f"DROP DATABASE {_name(fresh)}")


def test_a_database_whose_schema_a_test_changed_is_dropped(used: str) -> None:
    engine = db.make_engine(used)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE extra (id integer)"))
    engine.dispose()
    _done_with(used)
    assert _name(used) not in _databases()
    assert _name(used) not in stores._free[stores.TEMPLATE]


def test_a_database_still_connected_is_neither_handed_on_nor_dropped(used: str) -> None:
    engine = db.make_engine(used)
    with engine.connect() as conn:
        stores.drop_made()
        assert _name(used) in _databases()
        assert _name(used) not in stores._free[stores.TEMPLATE]
        conn.rollback()
    engine.dispose()
    _done_with(used)  # closed now: handed on
    assert _name(used) in stores._free[stores.TEMPLATE]


def test_a_saved_store_is_copied_and_handed_on_as_it_was(tmp_path: Path, used: str) -> None:
    """A store saved as a test's world left it (stores.save: the API fuzzing's seeded world) is
    a template: its copies, made or handed on, hold its rows and hand out its next ids."""
    ctx = Context.open(tmp_path / "seeded", FakeDataPlane(), used)
    with ctx.write() as s:
        accounts.new_account(ctx, s, Caller(1, "operator", operator=True), "searchco")
    saved = stores.save(ctx)
    assert saved.database == _name(used) and saved.file is None
    assert _name(used) not in stores._made  # a template now: neither recycled nor dropped
    fresh = stores.postgresql_url(template=_name(used), dropped=False)
    copy = stores.postgresql_url(template=_name(used))
    other = Context.open(tmp_path / "copy", FakeDataPlane(), copy)
    with other.write() as s:
        accounts.new_account(other, s, Caller(1, "operator", operator=True), "more")
    other.engine.dispose()
    _done_with(copy)
    assert _name(copy) in stores._free[_name(used)]
    have, want = _contents(_take(_name(copy), _name(used))), _contents(fresh)
    assert have == want
    counts, _, ids = have
    assert counts["accounts"] == 3 and counts["networks"] == 1  # operator, acme, searchco
    assert ids == [4, 2]
    stores.server().admin(f"DROP DATABASE {_name(fresh)}")
