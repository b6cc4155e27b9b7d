"""Fixtures of the unit tests that need more than the control plane of tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.workload_procs import Workloads


@pytest.fixture
def workloads(tmp_path: Path) -> Iterator[Workloads]:
    w = Workloads(tmp_path)
    try:
        yield w
    finally:
        w.stop_all()
