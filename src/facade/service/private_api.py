"""The private API endpoint (docs/multi-host.md, "The private API endpoint"): the control
plane's own API as an appliance endpoint in a customer's subnet. The operator offers it as a
service of workload `control-plane-api` (no one else may: it opens a path to the API from
tenant subnets); a customer asks for it as for any appliance; its endpoint never gets a
public address (the API stays off the internet through it)."""

from __future__ import annotations

from facade.domain import workload
from facade.domain.errors import Conflict, Forbidden
from facade.service.context import Caller
from facade.store.models import Appliance


def check_offer(caller: Caller, workload_name: object) -> None:
    """Only the operator offers the control plane's API in tenants' subnets."""
    if workload_name == workload.PRIVATE_API and not caller.operator:
        raise Forbidden(f"workload {workload.PRIVATE_API} (the control plane's API in a "
                        "customer's subnet) is offered by the operator only", where="workload")


def check_no_public_path(app: Appliance, *, where: str) -> None:
    """A private API endpoint is reachable from its subnet (and what routes to it) only."""
    if app.service.workload == workload.PRIVATE_API:
        raise Conflict(f"appliance {app.name} is a private endpoint of the control plane's "
                       "API; it takes no public address (the API is reached from the "
                       "appliance's subnet only)", where=where)
