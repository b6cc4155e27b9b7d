"""Addresses allocated in one write transaction (service/instances.py `allocate`): a subnet's
taken addresses are read from the store once per transaction and kept up to date with what it
allocates, so an appliance's eight addresses in its provider's two subnets cost two reads, not
eight as long as the subnets are full; every address stays distinct and the lowest free, a
subnet made in the same transaction included, and the next transaction reads them again."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event, select

from facade.dataplane.fake import FakeDataPlane
from facade.service import accounts, instances, networks
from facade.store.models import Interface, Network, Subnet
from tests.stores import open_context


def test_a_subnets_addresses_are_read_once_per_transaction(tmp_path: Path) -> None:
    ctx = open_context(tmp_path / "home", FakeDataPlane())
    try:
        token = accounts.bootstrap_operator(ctx)
        assert token
        operator = accounts.authenticate(ctx, token)
        accounts.create(ctx, operator, "acme")
        networks.create_network(ctx, operator, "vpc", "acme", "10.0.0.0/16", [
            {"name": "a", "cidr": "10.0.1.0/24"}, {"name": "b", "cidr": "10.0.2.0/24"}])
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
        # the next transaction reads again (what the last one allocated but did not keep, say)
        with ctx.write() as session:
            a = session.scalar(select(Subnet).where(Subnet.name == "a"))
            assert a is not None
            assert session.scalar(select(Interface.id)) is None  # none was kept
            assert instances.allocate(session, a, None, where="x") == "10.0.1.2"
        assert len(reads) == 5
    finally:
        ctx.engine.dispose()
