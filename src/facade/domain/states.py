"""The states objects go through and the roles nodes play, named once: what the store keeps and
the API shows as strings (a StrEnum member is its string, so rows, JSON and comparisons with
plain strings stay as they were). Compare and set them through these names, never as literals."""

from __future__ import annotations

from enum import StrEnum

from facade.domain.errors import Invalid


class ApplianceStatus(StrEnum):
    """An appliance's: `provisioning` until it first becomes `ready` (every backend in rotation,
    a request through its endpoint answered, its nodes' agents reached), `scaling` from a
    change of its number of backends until it is `ready` again (the new ones in rotation, the
    leaving ones out), `degraded` when a ready one stops being so, `failed` when it cannot be
    made, `deleting` on its way out."""

    PROVISIONING = "provisioning"
    READY = "ready"
    SCALING = "scaling"
    DEGRADED = "degraded"
    FAILED = "failed"
    DELETING = "deleting"


class NodeStatus(StrEnum):
    """A node's (an instance, a front-end, a backend): `pending` until the kernel has it,
    `active`, `failed` when it cannot be made, `deleting` on its way out."""

    PENDING = "pending"
    ACTIVE = "active"
    FAILED = "failed"
    DELETING = "deleting"


class NodeRole(StrEnum):
    """What a node is (an Instance row's `role`, a NodeSpec's): a customer's `instance`, an
    appliance's `frontend` or `backend`, an `external` host on the intermediate network, a
    customer site's host (`site-host`); `router` is a network's or a site's router, a NodeSpec
    only (no Instance row has it)."""

    INSTANCE = "instance"
    FRONTEND = "frontend"
    BACKEND = "backend"
    EXTERNAL = "external"
    SITE_HOST = "site-host"
    ROUTER = "router"


class HostState(StrEnum):
    """A host's (docs/multi-host.md): `ready` to hold nodes, `draining` while its nodes are
    moved away (nothing new is placed on it), `lost` when its agent stopped answering,
    `removed` once the operator took it out (its row kept, like an ended channel's)."""

    READY = "ready"
    DRAINING = "draining"
    LOST = "lost"
    REMOVED = "removed"


class ChannelStatus(StrEnum):
    """A private channel's (VPN's), as the API shows it: `active` until deleted, then
    `deleted` (its row stays, for its hours)."""

    ACTIVE = "active"
    DELETED = "deleted"


class InvoiceStatus(StrEnum):
    """An account's invoice for a period: `billed` (read from the ledger) or `draft` (computed
    from usage not posted yet)."""

    BILLED = "billed"
    DRAFT = "draft"


def _checked(kind: type[StrEnum], value: str, where: str, what: str = "status") -> StrEnum:
    try:
        return kind(value)
    except ValueError:
        raise Invalid(f"{what} {value!r} must be one of "
                      f"{', '.join(s.value for s in kind)}", where=where) from None


def appliance_status(value: str, *, where: str = "status") -> StrEnum:
    """An appliance status a caller wrote (a list filter), checked."""
    return _checked(ApplianceStatus, value, where)


def host_state(value: str, *, where: str = "state") -> StrEnum:
    """A host state a caller wrote (a list filter), checked."""
    return _checked(HostState, value, where, "state")


def node_status(value: str, *, where: str = "status") -> StrEnum:
    """A node status a caller wrote (a list filter), checked."""
    return _checked(NodeStatus, value, where)
