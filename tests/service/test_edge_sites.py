"""Customer sites and private channels through the API on the fake data plane (docs/edge.md):
both routers' specs (tunnels with the channel's keys, routes both ways, per-subnet routes),
refusals that change nothing, a public address on a site host, and the scenario file's
`sites` and `vpns` applied, applied again and destroyed (on the kernel:
tests/integration/test_edge_sites_e2e.py)."""

from __future__ import annotations

from typing import Any

from facade.domain import wgkeys
from tests.service.helpers import err, ok


def _net(api: Any, name: str, cidr: str, **extra: Any) -> None:
    ok(api.req("POST", "/v1/networks", json={
        "name": name, "account": "acme", "cidr": cidr, **extra,
        "subnets": [{"name": "app", "cidr": cidr.replace("0.0/16", "1.0/24")},
                    {"name": "dmz", "cidr": cidr.replace("0.0/16", "5.0/24"),
                     "sites": False}]}), 201)


def test_a_channel_gives_both_routers_a_tunnel_with_its_own_keys(api: Any) -> None:
    ok(api.req("POST", "/v1/accounts", json={"name": "acme"}), 201)
    _net(api, "vpc", "10.1.0.0/16")
    site = ok(api.req("POST", "/v1/sites", json={"name": "hq", "account": "acme",
                                                 "cidr": "192.168.0.0/16"}), 201)
    assert site["gateway_ip"] == "198.19.255.254" and site["vpn"] is None
    host = ok(api.req("POST", "/v1/sites/hq/hosts", json={"name": "desk"}), 201)
    assert host["ip"] == "192.168.0.2" and host["site"] == "hq"
    vpn = ok(api.req("POST", "/v1/vpns", json={"name": "link", "network": "vpc",
                                               "site": "hq"}), 201)
    net = ok(api.req("GET", "/v1/networks/vpc"))
    assert net["gateway_ip"] == "198.19.255.253" and not net["public_gateway"]
    assert vpn["network_routes"] == ["192.168.0.0/16"]
    assert vpn["site_routes"] == ["10.1.1.0/24"]  # dmz is kept off the sites
    near, far = api.dp.nodes[net["router"]], api.dp.nodes[site["router"]]
    assert near.gateway is not None and not near.gateway.public  # a private gateway only
    assert far.gateway is not None and far.gateway.public and far.gateway.outbound
    (t1,), (t2,) = near.tunnels, far.tunnels
    assert wgkeys.public_key(t1.private_key) == vpn["network_public_key"] == t2.peer_key
    assert wgkeys.public_key(t2.private_key) == vpn["site_public_key"] == t1.peer_key
    assert t1.preshared_key == t2.preshared_key
    assert t1.endpoint == f"198.19.255.254:{vpn['port']}"
    assert t2.endpoint == f"198.19.255.253:{vpn['port']}"
    assert t1.legs_out and t2.site and t1.snat == "10.1.1.1"
    # a subnet's route to the sites is a setting: the site's routes follow
    ok(api.req("PATCH", "/v1/subnets/vpc/dmz", json={"sites": True}))
    assert api.dp.nodes[site["router"]].tunnels[0].allowed == ("10.1.1.0/24", "10.1.5.0/24")
    assert ok(api.req("GET", "/v1/sites/hq"))["vpn"] == "link"
    # refusals: nothing changes
    _net(api, "other", "192.168.0.0/16")
    said = err(api.req("POST", "/v1/vpns", json={"name": "x", "network": "other",
                                                 "site": "hq"}), 409, where="site")
    assert "link" in said["message"]  # a second channel to the same site
    ok(api.req("POST", "/v1/sites", json={"name": "hq2", "account": "acme",
                                          "cidr": "192.168.0.0/24"}), 201)
    said = err(api.req("POST", "/v1/vpns", json={"name": "x", "network": "other",
                                                 "site": "hq2"}), 409, where="site")
    assert "hq2" in said["message"] and "other" in said["message"]  # overlapping, both named
    said = err(api.req("POST", "/v1/vpns", json={"name": "x", "network": "vpc",
                                                 "site": "hq2"}), 409, where="site")
    assert "site hq " in said["message"]  # overlaps the site already joined to vpc
    err(api.req("POST", "/v1/sites", json={"name": "bad", "account": "acme",
                                           "cidr": "198.18.0.0/24"}), 409, where="cidr")
    err(api.req("POST", "/v1/sites", json={"name": "vpc", "account": "acme",
                                           "cidr": "172.16.0.0/16"}), 409, where="name")
    err(api.req("GET", "/v1/networks/hq"), 404, where="network")
    assert len(ok(api.req("GET", "/v1/vpns"))["items"]) == 1
    # a public address on a site host needs the network's public gateway
    address = ok(api.req("POST", "/v1/public-ips", json={"account": "acme"}), 201)["address"]
    said = err(api.req("POST", f"/v1/public-ips/{address}/associate",
                       json={"site": "hq", "site_address": "192.168.0.2"}), 409, where="site")
    assert "vpc" in said["message"]
    ok(api.req("PATCH", "/v1/networks/vpc", json={"public_gateway": True}))
    err(api.req("POST", f"/v1/public-ips/{address}/associate",
                json={"site": "hq", "site_address": "10.9.9.9"}), 400, where="site_address")
    got = ok(api.req("POST", f"/v1/public-ips/{address}/associate",
                     json={"site": "hq", "site_address": "192.168.0.2"}))
    assert got["associated"]["site"] == "hq"
    assert api.dp.nodes[net["router"]].gateway.nat == ((address, "192.168.0.2"),)
    err(api.req("DELETE", "/v1/vpns/link"), 409, where="vpn")
    ok(api.req("POST", f"/v1/public-ips/{address}/disassociate"))
    ok(api.req("DELETE", "/v1/vpns/link"), 204)
    assert api.dp.nodes[net["router"]].tunnels == ()
    assert api.dp.nodes[site["router"]].tunnels == ()
    ok(api.req("DELETE", "/v1/sites/hq/hosts/desk"), 204)
    ok(api.req("DELETE", "/v1/sites/hq"), 204)
    assert site["router"] not in api.dp.nodes


