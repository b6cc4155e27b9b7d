"""Node replacement on the kernel: a backend whose workload hangs (SIGSTOP) leaves the rotation
within 3 s and is replaced by a new node (new name and address); the appliance is back to its
desired size within 10 s, the hung node's namespace and process are gone, and the customer's
endpoint never changed."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane
from tests.integration.echo_layout import apply_echo, rotation

pytestmark = pytest.mark.root

@pytest.fixture(scope="module")
def app(cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return apply_echo(cp, tmp_path_factory, "heal1", 2)


def test_a_hung_backend_is_replaced(cp: ControlPlane, app: dict[str, Any]) -> None:
    fe = app["frontend"]["netns"]
    hung = app["backends"][0]
    keep = app["backends"][1]
    hung_ip = hung["interfaces"][0]["ip"]
    assert rotation(fe) == {b["interfaces"][0]["ip"] for b in app["backends"]}
    time.sleep(11)  # past the start-up grace: young nodes are not replaced
    (pid,) = nsclient.processes_mentioning(f"--name {hung['name']} ")
    stopped = time.monotonic()
    os.kill(pid, signal.SIGSTOP)
    try:
        cp.wait_for(lambda: hung_ip not in rotation(fe), timeout=3, what="out of rotation")
        left = time.monotonic() - stopped
        assert left <= 3.0

        def replaced() -> dict[str, Any] | None:
            view = cp.get("/v1/appliances/heal1")
            names = {b["name"] for b in view["backends"]}
            now = rotation(fe)
            if (hung["name"] not in names and len(names) == 2 and keep["name"] in names
                    and len(now) == 2 and hung_ip not in now
                    and view["status"] == "ready"):
                return view
            return None

        view = cp.wait_for(replaced, timeout=10 - (time.monotonic() - stopped),
                           what="a replacement in rotation")
        restored = time.monotonic() - stopped
        print(f"\nhung backend out of rotation after {left:.2f} s, "
              f"desired size restored after {restored:.2f} s")
    finally:
        if nsclient.processes_mentioning(f"--name {hung['name']} "):
            os.kill(pid, signal.SIGCONT)
    assert view["endpoint"] == app["endpoint"]  # the customer's side never changed
    new = next(b for b in view["backends"] if b["name"] != keep["name"])
    assert new["interfaces"][0]["ip"] != hung_ip
    cp.wait_for(lambda: hung["netns"] not in nsclient.facade_netns()
                and not nsclient.processes_mentioning(f"--name {hung['name']} "),
                timeout=10, what="the hung node gone")
    events = [e for e in cp.events()
              if e["kind"] == "appliance.node_replaced"]
    assert any(hung["name"] in e["message"] and new["name"] in e["message"] for e in events)
    # the customer's requests reach both backends
    shopper = next(n for n in nsclient.facade_netns() if n.endswith("-shopper"))
    seen = set()
    for _ in range(20):
        status, headers, _body = nsclient.http(shopper, app["endpoint"]["ip"], 8080)
        assert status == 200
        seen.add(headers["x-backend"])
        if len(seen) == 2:
            break
    assert seen == {keep["name"], new["name"]}
