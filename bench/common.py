"""What the benchmarks share: a real control plane (as root) in a temporary state folder with a
layout applied, stopped and cleaned up afterwards whatever happens. Holds the kernel tests'
machine-wide lock meanwhile, so a benchmark and a test run never tear down each other's
namespaces."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.controlplane import (
    ControlPlane,
    cleanup,
    start_control_plane,
    stop_control_plane,
)
from tests.integration.kernel_lock import kernel_lock

__all__ = ["ECHO_LAYOUT", "ControlPlane", "control_plane_with"]

# A customer with one client instance, a provider with an http-echo service whose subnets (/20)
# hold hundreds of nodes: the layout of the benchmarks that make many appliances of one service
ECHO_LAYOUT = """
accounts: [{name: acme}, {name: benchco}]
networks:
  - {name: acme-vpc, account: acme, cidr: 10.0.0.0/16, subnets: [{name: app, cidr: 10.0.0.0/20}]}
  - {name: bench-vpc, account: benchco, cidr: 10.0.0.0/16,
     subnets: [{name: backend, cidr: 10.0.16.0/20}, {name: mgmt, cidr: 10.0.32.0/20}]}
services:
  - {name: echo, account: benchco, workload: http-echo, port: 80,
     backend_subnet: bench-vpc/backend, management_subnet: bench-vpc/mgmt}
instances:
  - {name: client, account: acme, interfaces: [acme-vpc/app]}
"""


@contextmanager
def control_plane_with(layout: str) -> Iterator[ControlPlane]:
    # the machine-wide lock of the kernel tests: `facade cleanup` removes every fcd-* object
    with kernel_lock(), tempfile.TemporaryDirectory(prefix="facade-bench-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        cp = start_control_plane(home)
        try:
            path = Path(tmp) / "layout.yaml"
            path.write_text(layout)
            cp.cli("apply", "-f", str(path), "--timeout", "60")
            yield cp
        finally:
            stop_control_plane(cp)
            cleanup(home, timeout=900)  # a benchmark may leave hundreds of appliances
