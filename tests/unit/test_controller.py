"""The controller's parts that need no thread: its work queue (one worker per key, dirty keys,
backoff, tickets, the two lanes) and its cost accounting (the controller running:
tests/service/test_controller.py)."""

from __future__ import annotations

import time

import pytest

from facade.controller.queue import RETRY_FIRST, WorkQueue
from facade.domain import keys
from tests.unit.clock import Clock

pytestmark = pytest.mark.no_store  # tests/conftest.py

A, B = keys.node(1), keys.node(2)


# -- the queue -----------------------------------------------------------------------------------


def test_a_key_is_handed_out_once_and_again_when_added_while_held() -> None:
    q = WorkQueue()
    q.add([A, B, A])
    assert q.get(0) == A and q.get(0) == B and q.get(0) is None  # A once
    q.add([A])  # while a worker holds A: dirty, not handed to another
    assert q.get(0) is None
    q.done(A)
    assert q.get(0) == A  # after the first is done
    q.done(A)
    q.done(B)
    assert q.get(0) is None


def test_failures_back_off_per_key_and_success_forgets() -> None:
    clock = Clock()
    q = WorkQueue(clock)
    delays = [q.retry(A) for _ in range(5)]
    assert delays == [RETRY_FIRST * 2 ** n for n in range(5)]
    assert q.get(0) is None  # not due yet
    clock.t += sum(delays)
    assert q.get(0) == A
    q.done(A)
    q.forget(A)
    assert q.retry(A) == RETRY_FIRST


def test_a_deferred_key_comes_once_for_every_touch_of_its_period() -> None:
    clock = Clock()
    q = WorkQueue(clock)
    for _ in range(50):  # fifty nodes went within the period: one reconcile of their agent
        q.defer(A, 0.5)
        clock.t += 0.005
    assert q.get(0) is None  # not due yet
    clock.t += 0.5
    assert q.get(0) == A and q.get(0) is None
    q.done(A)
    q.defer(A, 0.5)  # a touch after it was handed out starts a new period
    clock.t += 0.5
    assert q.get(0) == A
    q.done(A)
    assert q.get(0) is None


def test_a_throttled_key_comes_at_once_then_once_a_period() -> None:
    clock = Clock()
    q = WorkQueue(clock)
    start = clock.t
    q.throttle(A, 0.5)  # one new node: its agent at once
    assert q.get(0) == A
    q.done(A)
    for _ in range(50):  # fifty more within the period: one reconcile, at its end
        clock.t += 0.005
        q.throttle(A, 0.5)
    assert q.get(0) is None
    clock.t = start + 0.5
    assert q.get(0) == A and q.get(0) is None
    q.done(A)
    clock.t = start + 0.6
    q.throttle(A, 0.5)  # released 0.1 s ago: at the end of its period again
    assert q.get(0) is None
    clock.t = start + 1.0
    assert q.get(0) == A
    q.done(A)
    clock.t += 5
    q.throttle(A, 0.5)  # quiet for a while: at once
    assert q.get(0) == A


def test_a_ticket_waits_for_its_keys_not_for_retries() -> None:
    q = WorkQueue()
    ticket = q.add([A])
    assert not q.wait(ticket, 0.05)  # A not reconciled yet
    key = q.get(0)
    assert key == A
    q.retry(A)  # it failed: the attempt counts, its retry is not waited for
    q.done(A)
    assert q.wait(ticket, 0.05)
    later = q.add([B])
    assert q.get(0) == B
    q.add_after(B, 60, keep_waiters=True)  # waits for a dependency: waiters keep waiting
    q.done(B)
    assert not q.wait(later, 0.05)


def test_a_key_that_comes_back_later_is_waited_for_even_when_touched_meanwhile() -> None:
    """`facade apply` returned before every node existed: a node waiting for its bridge
    (Later) was touched again by the bridge's reconciler meanwhile, and the newer ticket hid
    the older one from its waiters."""
    q = WorkQueue()
    ticket = q.add([A])
    assert q.get(0) == A
    q.add_after(A, 60, keep_waiters=True)  # its bridge is not there yet
    q.done(A)
    q.add([A])  # the bridge was made: its reconciler touches the node
    assert not q.wait(ticket, 0.01)  # A has still not been made
    assert q.get(0) == A
    q.done(A)  # now it was
    assert q.wait(ticket, 0.01)
    # touched while it runs: the change after it began is still owed to whoever waits for it
    first = q.add([B])
    assert q.get(0) == B
    second = q.add([B])
    q.done(B)
    assert q.wait(first, 0.01) and not q.wait(second, 0.01)
    assert q.get(0) == B
    q.done(B)
    assert q.wait(second, 0.01)


