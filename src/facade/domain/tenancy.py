"""Tenancy: whether an appliance's nodes may share a host with other accounts' nodes
(docs/multi-host.md, "Dedicated tenancy").

`shared` (the default): a node goes on any host that takes nodes. `dedicated`: its nodes go
only on hosts that hold no other account's nodes, and while they are there the host is
claimed: no other account's node goes on it; it is free again once it holds none of them.

The account a node is for is its tenant: an instance's own account, an appliance node's
customer (the account among whose names its name is, `name_scope`), whoever runs it. So a
dedicated service's backends for two customers never share a host, although one provider
runs both.

A service's tenancy is its provider's choice for every appliance of it; a customer may ask
for a dedicated appliance of a shared service. An appliance is dedicated when either says
so (a shared appliance of a dedicated service is dedicated: the provider's promise to all its
customers is not the customer's to lower).

The rules here are pure: the value's check, what is effective, and whether a host that holds
some tenants' nodes may take one more node (`allows`). service/hosts_placement.py reads the
hosts' tenants and applies them.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum

from facade.domain.errors import Invalid, describe


class Tenancy(StrEnum):
    SHARED = "shared"
    DEDICATED = "dedicated"


DEFAULT = Tenancy.SHARED
MAX_LENGTH = 16


def check(value: object, *, where: str = "tenancy") -> Tenancy:
    """A tenancy as written (None: the default, shared); anything else is a 400 naming
    `where`."""
    if value is None:
        return DEFAULT
    if isinstance(value, str):
        try:
            return Tenancy(value)
        except ValueError:
            pass
    raise Invalid(f"tenancy is {' or '.join(t.value for t in Tenancy)}, not {describe(value)}",
                  where=where)


def effective(service: str, appliance: str) -> Tenancy:
    """An appliance's tenancy: dedicated when its service or its customer asks for it."""
    if Tenancy.DEDICATED in (service, appliance):
        return Tenancy.DEDICATED
    return Tenancy.SHARED


def allows(tenant: int, dedicated: bool, tenants: Collection[int],
           claimants: Collection[int]) -> bool:
    """Whether a host holding nodes of `tenants`, of which `claimants` hold dedicated nodes
    there, may take a node of `tenant`: a dedicated node only where no other tenant is; a
    shared one only where no other tenant claimed the host (its own dedicated nodes do not
    keep a tenant's shared ones out: nobody else is there)."""
    others = tenants if dedicated else claimants
    return all(t == tenant for t in others)
