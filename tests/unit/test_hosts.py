"""domain/hosts.py: host names (a simulated host's fits its substrate port), underlay
addresses, and when a host may be drained or removed; the overlay's kernel names
(domain/names.py), which the resync reads back."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from facade.domain import hosts, names
from facade.domain.errors import Conflict, Exhausted, InUse, Invalid
from facade.domain.states import HostState

pytestmark = pytest.mark.no_store  # tests/conftest.py


def _host(name: str = "h1", *, address: str | None = "172.31.0.11", nodes: int = 0,
          state: HostState = HostState.READY) -> hosts.Host:
    return hosts.Host(name=name, address=address, state=state, capacity=10, heartbeat=None,
                      simulated=True, nodes=nodes)


def test_names() -> None:
    assert hosts.check_name("rack-1-host-17") == "rack-1-host-17"
    assert hosts.check_name("h" * names.MAX_HOST_NAME, simulated=True)
    with pytest.raises(Invalid) as e:
        hosts.check_name("h" * (names.MAX_HOST_NAME + 1), simulated=True)
    assert e.value.where == "name" and "at most 11 characters" in e.value.message
    for bad in ("", "H1", "1h", "h-", "h_1", "h" * 41, None, 7):
        with pytest.raises(Invalid) as e:
            hosts.check_name(bad, where="hosts[0].name")
        assert e.value.where == "hosts[0].name"


def test_addresses() -> None:
    assert hosts.check_address("172.31.0.11") == "172.31.0.11"
    for bad in ("172.31.0.256", "172.31.0.0/24", "::1", "", None, 3):
        with pytest.raises(Invalid) as e:
            hosts.check_address(bad)
        assert e.value.where == "address"


def test_drain_and_remove_rules() -> None:
    assert _host().drained() == HostState.DRAINING
    assert _host(state=HostState.LOST).drained() == HostState.DRAINING
    with pytest.raises(Conflict, match="was removed"):
        _host(state=HostState.REMOVED).drained()
    local = _host(hosts.LOCAL, address=None)
    assert local.local and not _host().local
    with pytest.raises(Conflict, match="cannot be drained"):
        local.drained()
    with pytest.raises(Conflict, match="cannot be removed"):
        local.removable()
    _host().removable()
    with pytest.raises(InUse, match="still holds 1 node;"):
        _host(nodes=1).removable()
    with pytest.raises(InUse, match="still holds 3 nodes"):
        _host(nodes=3).removable()


def test_the_overlay_names_are_made_and_read_back_here() -> None:
    assert names.host_netns("h1") == "fcd-h-h1" and names.host_port("h1") == "fcduh1"
    assert len(names.host_port("h" * names.MAX_HOST_NAME)) == names.IFNAMSIZ
    assert (names.segment_bridge(7), names.vxlan(7)) == ("br7", "vx7")
    assert len(names.vxlan(names.MAX_VNI)) <= names.IFNAMSIZ
    assert names.overlay_node_netns("a1") == "fcd-n-a1"
    for netns in ("fcd-h-h1", "fcd-rr", "fcd-substrate"):
        assert names.is_overlay_netns(netns) and names.is_facade_netns(netns)
    assert names.is_overlay_node_netns("fcd-n-a1")
    for netns in ("fcd-i3-web", "fcd-r2", "fcd-fabric", "fcd-n-a1", "fcd-rr2"):
        assert not names.is_overlay_netns(netns)
    with pytest.raises(ValueError):
        names.vxlan(0)
    with pytest.raises(ValueError):
        names.host_netns("h" * (names.MAX_HOST_NAME + 1))


def test_simulated_addresses_and_capacity() -> None:
    assert hosts.next_address([]) == "172.31.0.11"
    assert hosts.next_address(["172.31.0.11", "172.31.0.13"]) == "172.31.0.12"
    full = [str(hosts.UNDERLAY[n]) for n in range(hosts.FIRST_HOST, 255)]
    with pytest.raises(Exhausted, match="no free address left") as e:
        hosts.next_address(full)
    assert e.value.where == "address"
    assert hosts.check_simulated_address("172.31.0.254") == "172.31.0.254"
    for bad in ("172.31.0.1", "172.31.0.10", "172.31.0.255", "172.31.1.11"):
        with pytest.raises(Invalid, match="from 172.31.0.11 to 172.31.0.254"):
            hosts.check_simulated_address(bad)
    assert hosts.check_capacity(1) == 1
    for bad in (0, hosts.MAX_CAPACITY + 1, True, "5", 2.0):
        with pytest.raises(Invalid):
            hosts.check_capacity(bad)


def test_what_a_state_means_is_said() -> None:
    assert "own machine" in _host(hosts.LOCAL, address=None).detail
    assert _host().detail.startswith("simulated on this machine: its namespace and FRR run")
    assert _host(state=HostState.DRAINING).detail.startswith("draining")
    assert _host(state=HostState.REMOVED).detail.startswith("removed")
    beating = hosts.Host(name="h1", address="172.31.0.11", state=HostState.DRAINING,
                         capacity=1, heartbeat=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                         simulated=True)
    assert beating.detail.startswith("draining")


def test_a_registration_keeps_a_lost_simulated_host_lost() -> None:
    """Its agent fences it and the host watch rejoins it (swept first); a lost machine is
    ready again (nothing places nodes on machines: nothing to sweep); a draining host stays
    draining."""
    now = dt.datetime.now(dt.UTC)
    assert _host(state=HostState.LOST).registered("a-1", now) == HostState.LOST
    machine = dataclasses.replace(_host(state=HostState.LOST), simulated=False)
    assert machine.registered("a-1", now) == HostState.READY
    assert _host(state=HostState.DRAINING).registered("a-1", now) == HostState.DRAINING
    assert _host().registered("a-1", now) == HostState.READY