def test_changes_go_before_the_resync_and_say_how_long_they_waited() -> None:
    clock = Clock()
    q = WorkQueue(clock)
    C = keys.node(3)
    q.add([A, B], background=True)  # the resync's looks
    clock.t += 2.0
    q.add([C])  # a user's change: first, though queued last
    q.add([B])  # a change to what the resync queued: moves to the front, once
    clock.t += 0.5
    assert q.get(0) == C and q.waited(C) == (0.5, False)
    assert q.get(0) == B and q.waited(B) == (2.5, False)
    assert q.get(0) == A and q.waited(A) == (2.5, True)
    assert q.get(0) is None  # B's entry in the background lane is not handed out again
    for key in (A, B, C):
        q.done(key)
    assert q.waited(A) == (0.0, False) and q.depth() == 0
    q.add([A], background=True)
    q.add([A], background=True)
    assert q.get(0) == A and q.get(0) is None


def test_the_quick_worker_takes_only_appliances_and_the_others_keep_the_order() -> None:
    """An appliance's key (its rotation, its readiness) never waits for node makes: the quick
    worker takes it ahead of every node queued before it; the other workers take the front
    lane's keys in the order they came, appliances included, and the resync's after them."""
    clock = Clock()
    q = WorkQueue(clock)
    n1, n2, app, later = keys.node(11), keys.node(12), keys.appliance(5), keys.appliance(6)
    q.add([keys.node(10)], background=True)
    clock.t += 1
    q.add([n1, n2])
    clock.t += 1
    q.add([app])
    assert q.get(0, quick=True) == app  # ahead of the two nodes queued before it
    assert q.get(0, quick=True) is None  # nothing else is quick: never a node
    q.done(app)
    q.add([app])  # came again: the others take it in its turn
    clock.t += 1
    q.add([later])
    assert [q.get(0), q.get(0), q.get(0), q.get(0)] == [n1, n2, app, later]
    assert q.get(0, quick=True) is None  # the resync's node is not for the quick worker
    assert q.get(0) == keys.node(10)
    moved = keys.appliance(7)
    q.add([moved], background=True)
    q.add([moved])  # a resync's appliance touched by a change: quick now
    assert q.get(0, quick=True) == moved and q.get(0) is None


# -- what it spends its CPU on -------------------------------------------------------------------


def test_costs_add_thread_cpu_per_activity_and_start_again_after_a_take() -> None:
    from facade.controller.costs import Costs, describe

    costs = Costs()
    with costs.measure("busy"):
        end = time.thread_time() + 0.03
        while time.thread_time() < end:
            pass
    with costs.measure("asleep"):
        time.sleep(0.05)  # waiting costs no CPU
    double = costs.wrap("pooled", lambda x: 2 * x)
    assert [double(1), double(2)] == [2, 4]
    taken = {a: (n, cpu) for a, n, cpu in costs.take()}
    assert taken["busy"][0] == 1 and taken["busy"][1] >= 0.02
    assert taken["asleep"][0] == 1 and taken["asleep"][1] < taken["busy"][1]
    assert taken["pooled"][0] == 2
    assert costs.take() == []
    assert describe([("node", 12, 0.08)]) == "node 12 in 0.08 s CPU"


def test_garbage_collections_are_timed_by_generation_while_installed() -> None:
    import gc

    from facade.controller.costs import GC, Collections, Costs

    costs = Costs()
    collections = Collections(costs)
    collections.install()
    collections.install()  # once only
    try:
        assert gc.callbacks.count(collections) == 1
        garbage = [[] for _ in range(20_000)]
        for a, b in zip(garbage, garbage[1:], strict=False):
            a.append(b)
            b.append(a)  # cycles: only a collection frees them
        del garbage, a, b
        gc.collect(2)
    finally:
        collections.remove()
    taken = {a: (n, cpu) for a, n, cpu in costs.take()}
    assert taken[f"{GC} (generation 2)"][0] >= 1 and taken[f"{GC} (generation 2)"][1] > 0
    assert collections not in gc.callbacks
    gc.collect(2)
    assert costs.take() == []  # removed: not timed any more
    collections.remove()  # twice is harmless


def test_costs_keep_the_waits_of_each_kind_until_taken() -> None:
    from facade.controller.costs import Costs, describe_waits

    costs = Costs()
    for seconds in (0.002, 0.004, 0.040):
        costs.waited("node", seconds)
    costs.waited("agent", 0.001)
    waits = costs.take_waits()
    assert [(k, n) for k, n, _, _ in waits] == [("node", 3), ("agent", 1)]  # longest first
    assert abs(waits[0][2] - 0.0153) < 1e-3 and waits[0][3] == 0.040
    assert costs.take_waits() == []
    assert describe_waits(waits[:1]) == "node 3, 15 ms on average, 40 ms at most"
