"""Cross-account interfaces on a real control plane: account xco's instance gets a leg in a
subnet of account yco only once yco granted it, and over that leg it reaches yco's instance
with a real TCP connection; an instance of xco without the leg does not; revoking blocks new
legs (the answer names the instance still using it) and the existing leg keeps working."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane

pytestmark = pytest.mark.root

SCENARIO = """
accounts: [{name: xco}, {name: yco}]
networks:
  - {name: x-vpc, account: xco, cidr: 10.1.0.0/16, subnets: [{name: app, cidr: 10.1.1.0/24}]}
  - {name: y-vpc, account: yco, cidr: 10.2.0.0/16, subnets: [{name: shared, cidr: 10.2.1.0/24}]}
instances:
  - {name: ysrv, account: yco, interfaces: [y-vpc/shared]}
  - {name: xonly, account: xco, interfaces: [x-vpc/app]}
"""
PORT = 7400


@pytest.fixture(scope="module")
def world(cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    path = tmp_path_factory.mktemp("grants") / "grants.yaml"
    path.write_text(SCENARIO)
    cp.cli("apply", "-f", str(path))
    tokens = {a: cp.api("POST", f"/v1/accounts/{a}/tokens").json()["token"]
              for a in ("xco", "yco")}
    ysrv = _show(cp, "ysrv")
    listener = nsclient.ns_socket(ysrv["netns"])
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((ysrv["interfaces"][0]["ip"], PORT))
    listener.listen(16)
    try:
        yield {"tokens": tokens, "ysrv_ip": ysrv["interfaces"][0]["ip"]}
    finally:
        listener.close()


def _show(cp: ControlPlane, name: str) -> dict[str, Any]:
    return cp.wait_for(lambda: (lambda v: v if v["status"] == "active" else None)(
        json.loads(cp.cli("instance", "show", name, "--json").stdout)),
        timeout=20, what=f"{name} active")


def _connect_from(netns: str, source: str, ip: str, port: int) -> bool:
    """A real TCP connection from `source` (an extra interface routes by source address:
    docs/dataplane.md, "Instances and routing") to ip:port."""
    sock = nsclient.ns_socket(netns)
    sock.settimeout(1.0)
    try:
        sock.bind((source, 0))
        sock.connect((ip, port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def _leg(cp: ControlPlane, name: str, token: str) -> Any:
    return cp.api("POST", "/v1/instances", token=token, json={
        "name": name, "interfaces": [{"subnet": "x-vpc/app"}, {"subnet": "y-vpc/shared"}]})


def test_granted_leg_reaches_the_other_accounts_instance(cp: ControlPlane,
                                                         world: dict[str, Any]) -> None:
    x, y = world["tokens"]["xco"], world["tokens"]["yco"]
    # no grant: the same 404 as a subnet that does not exist, and no namespace appears
    refused = _leg(cp, "xleg", x)
    assert refused.status_code == 404, refused.text
    assert not any(n.endswith("xleg") for n in nsclient.facade_netns())

    out = cp.cli("subnet", "grant", "y-vpc/shared", "xco", token=y).stdout
    assert "granted xco" in out
    assert _leg(cp, "xleg", x).status_code == 201
    xleg = _show(cp, "xleg")
    leg_ip = xleg["interfaces"][1]["ip"]
    assert leg_ip.startswith("10.2.1.")
    # the kernel holds that address in xleg's namespace
    assert any(leg_ip in a for a in nsclient.addresses(xleg["netns"]).get("eth1", [])), \
        nsclient.addresses(xleg["netns"])
    assert _connect_from(xleg["netns"], leg_ip, world["ysrv_ip"], PORT)
    # an instance of xco without the leg cannot reach yco's instance
    assert not nsclient.can_connect(_show(cp, "xonly")["netns"], world["ysrv_ip"], PORT)

    listed = json.loads(cp.cli("subnet", "grants", "y-vpc/shared", "--json", token=y).stdout)
    assert [(g["account"], g["used_by"]) for g in listed] == [("xco", ["xleg"])]

    # revoke: the answer names the instance still using it; new legs are refused
    out = cp.cli("subnet", "revoke", "y-vpc/shared", "xco", token=y).stdout
    assert "xleg" in out and "keep working" in out
    assert _leg(cp, "xleg2", x).status_code == 404
    # the existing leg keeps working
    assert _connect_from(xleg["netns"], leg_ip, world["ysrv_ip"], PORT)
    cp.cli("instance", "delete", "xleg")


def test_cli_grant_by_a_non_owner_is_refused(cp: ControlPlane, world: dict[str, Any]) -> None:
    res = cp.cli("subnet", "grant", "y-vpc/shared", "xco", token=world["tokens"]["xco"],
                 check=False)
    assert res.returncode != 0 and "does not exist" in res.stderr, res.stderr
    assert cp.items("/v1/subnets/y-vpc/shared/grants") == []
