"""Fixtures of every test: the PostgreSQL databases made (tests/stores.py) are dropped after
the test that closed them, so a run's hundreds of stores never pile up on the server's disk."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import stores


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
