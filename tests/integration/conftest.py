"""Fixtures of the end-to-end tests: a real control plane per test module. Teardown stops it
and runs `facade cleanup`, then checks that no fcd-* namespace, no workload process and no new
root-namespace link is left, even when a test failed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.controlplane import ControlPlane
from tests.integration.planes import plane

__all__ = ["ControlPlane"]

# The slowest modules, slowest first (seconds of setup, tests and teardown with two workers
# side by side on the 2-core machine): `make test` hands the kernel tests out a module at a
# time to two workers in collection order (pytest-xdist's --dist loadfile with
# --no-loadscope-reorder), so the long ones start first, on both workers, instead of one of
# them coming last to a worker while the other has nothing left. The other modules follow in
# their usual order; a new module that takes a minute belongs here.
SLOWEST_FIRST = (
    # 6 control planes, about 90 commands: 90 s of CPU; 330-460 s of wall time measured only
    # beside other engineers' suites (load average 20-30), not yet on a quiet machine
    "test_docs_e2e.py",
    "test_crash_e2e.py",  # 70 s
    "test_isolation_property.py",  # 60 s
    "test_lifecycle_e2e.py",  # 50 s
    "test_metering_e2e.py",  # 37 s
    "test_hosts_overlay_e2e.py",  # 40-50 s (two hosts, FRR, a drain and a host's loss)
    "test_security_rules_e2e.py",  # 35 s
    "test_rules_drift_e2e.py",  # 30 s
    "test_chain_e2e.py",  # 30 s
    "test_healing_e2e.py",  # 30 s
    "test_console_e2e.py",  # 35 s (a browser beside the control plane)
    "test_resilience_e2e.py",  # 30 s
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest as was


@pytest.fixture(scope="module")
def cp(request: pytest.FixtureRequest,
       tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """The module's control plane; a module's SERVER_ARGS (options of the server) and
    SERVER_ENV (more of its environment) start it otherwise."""
    with plane(tmp_path_factory, args=getattr(request.module, "SERVER_ARGS", ()),
               env=getattr(request.module, "SERVER_ENV", None)) as started:
        yield started
