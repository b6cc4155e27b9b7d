"""Names per account on the kernel: acme and evil both have a network `prod` (subnets app,
backend, mgmt), a service `search`, an instance `web` and an appliance `docs`, all made by
one file the operator applies. Both appliances become ready; each customer's `web` reaches
its own `docs` (a real connection, answered by that account's backend, read from the address
the backend answered on) and not the other's; deleting evil's `docs` leaves acme's working.

The two networks use different ranges so that "the other's endpoint" is an address a
connection could try; the names are the same everywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane

pytestmark = pytest.mark.root
TENANTS = {"acme": "10.0", "evil": "10.1"}
FILE = "accounts: [{name: acme}, {name: evil}]\nnetworks:\n" + "".join(
    f"  - {{name: prod, account: {a}, cidr: {n}.0.0/16, subnets: [{{name: app, cidr: "
    f"{n}.1.0/24}}, {{name: backend, cidr: {n}.2.0/24}}, {{name: mgmt, cidr: {n}.3.0/24}}]}}\n"
    for a, n in TENANTS.items()) + "services:\n" + "".join(
    f"  - {{name: search, account: {a}, workload: http-echo, port: 80, "
    "backend_subnet: prod/backend, management_subnet: prod/mgmt}\n"
    for a in TENANTS) + "instances:\n" + "".join(
    f"  - {{name: web, account: {a}, interfaces: [prod/app]}}\n"
    for a in TENANTS) + "appliances:\n" + "".join(
    f"  - {{name: docs, account: {a}, service: {a}/search, subnet: prod/app}}\n"
    for a in TENANTS)


def _get(cp: ControlPlane, path: str) -> Any:
    r = cp.api("GET", path)
    assert r.status_code == 200, r.text
    return r.json()


def _whoami(netns: str, ip: str) -> dict[str, Any]:
    status, _, body = nsclient.http(netns, ip, 80, "GET", "/whoami", timeout=5)
    assert status == 200, body
    answer: dict[str, Any] = json.loads(body)
    return answer


def test_two_accounts_with_the_same_names_each_reach_their_own(
        cp: ControlPlane, tmp_path: Path) -> None:
    file = tmp_path / "twins.yaml"
    file.write_text(FILE)
    res = cp.cli("apply", "-f", str(file), timeout=120)
    assert res.stdout.count("docs ready at") == 2, res.stdout
    seen = {}
    for a, net in TENANTS.items():
        app = _get(cp, f"/v1/appliances/docs?account={a}")
        assert app["status"] == "ready" and app["account"] == a
        web = _get(cp, f"/v1/instances/web?account={a}")
        seen[a] = (web["netns"], app["endpoint"]["ip"])
        assert app["endpoint"]["ip"].startswith(f"{net}.1.")
    for a, net in TENANTS.items():
        netns, endpoint = seen[a]
        answer = _whoami(netns, endpoint)
        assert answer["node"] == "docs-b1" and answer["server"].startswith(f"{net}.2."), answer
        other = seen["evil" if a == "acme" else "acme"][1]
        assert nsclient.connect_outcome(netns, other, 80, 1.0) != "connected", (a, other)
    cp.cli("appliance", "delete", "evil/docs", timeout=60)
    assert cp.api("GET", "/v1/appliances/docs?account=evil").status_code == 404
    netns, endpoint = seen["acme"]
    assert _whoami(netns, endpoint)["server"].startswith("10.0.2.")
