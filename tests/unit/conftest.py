"""Fixtures of the unit tests: fast, and no controller thread (the API with its controller
running is tests/service/): a store on the fake driver, and workload processes on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from facade.dataplane.fake import FakeDataPlane
from facade.service.context import Context
from tests.stores import open_context
from tests.unit.workload_procs import Workloads


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    """A store on the fake driver: the service layer called directly, no controller."""
    c = open_context(tmp_path / "home", FakeDataPlane())
    try:
        yield c
    finally:
        c.engine.dispose()


@pytest.fixture
def workloads(tmp_path: Path) -> Iterator[Workloads]:
    w = Workloads(tmp_path)
    try:
        yield w
    finally:
        w.stop_all()
