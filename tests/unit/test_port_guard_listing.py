"""The port guard's shared listing (dataplane/linux/port_guard.Listing): observations of a few
seconds share one read of the set, a change by the driver is never hidden, a change by someone
else shows within the listing's age, and a read that began before a change is not kept."""

from __future__ import annotations

import threading

import pytest

from facade.dataplane.linux.port_guard import Entry, Listing
from tests.unit.clock import Clock

pytestmark = pytest.mark.no_store  # tests/conftest.py

A = Entry(port="fcdv3", mac="02:01:0a:00:01:02", ip="10.0.1.2")
B = Entry(port="fcdv4", mac="02:02:0a:00:02:02", ip="10.0.2.2")




def test_observations_share_one_read_until_it_is_old_or_the_driver_changed_the_set() -> None:
    clock = Clock(0.0)
    kernel = {A}
    reads: list[int] = []

    def read() -> set[Entry]:
        reads.append(1)
        return set(kernel)

    listing = Listing(read, ttl=2.0, clock=clock)
    assert listing.has([A]) and not listing.has([A, B]) and listing.has([])
    assert len(reads) == 1  # three questions, one read
    kernel.add(B)  # the driver adds B, and says so
    listing.changed()
    assert listing.has([A, B]) and len(reads) == 2
    kernel.discard(A)  # someone else removes A: seen once the listing is old
    assert listing.has([A])
    clock.t += 2.0
    assert not listing.has([A]) and len(reads) == 3


def test_a_read_that_met_a_change_answers_its_caller_but_is_not_kept() -> None:
    kernel = {A}
    inside, release = threading.Event(), threading.Event()
    slow = [True]

    def read() -> set[Entry]:
        seen = set(kernel)
        if slow[0]:
            slow[0] = False
            inside.set()
            release.wait(5)
        return seen

    listing = Listing(read, ttl=60.0)
    answers: list[bool] = []
    t = threading.Thread(target=lambda: answers.append(listing.has([B])))
    t.start()
    inside.wait(5)
    kernel.add(B)  # the driver adds B while the read is under way
    listing.changed()
    release.set()
    t.join(5)
    assert answers == [False]  # what that read saw
    assert listing.has([B])  # not kept: the next question reads again
