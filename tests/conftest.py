"""Fixtures of every test: the PostgreSQL databases made (tests/stores.py) are dropped after
the test that closed them, so a run's hundreds of stores never pile up on the server's disk.

And the `no_store` marker: a test module that never opens a store (pure functions, the CLI's
parsing, workloads) runs the same whatever FACADE_TEST_STORE says, so the run on PostgreSQL
leaves it out (deselected, counted in pytest's summary). The mark is checked wherever the
module runs (on SQLite in `make test`): a marked module, or marked test, that uses a store
(a connection out of any engine's pool, a PostgreSQL database asked for: tests/stores.py's
`uses`) fails, naming the mark to take off.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import stores

NO_STORE = "no_store"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{NO_STORE}: never opens a store (the run on PostgreSQL "
                            "leaves it out; tests/conftest.py checks the claim)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if stores.STORE != "postgresql":
        return
    left_out = [item for item in items if item.get_closest_marker(NO_STORE)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not item.get_closest_marker(NO_STORE)]


def _unused_since(before: int, where: str) -> None:
    used = stores.uses() - before
    if used:
        pytest.fail(f"{where} is marked {NO_STORE} but used a store ({used} connections or "
                    f"databases): take the mark off", pytrace=False)


def _no_store_kept(request: pytest.FixtureRequest) -> Iterator[None]:
    """What `request`'s node (a module or a test) did, checked if it is marked `no_store`."""
    marked = request.node.get_closest_marker(NO_STORE) is not None
    before = stores.uses()
    yield
    if marked:
        _unused_since(before, request.node.nodeid)


@pytest.fixture(autouse=True, scope="module")
def _no_store_module(request: pytest.FixtureRequest) -> Iterator[None]:
    """A module marked `no_store` used no store from its first fixture to its last test."""
    yield from _no_store_kept(request)


@pytest.fixture(autouse=True)
def _no_store_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test marked `no_store` on its own used no store."""
    yield from _no_store_kept(request)


@pytest.fixture(autouse=True)
def _drop_postgresql_stores() -> Iterator[None]:
    yield
    stores.drop_made()


@pytest.fixture
def postgresql_url() -> str:
    """A new, empty PostgreSQL store at the newest revision (whatever FACADE_TEST_STORE is)."""
    return stores.postgresql_url()


@pytest.fixture
def empty_postgresql_url() -> str:
    """A new PostgreSQL database with no schema at all (for the migrations)."""
    return stores.postgresql_url(migrated=False)
