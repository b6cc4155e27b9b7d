"""domain.ipam: reserved addresses, capacity, lazy ordered allocation, CIDR and placement rules."""

from __future__ import annotations

import ipaddress
import itertools
import random

import pytest

from facade.domain import commands
from facade.domain.errors import Conflict, Exhausted, Invalid
from facade.domain.ipam import (
    Siblings,
    SubnetRange,
    check_no_overlap,
    check_subnet_in_network,
    parse_cidr,
    parse_ip,
)

pytestmark = pytest.mark.no_store  # tests/conftest.py

IP = ipaddress.IPv4Address


def test_reserved_are_network_gateway_and_broadcast() -> None:
    rng = SubnetRange.of("10.0.1.0/24")
    assert rng.gateway == IP("10.0.1.1")
    assert rng.reserved == {IP("10.0.1.0"), IP("10.0.1.1"), IP("10.0.1.255")}
    usable = list(rng.usable())
    assert usable[0] == IP("10.0.1.2")
    assert usable[-1] == IP("10.0.1.254")
    assert not rng.reserved & set(usable)


@pytest.mark.parametrize(("cidr", "capacity"), [
    ("10.0.0.0/29", 5), ("10.0.0.0/28", 13), ("10.0.0.0/24", 253), ("10.0.0.0/22", 1021),
    ("10.0.0.0/21", 1022), ("10.0.0.0/16", 1022)])
def test_capacity_is_addresses_minus_three_and_a_segments_ports_but_its_routers(
        cidr: str, capacity: int) -> None:
    rng = SubnetRange.of(cidr)
    assert rng.capacity == capacity
    if capacity < 1000:
        assert len(list(rng.usable())) == capacity


def test_a_subnet_larger_than_its_segment_is_full_at_the_segments_ports() -> None:
    from facade.domain.ipam import SEGMENT_PORTS

    rng = SubnetRange.of("10.0.32.0/20")  # 4,093 usable addresses, one bridge of 1,023 ports
    taken = [str(ip) for ip in itertools.islice(rng.usable(), SEGMENT_PORTS - 2)]
    last = rng.allocate(taken, None, name="net/mgmt", where="subnet")
    assert str(last) == "10.0.35.255"  # the 1,022nd interface: an address ending in .255
    taken.append(str(last))
    for requested in (None, "10.0.40.7"):
        with pytest.raises(Exhausted) as exc:
            rng.allocate(taken, requested, name="net/mgmt", where="subnet")
        assert exc.value.status == 409 and "net/mgmt" in exc.value.message
        assert "1023 ports" in exc.value.message and "Linux bridge" in exc.value.message


def test_usable_is_lazy_and_ordered() -> None:
    rng = SubnetRange.of("10.0.0.0/8")  # 16 million addresses: must not be materialised
    first = list(itertools.islice(rng.usable(), 3))
    assert first == [IP("10.0.0.2"), IP("10.0.0.3"), IP("10.0.0.4")]


def test_next_free_is_lowest_free() -> None:
    rng = SubnetRange.of("10.0.1.0/24")
    assert rng.next_free([], name="n/s") == IP("10.0.1.2")
    assert rng.next_free(["10.0.1.2", "10.0.1.3"], name="n/s") == IP("10.0.1.4")
    # a hole left by a deleted instance is reused first
    assert rng.next_free(["10.0.1.2", "10.0.1.4"], name="n/s") == IP("10.0.1.3")


def test_next_free_on_big_subnet_is_fast() -> None:
    rng = SubnetRange.of("10.0.0.0/8")
    taken = [str(ip) for ip in itertools.islice(rng.usable(), 500)]
    assert rng.next_free(taken, name="n/s") == IP("10.0.1.246")


def test_smallest_subnet_29_fills_up_with_exhausted() -> None:
    rng = SubnetRange.of("10.0.0.0/29")
    taken: list[str] = []
    for _ in range(5):
        taken.append(str(rng.allocate(taken, None, name="net/tiny", where="subnet")))
    assert taken == [f"10.0.0.{i}" for i in range(2, 7)]
    with pytest.raises(Exhausted) as exc:
        rng.allocate(taken, None, name="net/tiny", where="subnet")
    assert exc.value.status == 409 and exc.value.code == "exhausted"
    assert "net/tiny" in exc.value.message and "5" in exc.value.message
    assert "10.0.0.0/29" in exc.value.message
    assert exc.value.where == "net/tiny"


def test_requested_address_is_given() -> None:
    rng = SubnetRange.of("10.0.1.0/24")
    assert rng.allocate(["10.0.1.2"], "10.0.1.50", name="n/s", where="w") == IP("10.0.1.50")


@pytest.mark.parametrize(("ip", "words"), [
    ("10.0.1.1", "gateway"), ("10.0.1.0", "reserved"), ("10.0.1.255", "reserved"),
    ("10.0.2.5", "outside"), ("10.0.1.256", "not an IPv4"), ("nonsense", "not an IPv4"),
    ("", "not an IPv4")])
def test_requested_address_rules(ip: str, words: str) -> None:
    rng = SubnetRange.of("10.0.1.0/24")
    with pytest.raises(Invalid) as exc:
        rng.allocate([], ip, name="n/s", where="interfaces[0]")
    assert exc.value.status == 400
    assert words in exc.value.message
    assert exc.value.where == "interfaces[0]"


