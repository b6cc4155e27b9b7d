"""Which account a kernel object belongs to, from its name: the controller's events are about
kernel objects (a node's namespace, a network's router, a subnet's bridge, a workload or an
agent process, a channel's tunnel), named from the store's ids (domain/names.py), and each
carries the account of the object it was made for (`Event.account_id`, docs/api.md "Names"),
so that an account's event log is read by account, not by matching names."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain import names
from facade.store.models import Instance, Network, Subnet, Vpn


def _instance(session: Session, ident: int) -> int | None:
    return session.scalar(select(Instance.account_id).where(Instance.id == ident))


def _network(session: Session, ident: int) -> int | None:
    return session.scalar(select(Network.account_id).where(Network.id == ident))


def _subnet(session: Session, ident: int) -> int | None:
    return session.scalar(select(Network.account_id).join(Subnet, Subnet.network_id == Network.id)
                          .where(Subnet.id == ident))


def _vpn(session: Session, ident: int) -> int | None:
    return session.scalar(select(Vpn.account_id).where(Vpn.id == ident))


def _node_id(netns: str) -> int | None:
    found = names.node_id(netns)
    return found[0] if found else None


def _tunnel_id(link: str) -> int | None:
    found = names.TUNNEL.fullmatch(link)
    return int(found.group(1)) if found else None


# (the id a name holds, if it is of that kind; the account of the object of that id)
KINDS: tuple[tuple[Callable[[str], int | None], Callable[[Session, int], int | None]], ...] = (
    (_node_id, _instance),
    (names.workload_id, _instance),
    (names.router_id, _network),
    (names.agent_network_id, _network),
    (names.bridge_id, _subnet),
    (_tunnel_id, _vpn),
)


def owner(session: Session, name: str) -> int | None:
    """The id of the account whose object the kernel object `name` is made for; None for what
    no account owns (the fabric), a name of no kind above, or an object the store no longer
    holds (a subnet deleted before its bridge was)."""
    for ident_of, account_of in KINDS:
        ident = ident_of(name)
        if ident is not None:
            return account_of(session, ident)
    return None
