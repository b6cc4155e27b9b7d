"""The raw netlink requests of a node's look and deletion (rawlink.py, linkcount.outliving)
against the kernel, checked through `ip -j`: the same links, aliases, peers and addresses,
a neighbour entry removed, a link's end waited for."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from facade.dataplane.linux import linkcount, rawlink
from facade.dataplane.linux import netns as ns
from tests.integration.driver_fixtures import driver_json, needs_root
from tests.integration.kernel_lock import kernel_lock

pytestmark = [pytest.mark.root, needs_root]

A, B = "fcd-rawt-a", "fcd-rawt-b"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def pair() -> Iterator[None]:
    with kernel_lock():
        try:
            _ip("netns", "add", A)
            _ip("netns", "add", B)
            _ip("-n", A, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", B)
            _ip("-n", A, "link", "add", "d0", "type", "veth", "peer", "name", "d1")
            _ip("-n", A, "addr", "add", "10.9.0.1/24", "dev", "va")
            _ip("-n", A, "addr", "add", "10.9.1.1/28", "dev", "d0")
            _ip("-n", A, "link", "set", "va", "up")
            _ip("-n", A, "link", "add", "br0", "type", "bridge")
            _ip("-n", A, "link", "set", "d1", "master", "br0")
            _ip("-n", A, "link", "set", "lo", "alias", "facade:abc fe:123")
            _ip("-n", B, "link", "set", "vb", "alias", f"facade-nb {A} va 10.9.0.2")
            _ip("-n", A, "neigh", "replace", "10.9.0.7", "lladdr", "02:00:00:00:00:07",
                "dev", "va", "nud", "permanent")
            yield
        finally:
            for name in (A, B):
                subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_links_and_addresses_as_ip_lists_them(pair: None) -> None:
    with rawlink.Netlink(A) as nl:
        links = {link.name: link for link in nl.links()}
        addrs = set(nl.addresses())
    listed = {lk["ifname"]: lk for lk in driver_json("ip", "-n", A, "-j", "-d", "link")}
    assert set(links) == set(listed) == {"lo", "va", "d0", "d1", "br0"}
    for name, link in links.items():
        assert link.index == listed[name]["ifindex"]
        assert link.kind == listed[name].get("linkinfo", {}).get("info_kind")
        assert link.alias == listed[name].get("ifalias")
    assert links["va"].peer_elsewhere and not links["d0"].peer_elsewhere  # its peer is here
    peer_index = driver_json("ip", "-n", B, "-j", "link", "show", "vb")[0]["ifindex"]
    assert links["va"].peer == peer_index
    assert links["lo"].alias == "facade:abc fe:123"
    for name, link in links.items():  # what ensure_ports reads: up, MAC, bridge
        assert link.up == ("UP" in listed[name]["flags"])
        assert link.mac == listed[name]["address"]
        assert link.master == (links[listed[name]["master"]].index
                               if "master" in listed[name] else None)
    assert links["va"].up and not links["d0"].up and links["d1"].master == links["br0"].index
    by_index = {link.index: name for name, link in links.items()}
    shown = {(lk["ifname"], f"{a['local']}/{a['prefixlen']}")
             for lk in driver_json("ip", "-n", A, "-j", "addr")
             for a in lk.get("addr_info", []) if a["family"] == "inet"}
    assert {(by_index[i], a) for i, a in addrs} == shown
    assert ("va", "10.9.0.1/24") in shown and ("d0", "10.9.1.1/28") in shown


def test_one_link_by_name_or_index_and_none_when_gone(pair: None) -> None:
    with rawlink.Netlink(B) as nl:
        vb = nl.link(name="vb")
        assert vb is not None and vb.alias == f"facade-nb {A} va 10.9.0.2"
        assert nl.link(vb.index) == vb
        assert nl.link(name="nope") is None
        assert nl.link(99999) is None
    with pytest.raises(ns.NamespaceMissing):
        rawlink.Netlink("fcd-rawt-none")


def test_neighbour_deleted_once_and_again_without_error(pair: None) -> None:
    def entries() -> set[str]:
        return {n["dst"] for n in driver_json("ip", "-n", A, "-j", "neigh", "show", "dev", "va")}

    assert "10.9.0.7" in entries()
    with rawlink.Netlink(A) as nl:
        va = nl.link(name="va")
        assert va is not None
        nl.delete_neighbour(va.index, "10.9.0.7")
        nl.delete_neighbour(va.index, "10.9.0.7")  # gone already: nothing to do
    assert "10.9.0.7" not in entries()


def test_neighbour_replaced_permanent_and_false_when_the_link_is_gone(pair: None) -> None:
    def entries() -> dict[str, tuple[str, list[str]]]:
        return {n["dst"]: (n.get("lladdr"), n.get("state", []))
                for n in driver_json("ip", "-n", A, "-j", "neigh", "show", "dev", "va")}

    with rawlink.Netlink(A) as nl:
        va = nl.link(name="va")
        assert va is not None
        assert nl.replace_neighbour(va.index, "10.9.0.8", "02:00:0a:09:00:08")
        assert nl.replace_neighbour(va.index, "10.9.0.7", "02:00:0a:09:00:77")  # replaced
        assert not nl.replace_neighbour(99999, "10.9.0.9", "02:00:0a:09:00:09")
    seen = entries()
    assert seen["10.9.0.8"] == ("02:00:0a:09:00:08", ["PERMANENT"])
    assert seen["10.9.0.7"] == ("02:00:0a:09:00:77", ["PERMANENT"])
    assert "10.9.0.9" not in seen


def test_outliving_waits_for_a_link_to_go_with_its_peers_namespace(pair: None) -> None:
    with rawlink.Netlink(A) as nl:
        va = nl.link(name="va")
        lo = nl.link(name="lo")
    assert va is not None and lo is not None
    assert linkcount.outliving(A, [va.index, lo.index], 0.05) == [va.index, lo.index]
    _ip("netns", "del", B)  # nothing else holds it: the kernel destroys it, vb and va with it
    assert linkcount.outliving(A, [va.index], 5.0) == []
    listed = {lk["ifname"] for lk in driver_json("ip", "-n", A, "-j", "link")}
    assert listed == {"lo", "d0", "d1", "br0"}
