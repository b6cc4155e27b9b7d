"""What the overlay's modules decide without a kernel: the FRR configuration Facade writes for a
host and for the route reflector (frr.py), the daemons' command lines keeping every file in
Facade's folder, the names of hosts, segments and nodes and their limits (substrate.py,
overlay.py), and the gratuitous ARP a node announces itself with (read back field by field)."""

from __future__ import annotations

import ipaddress
import socket
import struct
from pathlib import Path

import pytest

from facade.dataplane.linux import frr, overlay, simhosts, substrate
from facade.domain import names

pytestmark = pytest.mark.no_store  # tests/conftest.py


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def test_a_host_peers_with_the_reflector_for_evpn_only() -> None:
    conf = lines(frr.host_bgpd_conf("h1", "172.31.0.11", "172.31.0.1"))
    assert "router bgp 65000" in conf and "bgp router-id 172.31.0.11" in conf
    assert "no bgp default ipv4-unicast" in conf  # no IPv4 unicast session at all
    assert "neighbor 172.31.0.1 remote-as 65000" in conf  # iBGP
    evpn = conf[conf.index("address-family l2vpn evpn"):conf.index("exit-address-family")]
    assert "neighbor 172.31.0.1 activate" in evpn and "advertise-all-vni" in evpn
    assert f"timers bgp {frr.KEEPALIVE} {frr.HOLD}" in conf and frr.HOLD <= 3


def test_the_reflector_takes_any_host_of_the_underlay() -> None:
    conf = lines(frr.reflector_bgpd_conf("reflector", "172.31.0.1", "172.31.0.0/24"))
    assert "bgp listen range 172.31.0.0/24 peer-group hosts" in conf
    evpn = conf[conf.index("address-family l2vpn evpn"):conf.index("exit-address-family")]
    assert evpn[1:] == ["neighbor hosts activate", "neighbor hosts route-reflector-client"]
    assert not any("advertise-all-vni" in line for line in conf)  # it holds no VNI


def test_every_file_of_a_daemon_is_in_the_instance_folder(tmp_path: Path) -> None:
    inst = frr.Instance("fcd-h-h1", "fcd-h-h1", tmp_path / "h1")
    argv = frr.argv(inst, "bgpd")
    assert argv[:2] == ["/usr/lib/frr/bgpd", "-d"]
    assert argv[argv.index("-N") + 1] == "fcd-h-h1"  # what cleanup finds it by
    for flag in ("-f", "-i", "--vty_socket", "-z"):
        assert Path(argv[argv.index(flag) + 1]).is_relative_to(tmp_path / "h1"), flag
    assert argv[argv.index("--log") + 1] == f"file:{tmp_path / 'h1' / 'bgpd.log'}"
    assert argv[argv.index("-P") + 1] == "0"  # no TCP vty
    assert not any("/etc/frr" in a for a in argv)


def test_config_files_are_written_with_their_folders(tmp_path: Path) -> None:
    inst = frr.Instance("fcd-h-h1", "fcd-h-h1", tmp_path / "h1")
    frr.write_config(inst, {"zebra": frr.zebra_conf("h1")})
    assert inst.conf("zebra").read_text() == "hostname h1\n"
    assert (inst.root / "tmp").is_dir() and (inst.root / "run" / "frr").is_dir()


def test_names_of_the_substrate_hosts_segments_and_nodes() -> None:
    assert substrate.host_netns("h1") == "fcd-h-h1"
    assert names.is_facade_netns(substrate.SUBSTRATE) and names.is_facade_netns("fcd-h-h1")
    assert substrate.is_overlay_netns("fcd-h-h1") and substrate.is_overlay_netns("fcd-rr")
    assert not substrate.is_overlay_netns("fcd-i3-web") and not substrate.is_overlay_netns(
        "fcd-fabric")
    assert (overlay.segment_bridge(100), overlay.segment_vxlan(100)) == ("br100", "vx100")
    assert overlay.node_netns("a1") == "fcd-n-a1" and overlay.is_node_netns("fcd-n-a1")
    assert overlay.node_netns("be-remote") == "fcd-n-be-remote"
    assert len("n-" + "a" * overlay.MAX_NODE_NAME) == names.IFNAMSIZ
    longest = "h" * substrate.MAX_HOST_NAME
    assert len(substrate.PORT_PREFIX + longest) == names.IFNAMSIZ
    assert len(overlay.segment_vxlan(overlay.MAX_VNI)) <= names.IFNAMSIZ


@pytest.mark.parametrize("bad", ["", "H1", "1h", "h-", "h_1", "h" * (substrate.MAX_HOST_NAME + 1)])
def test_a_bad_host_name_is_refused_naming_it(bad: str) -> None:
    with pytest.raises(ValueError, match=f"host name {bad!r} must be"):
        substrate.host_netns(bad)


@pytest.mark.parametrize("vni", [0, -1, 2**24])
def test_a_vni_out_of_range_is_refused(vni: int) -> None:
    with pytest.raises(ValueError, match=f"a VNI is 1-16777215, not {vni}"):
        overlay.segment_bridge(vni)


@pytest.mark.parametrize("bad", ["", "A1", "a_1", "1a", "a-", "é", "a" * 14])
def test_a_bad_node_name_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="node name"):
        overlay.node_netns(bad)


def test_the_gratuitous_arp_announces_the_node() -> None:
    frame = overlay.garp("02:00:00:64:00:01", "10.0.0.1")
    dst, src, ethertype = frame[:6], frame[6:12], struct.unpack("!H", frame[12:14])[0]
    assert dst == b"\xff" * 6 and src == bytes.fromhex("020000640001") and ethertype == 0x0806
    htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", frame[14:22])
    assert (htype, ptype, hlen, plen, op) == (1, 0x0800, 6, 4, 1)
    sha, spa, tha, tpa = frame[22:28], frame[28:32], frame[32:38], frame[38:42]
    assert sha == src and tha == b"\x00" * 6
    assert socket.inet_ntoa(spa) == socket.inet_ntoa(tpa) == "10.0.0.1"


def test_hosts_get_underlay_addresses_after_the_reflector(tmp_path: Path) -> None:
    sim = simhosts.SimulatedHosts(tmp_path)
    assert sim.reflector_ip == ipaddress.IPv4Interface("172.31.0.1/24")
    assert sim.root == tmp_path / "overlay" / "frr"


def test_an_unknown_host_is_named_with_the_ones_there_are(tmp_path: Path) -> None:
    sim = simhosts.SimulatedHosts(tmp_path)
    with pytest.raises(ValueError, match=r"no host h9 \(hosts: none\)"):
        sim.add_node("h9", 100, "a1", "02:00:00:64:00:01", "10.0.0.1/24")
    with pytest.raises(ValueError, match="no host h9"):
        sim.remove_host("h9")


@pytest.mark.parametrize("bad", ["", "02:00:00:00:00", "02:00:00:00:00:0g", "0200.0000.0001",
                                 "01:00:5e:00:00:01", "02:00:00:00:00:001"])
def test_a_bad_mac_is_refused_naming_it(bad: str) -> None:
    with pytest.raises(ValueError, match=f"MAC {bad!r} must be six hex octets"):
        overlay.check_mac(bad)
    assert overlay.check_mac("02:00:00:64:00:0A") == "02:00:00:64:00:0a"
