"""Addresses allocated in write transactions (service/instances.py `allocate`): a subnet's
taken addresses are read from the store once per transaction and kept up to date with what it
allocates, so an appliance's eight addresses in its provider's two subnets cost two reads, not
eight as long as the subnets are full; every address stays distinct and the lowest free, a
subnet made in the same transaction included. Between transactions they are kept too
(service/taken.py), checked against the store's count and highest id of the subnet's
interfaces: what was made since is read alone, anything removed since (or a rollback) makes
it read the subnet whole, and the addresses allocated stay the store's truth throughout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, select

from facade.dataplane.fake import FakeDataPlane
from facade.service import accounts, instances, networks
from facade.service.context import Caller, Context
from facade.store.models import Interface, Network, Subnet
from tests.stores import open_context


@pytest.fixture
def vpc(tmp_path: Path) -> Iterator[tuple[Context, Caller]]:
    """A store with acme's network `vpc` and its subnets a (10.0.1.0/24) and b (10.0.2.0/24),
    and the operator."""
    ctx = open_context(tmp_path / "home", FakeDataPlane())
    try:
        token = accounts.bootstrap_operator(ctx)
        assert token
        operator = accounts.authenticate(ctx, token)
        accounts.create(ctx, operator, "acme")
        networks.create_network(ctx, operator, "vpc", "acme", "10.0.0.0/16", [
            {"name": "a", "cidr": "10.0.1.0/24"}, {"name": "b", "cidr": "10.0.2.0/24"}])
        yield ctx, operator
    finally:
        ctx.engine.dispose()


def test_a_subnets_addresses_are_read_once_per_transaction(
        vpc: tuple[Context, Caller]) -> None:
    ctx, _ = vpc
    reads: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "interfaces.ip" in statement:
            reads.append(statement)

    event.listen(ctx.engine, "before_cursor_execute", seen)
    with ctx.write() as session:
        a, b = (session.scalar(select(Subnet).where(Subnet.name == n)) for n in "ab")
        assert a is not None and b is not None
        got_a = [instances.allocate(session, a, None, where="x") for _ in range(3)]
        got_b = [instances.allocate(session, b, None, where="x") for _ in range(2)]
        assert instances.allocate(session, a, "10.0.1.9", where="x") == "10.0.1.9"
        # made in this transaction, not flushed yet: known by its own id, not another's
        net = session.scalar(select(Network).where(Network.name == "vpc"))
        fresh = [Subnet(network=net, name=f"n{i}", cidr=f"10.0.{5 + i}.0/24")
                 for i in range(2)]
        session.add_all(fresh)
        got_new = [instances.allocate(session, s, None, where="x") for s in fresh]
    assert got_a == ["10.0.1.2", "10.0.1.3", "10.0.1.4"]
    assert got_b == ["10.0.2.2", "10.0.2.3"]
    assert got_new == ["10.0.5.2", "10.0.6.2"]
    assert len(reads) == 4  # a, b and the two new subnets: once each
    # the next transaction finds the subnet as it was kept (nothing was made in it: what
    # the last one allocated made no interface) and reads nothing of it again
    with ctx.write() as session:
        a = session.scalar(select(Subnet).where(Subnet.name == "a"))
        assert a is not None
        assert session.scalar(select(Interface.id)) is None  # none was kept
        assert instances.allocate(session, a, None, where="x") == "10.0.1.2"
    assert len(reads) == 4


def test_a_subnets_addresses_are_kept_between_transactions_and_never_wrong(
        vpc: tuple[Context, Caller]) -> None:
    from sqlalchemy import delete

    from facade.service import instances as inst_service

    ctx, operator = vpc
    reads: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        where = statement.split("WHERE")[-1].strip()
        if statement.lstrip().startswith("SELECT interfaces.ip") and \
                where.startswith("interfaces.subnet_id"):  # the subnet's addresses
            reads.append("since" if "interfaces.id >" in where else "whole")

    def make(n: int) -> list[str]:
        """n instances of one interface in subnet a, each in a transaction of its own."""
        return [inst_service.create(ctx, operator, f"i{len(made) + k}", "acme",
                                    [{"subnet": "vpc/a"}]).interfaces[0].ip
                for k in range(n)]

    def store() -> list[str]:
        with ctx.read() as session:
            return sorted(session.scalars(select(Interface.ip)),
                          key=lambda ip: int(ip.rsplit(".", 1)[1]))

    made: list[str] = []
    made += make(3)
    event.listen(ctx.engine, "before_cursor_execute", seen)
    made += make(3)  # each reads only what the one before made
    assert made == [f"10.0.1.{n}" for n in range(2, 8)]
    assert reads == ["since"] * 3  # the interfaces above the id kept
    reads.clear()
    with ctx.write() as session:  # one goes: the next read is of the whole subnet
        session.execute(delete(Interface).where(Interface.ip == "10.0.1.3"))
    made += make(2)
    assert made[-2:] == ["10.0.1.3", "10.0.1.8"]  # the lowest free again, then the next
    assert reads[0] == "whole"
    reads.clear()
    # a transaction that removes one, allocates in the subnet, then rolls back: nothing it
    # saw is used after it
    try:
        with ctx.write() as session:
            session.execute(delete(Interface).where(Interface.ip == "10.0.1.4"))
            sub = session.scalar(select(Subnet).where(Subnet.name == "a"))
            assert sub is not None
            assert inst_service.allocate(session, sub, None, where="x") == "10.0.1.4"
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    made += make(1)
    assert made[-1] == "10.0.1.9"  # not 10.0.1.4, which is still taken
    assert store() == sorted(set(store()), key=lambda ip: int(ip.rsplit(".", 1)[1]))
    assert len(store()) == 8  # 2-9, .3 made twice (deleted between), .4 kept
