"""Read models built from rows the caller loaded: facade.readmodels' (accounts, networks and
subnets, nodes, services, appliances) for
what has one, else the JSON-ready dictionaries the API answers with (shapes in docs/api.md);
`interfaces_of` reads many nodes' interfaces at once for list pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain import health, names, sandbox, tenancy
from facade.domain.ipam import SubnetRange
from facade.domain.states import ApplianceStatus, NodeRole, NodeStatus
from facade.readmodels.accounts import AccountRead
from facade.readmodels.appliances import ApplianceRead, Endpoint
from facade.readmodels.networks import NetworkRead, SubnetRead
from facade.readmodels.nodes import InterfaceRead, LimitsRead, NodeRead
from facade.readmodels.services import HealthCheckRead, ServiceRead
from facade.service import health_checks, sandboxes
from facade.service.billing import price_lists
from facade.store.models import Account, Appliance, Instance, Interface, Network, Service, Subnet


def account(row: Account) -> AccountRead:
    return AccountRead(name=row.name, operator=row.operator)


def subnet(row: Subnet, used: int) -> SubnetRead:
    rng = SubnetRange.of(row.cidr)
    return SubnetRead(name=row.path, network=row.network.name,
                      account=row.network.account.name, cidr=row.cidr,
                      gateway=str(rng.gateway), used=used, capacity=rng.capacity,
                      bridge=names.bridge(row.id), internet=row.internet, sites=row.sites)


def network(row: Network, used: dict[int, int]) -> NetworkRead:
    return NetworkRead(name=row.name, account=row.account.name, cidr=row.cidr,
                       router=names.router_netns(row.id), kind=row.kind,
                       public_gateway=row.public_gateway, outbound_nat=row.outbound_nat,
                       gateway_ip=row.gateway_ip,
                       subnets=[subnet(s, used.get(s.id, 0)) for s in row.subnets])


def interface(row: Interface) -> InterfaceRead:
    return InterfaceRead(name=names.inner_ifname(row.index), subnet=row.subnet.path, ip=row.ip)


def interfaces_of(session: Session, node_ids: list[int]) -> dict[int, list[InterfaceRead]]:
    """The interfaces of many nodes (by id), read as plain rows in one query: what a page of
    appliances shows costs a fraction of loading each interface as an object."""
    found: dict[int, list[InterfaceRead]] = {i: [] for i in node_ids}
    if not node_ids:
        return found
    rows = session.execute(
        select(Interface.instance_id, Interface.index, Interface.ip, Network.name, Subnet.name)
        .join(Subnet, Interface.subnet_id == Subnet.id)
        .join(Network, Subnet.network_id == Network.id)
        .where(Interface.instance_id.in_(node_ids))
        .order_by(Interface.instance_id, Interface.index))
    for node_id, index, ip, network_name, subnet_name in rows:
        found[node_id].append(InterfaceRead(name=names.inner_ifname(index),
                                            subnet=f"{network_name}/{subnet_name}", ip=ip))
    return found


def node_fields(row: Instance, appliance_name: str | None = None,
                management: Mapping[str, dict[str, Any]] | None = None,
                interfaces: list[InterfaceRead] | None = None) -> dict[str, Any]:
    """A node's fields (NodeRead's), for a kind of node with fields of its own to add to (an
    external host, a site's host); `interfaces` as `interfaces_of` read them, else from the
    row."""
    return {"name": row.name, "account": row.account.name, "role": row.role,
            "netns": names.node_netns(row.id, row.name), "status": row.status,
            "appliance": appliance_name,
            "interfaces": [interface(i) for i in row.interfaces] if interfaces is None
            else list(interfaces),
            "limits": limits(sandboxes.limits_of(row)),
            "management": (management or {}).get(names.node_netns(row.id, row.name)),
            "host": host_of(row)}


def host_of(row: Instance) -> str:
    """The name of the host a node is on: None in its row is the local host."""
    return row.host.name if row.host is not None else names.LOCAL_HOST


def node(row: Instance, appliance_name: str | None = None,
         management: Mapping[str, dict[str, Any]] | None = None,
         interfaces: list[InterfaceRead] | None = None) -> NodeRead:
    """A node; `interfaces` as `interfaces_of` read them, else from the row."""
    return NodeRead(**node_fields(row, appliance_name, management, interfaces))


def service(row: Service, *, owner_view: bool = False) -> ServiceRead:
    """A service is an offer everyone sees; which appliance its backends call (`upstream`),
    its front-ends' offer and its backends' extra subnets are the provider's business, shown to
    the provider and the operator only."""
    billing_model, prices = price_lists.service_view(row)
    return ServiceRead(
        name=row.name, account=row.account.name, workload=row.workload, command=row.command,
        port=row.port, health_path=row.health_path, backend_subnet=row.backend_subnet.path,
        management_subnet=row.management_subnet.path,
        upstream=row.upstream if owner_view else None,
        frontend=row.frontend.name if owner_view and row.frontend else None,
        extra_subnets=[e.subnet.path for e in row.extra_subnets] if owner_view else None,
        limits=limits(sandboxes.of_row(row)),
        health_check=health_check(health_checks.of_row(row)),
        billing_model=billing_model, prices=prices, tenancy=row.tenancy)


def limits(of: sandbox.Limits) -> LimitsRead:
    return LimitsRead(memory_mb=of.memory_mb, pids=of.pids, cpu_weight=of.cpu_weight)


def health_check(of: health.HealthCheck) -> HealthCheckRead:
    return HealthCheckRead(**of.as_dict())


def appliance(row: Appliance, management: Mapping[str, dict[str, Any]] | None = None, *,
              provider_view: bool = True, uses: list[str] | None = None,
              used_by: list[str] | None = None, frontend_view: bool = True,
              interfaces: dict[int, list[InterfaceRead]] | None = None) -> ApplianceRead:
    """An appliance as its provider (and the operator) see it. The customer's view
    (`provider_view=False`) shows the endpoint and the front-end's interface in the customer's
    own subnet, never the provider's backend nodes or the front-end's other legs: like the
    patent's customer, it sees one appliance in its subnet, however it is built. Chaining
    (service/chains.py): `upstream` and `uses` (what the backends call) are the provider's
    view only; `used_by` is given already filtered to what the caller may see. A front-end
    owned by a load-balancer provider (third-party front-ends) shows the appliance provider
    (`frontend_view=False`) its existence and its customer and backend legs, never its
    management address or state, which are the load-balancer provider's. `interfaces`: its
    nodes' (`interfaces_of`), else read from the rows."""
    fe = next((n for n in row.nodes if n.role == NodeRole.FRONTEND), None)
    backends = [n for n in row.nodes if n.role == NodeRole.BACKEND]

    def legs(n: Instance) -> list[InterfaceRead] | None:
        return None if interfaces is None else interfaces[n.id]

    frontend = node(fe, row.name, management, legs(fe)) if fe else None
    endpoint_ip = frontend.interfaces[0].ip if frontend and frontend.interfaces else None
    if frontend is not None and (not provider_view or not frontend_view):
        # the customer sees its own leg; a provider its own two (not the front-end's owner's)
        mine = {row.subnet.path} if not provider_view \
            else {row.subnet.path, row.service.backend_subnet.path}
        frontend = frontend.model_copy(update={
            "interfaces": [i for i in frontend.interfaces if i.subnet in mine],
            "management": None})
    return ApplianceRead(
        name=row.name, account=row.account.name, service=row.service.name,
        provider=row.service.account.name, subnet=row.subnet.path,
        status=ApplianceStatus(row.status), status_detail=row.status_detail,
        desired_backends=row.desired_backends,
        tenancy=tenancy.effective(row.service.tenancy, row.tenancy).value,
        endpoint=Endpoint(ip=endpoint_ip, port=row.service.port),
        backend_count=sum(1 for b in backends if b.status != NodeStatus.DELETING),
        frontend=frontend,
        backends=[node(b, row.name, management, legs(b)) for b in backends]
        if provider_view else [],
        upstream=row.service.upstream if provider_view else None,
        uses=list(uses or []) if provider_view else [],
        used_by=list(used_by or []),
    )
