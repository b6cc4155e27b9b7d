"""/v1/networks and /v1/subnets: private networks, their subnets and the grants that let other
accounts place interfaces in a subnet."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from facade.api.deps import AccountFilter, Auth, Ctx, Owner, Paging, SubnetOwner, located, named
from facade.api.etags import IfMatch, guarded, tagged
from facade.api.schemas import (
    GrantCreate,
    GrantPage,
    GrantRead,
    GrantRevoked,
    NetworkCreate,
    NetworkPage,
    NetworkRead,
    NetworkUpdate,
    SubnetCreate,
    SubnetPage,
    SubnetRead,
    SubnetUpdate,
)
from facade.service import grants, networks

router = APIRouter(tags=["networks"])


@router.get("/v1/networks", response_model=NetworkPage, operation_id="list_networks")
def list_networks(ctx: Ctx, caller: Auth, page: Paging, account: AccountFilter = None) -> Any:
    return networks.list_networks(ctx, caller, page, account=account)


@router.post("/v1/networks", status_code=201, response_model=NetworkRead,
             operation_id="create_network")
def create_network(body: NetworkCreate, ctx: Ctx, caller: Auth, response: Response) -> Any:
    view = networks.create_network(ctx, caller, body.name, body.account, body.cidr,
                                   [s.model_dump() for s in body.subnets or []],
                                   public_gateway=body.public_gateway,
                                   outbound_nat=body.outbound_nat)
    return located(response, "/v1/networks/{name}", view, caller)


@router.patch("/v1/networks/{name}", response_model=NetworkRead, operation_id="update_network")
def update_network(name: str, body: NetworkUpdate, ctx: Ctx, caller: Auth, response: Response,
                   if_match: IfMatch = None, owner: Owner = None) -> Any:
    return tagged(response, guarded(
        ctx, if_match, lambda: networks.get_network(ctx, caller, named(name, owner)),
        lambda: networks.update_network(ctx, caller, named(name, owner),
                                        public_gateway=body.public_gateway,
                                        outbound_nat=body.outbound_nat)))


@router.get("/v1/networks/{name}", response_model=NetworkRead, operation_id="get_network")
def get_network(name: str, ctx: Ctx, caller: Auth, response: Response, owner: Owner = None) -> Any:
    return tagged(response, networks.get_network(ctx, caller, named(name, owner)))


@router.delete("/v1/networks/{name}", status_code=204, operation_id="delete_network")
def delete_network(name: str, ctx: Ctx, caller: Auth, owner: Owner = None) -> Response:
    networks.delete_network(ctx, caller, named(name, owner))
    return Response(status_code=204)


@router.post("/v1/networks/{network}/subnets", status_code=201, response_model=SubnetRead,
             operation_id="create_subnet")
def create_subnet(network: str, body: SubnetCreate, ctx: Ctx, caller: Auth,
                  response: Response, owner: Owner = None) -> Any:
    view = networks.create_subnet(ctx, caller, named(network, owner), body.name, body.cidr,
                                  body.internet,
                                  body.sites)
    return located(response, "/v1/subnets/{name}", view, caller)


@router.get("/v1/subnets", response_model=SubnetPage, operation_id="list_subnets")
def list_subnets(ctx: Ctx, caller: Auth, page: Paging, account: AccountFilter = None) -> Any:
    return networks.list_subnets(ctx, caller, page, account=account)


@router.patch("/v1/subnets/{network}/{subnet}", response_model=SubnetRead,
              operation_id="update_subnet")
def update_subnet(network: str, subnet: str, body: SubnetUpdate, ctx: Ctx,
                  caller: Auth, response: Response, if_match: IfMatch = None,
                  owner: Owner = None) -> Any:
    path = named(f"{network}/{subnet}", owner)
    return tagged(response, guarded(
        ctx, if_match, lambda: networks.get_subnet(ctx, caller, path),
        lambda: networks.update_subnet(ctx, caller, path, internet=body.internet,
                                       sites=body.sites)))


@router.get("/v1/subnets/{network}/{subnet}", response_model=SubnetRead,
            operation_id="get_subnet")
def get_subnet(network: str, subnet: str, ctx: Ctx, caller: Auth, response: Response,
               owner: Owner = None) -> Any:
    return tagged(response, networks.get_subnet(ctx, caller, named(f"{network}/{subnet}", owner)))


@router.delete("/v1/subnets/{network}/{subnet}", status_code=204, operation_id="delete_subnet")
def delete_subnet(network: str, subnet: str, ctx: Ctx, caller: Auth,
                  owner: Owner = None) -> Response:
    networks.delete_subnet(ctx, caller, named(f"{network}/{subnet}", owner))
    return Response(status_code=204)


@router.post("/v1/subnets/{network}/{subnet}/grants", status_code=201, response_model=GrantRead,
             operation_id="create_grant")
def create_grant(network: str, subnet: str, body: GrantCreate, ctx: Ctx, caller: Auth,
                 owner: Owner = None) -> Any:
    return grants.grant(ctx, caller, named(f"{network}/{subnet}", owner), body.account)


@router.get("/v1/subnets/{network}/{subnet}/grants", response_model=GrantPage,
            operation_id="list_grants")
def list_grants(network: str, subnet: str, ctx: Ctx, caller: Auth, page: Paging,
                owner: Owner = None) -> Any:
    return grants.list_(ctx, caller, named(f"{network}/{subnet}", owner), page)


@router.delete("/v1/subnets/{network}/{subnet}/grants/{account}", response_model=GrantRevoked,
               operation_id="delete_grant")
def delete_grant(network: str, subnet: str, account: str, ctx: Ctx, caller: Auth,
                 owner: SubnetOwner = None) -> Any:
    return grants.revoke(ctx, caller, named(f"{network}/{subnet}", owner), account)