SITES_YAML = """
accounts: [{name: acme}]
networks:
  - {name: edge-vpc, account: acme, cidr: 10.7.0.0/16, public_gateway: true,
     subnets: [{name: app, cidr: 10.7.1.0/24}, {name: vault, cidr: 10.7.9.0/24, internet: false},
               {name: dmz, cidr: 10.7.5.0/24, sites: false}]}
sites:
  - {name: hq, account: acme, cidr: 192.168.0.0/16, hosts: [{name: desk, ip: 192.168.1.10}]}
vpns:
  - {name: hq-link, network: edge-vpc, site: hq}
public_ips:
  - {account: acme, site: hq, address: 192.168.1.10}
"""


def test_sites_and_vpns_in_a_scenario_file_apply_reapply_and_destroy(api: Any) -> None:
    changes = ok(api.req("POST", "/v1/apply", json={"yaml": SITES_YAML}))["changes"]
    assert {(c["kind"], c["name"], c["action"]) for c in changes} >= {
        ("site", "hq", "created"), ("vpn", "hq-link", "created"),
        ("site host", "desk", "created"), ("public IP", "site hq host 192.168.1.10", "created")}
    assert ok(api.req("GET", "/v1/subnets/edge-vpc/dmz"))["sites"] is False
    again = ok(api.req("POST", "/v1/apply", json={"yaml": SITES_YAML}))["changes"]
    assert {c["action"] for c in again} == {"unchanged"}
    changed = SITES_YAML.replace("sites: false", "sites: true")
    again = ok(api.req("POST", "/v1/apply", json={"yaml": changed}))["changes"]
    assert ("network", "edge-vpc", "updated") in {(c["kind"], c["name"], c["action"])
                                                  for c in again}
    err(api.req("POST", "/v1/apply", json={"yaml": SITES_YAML.replace(
        "site: hq}", "site: nowhere}")}), 409, "nowhere", where="vpn hq-link")
    err(api.req("POST", "/v1/apply", json={"yaml": SITES_YAML + "  - {name: x, network: "
                                           "edge-vpc, site: hq}\n"}), 400)
    done = ok(api.req("POST", "/v1/destroy", json={"yaml": changed}))["changes"]
    assert {(c["kind"], c["action"]) for c in done} >= {("site", "deleted"), ("vpn", "deleted")}
    for path in ("/v1/sites", "/v1/vpns", "/v1/public-ips"):
        assert ok(api.req("GET", path))["items"] == []
