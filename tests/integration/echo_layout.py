"""The layout most end-to-end tests share: a shop with one instance, an http-echo service of
another account (backend and management subnets on the same CIDR as the shop's), one appliance
of it in the shop's subnet; and a reading of a front-end's rotation straight from the kernel."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane

SCENARIO = """
accounts: [{{name: shop}}, {{name: echoco}}]
networks:
  - {{name: shop-vpc, account: shop, cidr: 10.0.0.0/16, subnets: [{{name: web, cidr: 10.0.1.0/24}}]}}
  - {{name: echo-vpc, account: echoco, cidr: 10.0.0.0/16,
     subnets: [{{name: backend, cidr: 10.0.1.0/24}}, {{name: mgmt, cidr: 10.0.200.0/24}}]}}
services:
  - name: echo
    account: echoco
    workload: http-echo
    port: 8080
    backend_subnet: echo-vpc/backend
    management_subnet: echo-vpc/mgmt{service_extra}
instances:
  - {{name: shopper, account: shop, interfaces: [shop-vpc/web]}}
appliances:
  - {{name: {appliance}, account: shop, service: echo, subnet: shop-vpc/web, backends: {backends}}}
"""


def echo_scenario(appliance: str, backends: int, service_extra: str = "") -> str:
    """The layout with appliance `appliance`; `service_extra` is more YAML for the service
    (e.g. "\\n    autoscale: {...}")."""
    return SCENARIO.format(appliance=appliance, backends=backends, service_extra=service_extra)


def apply_echo(cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory, appliance: str,
               backends: int, service_extra: str = "") -> dict[str, Any]:
    """Apply the layout with the real `facade apply` and return the appliance's view."""
    path = tmp_path_factory.mktemp("scenario") / f"{appliance}.yaml"
    path.write_text(echo_scenario(appliance, backends, service_extra))
    cp.cli("apply", "-f", str(path))
    view: dict[str, Any] = cp.get(f"/v1/appliances/{appliance}")
    return view


def shopper_netns() -> str:
    return next(n for n in nsclient.facade_netns() if n.endswith("-shopper"))


def rotation(fe_netns: str) -> set[str]:
    """The backends of a front-end's map, read with nft in its namespace (not through Facade);
    empty while the table is missing."""
    out = nsclient.run("ip", "netns", "exec", fe_netns, "nft", "-j", "list", "map", "ip",
                       "fcd_fe", "backends", check=False)
    for obj in json.loads(out)["nftables"] if out else []:
        if "map" in obj:
            return {e[1] for e in obj["map"].get("elem", [])}
    return set()
