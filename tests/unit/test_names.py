"""domain.names: user names, and deterministic kernel names that fit the kernel's limits."""

from __future__ import annotations

import pytest

from facade.domain import names
from facade.domain.errors import Invalid

pytestmark = pytest.mark.no_store  # tests/conftest.py


@pytest.mark.parametrize("name", ["a", "ab", "acme", "acme-vpc", "x1", "a" * 40, "a-1-b"])
def test_check_name_accepts(name: str) -> None:
    assert names.check_name(name, kind="network") == name


@pytest.mark.parametrize("name", [
    "", "A", "Acme", "1abc", "-abc", "abc-", "a_b", "a.b", "a b", "a/b", "a" * 41, "é", None,
    3, "abc\n"])
def test_check_name_rejects(name: object) -> None:
    with pytest.raises(Invalid) as exc:
        names.check_name(name, kind="network", where="name")
    assert exc.value.status == 400
    assert exc.value.where == "name"
    assert "network name" in exc.value.message and "1-40" in exc.value.message


def test_check_name_where_defaults_to_kind() -> None:
    with pytest.raises(Invalid) as exc:
        names.check_name("Bad", kind="subnet")
    assert exc.value.where == "subnet"


@pytest.mark.parametrize("ident", [1, 42, 99_999, 10**9, 99_999_999_999])
def test_link_names_fit_ifnamsiz(ident: int) -> None:
    for make in (names.bridge, names.port, names.router_port):
        link = make(ident)
        assert len(link.encode()) <= names.IFNAMSIZ
        assert names.is_facade_link(link)
        assert link.startswith(names.LINK_PREFIX)
        assert make(ident) == link  # deterministic


def test_link_names_distinct_per_kind_and_id() -> None:
    made = {f(i) for f in (names.bridge, names.port, names.router_port) for i in range(1, 200)}
    assert len(made) == 3 * 199


def test_link_name_that_cannot_fit_is_refused_not_truncated() -> None:
    with pytest.raises(ValueError, match="15 bytes"):
        names.bridge(10**12)


def test_netns_names() -> None:
    assert names.router_netns(7) == "fcd-r7"
    assert names.node_netns(3, "client") == "fcd-i3-client"
    assert names.node_netns(3, "client") == names.node_netns(3, "client")
    assert names.node_netns(3, "client") != names.node_netns(4, "client")
    for ns in (names.router_netns(7), names.node_netns(3, "client"), names.FABRIC_NETNS):
        assert names.is_facade_netns(ns)
    assert not names.is_facade_netns("default")
    assert not names.is_facade_link("eth0")


def test_inner_and_router_ifnames() -> None:
    assert [names.inner_ifname(i) for i in range(3)] == ["eth0", "eth1", "eth2"]
    assert names.router_ifname(12) == "s12"


def test_mac_is_local_unicast_and_derived_from_subnet_and_address() -> None:
    mac = names.mac(7, "10.0.1.3")
    assert mac == "02:07:0a:00:01:03"
    assert int(mac.split(":")[0], 16) & 0x03 == 0x02  # locally administered, unicast
    assert names.mac(7, "10.0.1.3") == mac  # the same address keeps its MAC
    assert names.mac(7, "10.0.1.4") != mac and names.mac(8, "10.0.1.3") != mac
    with pytest.raises(ValueError):
        names.mac(1, "10.0.1")