def test_requested_address_taken_is_conflict() -> None:
    rng = SubnetRange.of("10.0.1.0/24")
    with pytest.raises(Conflict) as exc:
        rng.allocate(["10.0.1.9"], "10.0.1.9", name="n/s", where="interfaces[0]")
    assert exc.value.status == 409 and exc.value.code == "conflict"
    assert "10.0.1.9" in exc.value.message and "taken" in exc.value.message


@pytest.mark.parametrize("text", ["10.0.0.0/8", "10.0.0.0/16", "192.168.7.8/29"])
def test_parse_cidr_accepts(text: str) -> None:
    assert str(parse_cidr(text, where="cidr")) == text


@pytest.mark.parametrize(("text", "words"), [
    ("10.0.1.5/24", "host bits"), ("garbage", "not an IPv4 CIDR"), ("", "not an IPv4 CIDR"),
    ("10.0.0.0/33", "not an IPv4 CIDR"), ("300.0.0.0/8", "not an IPv4 CIDR"),
    ("10.0.0.0/30", "/30"), ("10.0.0.0/31", "/31"), ("10.0.0.1/32", "/32"),
    ("10.0.0.0/7", "/7"), ("0.0.0.0/0", "/0"), ("fd00::/64", "not an IPv4 CIDR")])
def test_parse_cidr_rejects(text: str, words: str) -> None:
    with pytest.raises(Invalid) as exc:
        parse_cidr(text, where="cidr")
    assert words in exc.value.message
    assert exc.value.where == "cidr"


def test_host_bits_message_suggests_network() -> None:
    with pytest.raises(Invalid, match=r"did you mean 10\.0\.1\.0/24"):
        parse_cidr("10.0.1.5/24", where="cidr")


def test_parse_ip() -> None:
    assert parse_ip("10.1.2.3", where="ip") == IP("10.1.2.3")
    with pytest.raises(Invalid):
        parse_ip("10.1.2", where="ip")


def test_subnet_in_network() -> None:
    net = ipaddress.IPv4Network("10.0.0.0/16")
    check_subnet_in_network(ipaddress.IPv4Network("10.0.5.0/24"), net, where="w")
    check_subnet_in_network(net, net, where="w")
    with pytest.raises(Invalid, match="outside") as exc:
        check_subnet_in_network(ipaddress.IPv4Network("10.1.0.0/24"), net, where="w")
    assert exc.value.where == "w"
    with pytest.raises(Invalid, match="outside"):  # bigger than its network
        check_subnet_in_network(ipaddress.IPv4Network("10.0.0.0/8"), net, where="w")


def test_no_overlap() -> None:
    others = {"a": "10.0.1.0/24", "b": "10.0.2.0/24"}
    check_no_overlap(ipaddress.IPv4Network("10.0.3.0/24"), others, where="w")
    for cidr in ("10.0.1.0/24", "10.0.1.128/25", "10.0.0.0/22"):
        with pytest.raises(Conflict, match="overlaps subnet") as exc:
            check_no_overlap(ipaddress.IPv4Network(cidr), others, where="w")
        assert exc.value.status == 409


def test_siblings_find_an_overlap_exactly_when_a_pair_overlaps() -> None:
    """The index (supernets of the prefix lengths it holds, then the next first address) finds
    an overlapping sibling whenever comparing every pair would, and only a real one."""
    rng = random.Random(16)
    for _ in range(300):
        siblings, held = Siblings(), []
        for _ in range(rng.randint(1, 12)):
            cidr = ipaddress.IPv4Network((0x0A000000 | rng.randrange(1 << 16), 32)).supernet(
                new_prefix=rng.randint(16, 30))
            found = siblings.overlapping(cidr)
            assert bool(found) == any(cidr.overlaps(h) for h in held), (cidr, held)
            for cidr_text in found.values():
                assert cidr.overlaps(ipaddress.IPv4Network(cidr_text))
            if not found:
                siblings.add(f"s{len(held)}", cidr)
                held.append(cidr)


def test_a_new_network_names_the_first_subnet_given_that_a_subnet_overlaps() -> None:
    """The index only finds that there is an overlap; the message names the first sibling in the
    order given, as comparing in that order always has."""
    subnets = [{"name": "a", "cidr": "10.0.2.0/24"}, {"name": "b", "cidr": "10.0.1.0/24"},
               {"name": "c", "cidr": "10.0.0.0/22"}]
    with pytest.raises(Conflict, match=r"overlaps subnet a \(10.0.2.0/24\)") as exc:
        commands.new_network(name="n", cidr="10.0.0.0/16", subnets=subnets)
    assert exc.value.where == "subnets[2]"


def test_several_addresses_from_one_reading_of_the_taken_ones() -> None:
    """A Taken (read once, as numbers) serves several allocations as each is added; it answers
    as the list of strings would."""
    from facade.domain.ipam import Taken

    rng = SubnetRange.of("10.0.0.0/29")  # 10.0.0.2 - 10.0.0.6 usable
    taken = Taken(["10.0.0.2", "10.0.0.4"])
    first = str(rng.allocate(taken, None, name="s", where="x"))
    taken.add(first)
    second = str(rng.allocate(taken, None, name="s", where="x"))
    assert (first, second) == ("10.0.0.3", "10.0.0.5")
    assert "10.0.0.3" in taken and "10.0.0.5" not in taken and 3 not in taken and len(taken) == 3
    with pytest.raises(Conflict):
        rng.allocate(taken, "10.0.0.4", name="s", where="x")
    taken.add(second)
    taken.add(str(rng.allocate(taken, None, name="s", where="x")))
    with pytest.raises(Exhausted):
        rng.allocate(taken, None, name="s", where="x")
