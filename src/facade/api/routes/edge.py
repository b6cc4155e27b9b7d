"""/v1/public-ips, /v1/ip-pools and /v1/externals: the provider network's edge (docs/edge.md).
Customer public addresses (allocate, associate or remap, disassociate, release), the operator's
pools, and external hosts on the intermediate network."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from facade.api.deps import Auth, Ctx, Owner, Paging, located, named
from facade.api.schemas import (
    ExternalCreate,
    ExternalPage,
    ExternalRead,
    PoolCreate,
    PoolPage,
    PoolRead,
    PublicIpAssociate,
    PublicIpCreate,
    PublicIpPage,
    PublicIpRead,
)
from facade.service import internet, ip_pools, public_ips

router = APIRouter(tags=["edge"])


@router.get("/v1/public-ips", response_model=PublicIpPage, operation_id="list_public_ips")
def list_public_ips(ctx: Ctx, caller: Auth, page: Paging) -> Any:
    return public_ips.list_(ctx, caller, page)


@router.post("/v1/public-ips", status_code=201, response_model=PublicIpRead,
             operation_id="allocate_public_ip")
def allocate_public_ip(body: PublicIpCreate, ctx: Ctx, caller: Auth, response: Response) -> Any:
    view = public_ips.allocate(ctx, caller, body.account)
    return located(response, "/v1/public-ips/{address}", view)


@router.get("/v1/public-ips/{address}", response_model=PublicIpRead,
            operation_id="get_public_ip")
def get_public_ip(address: str, ctx: Ctx, caller: Auth) -> Any:
    return public_ips.get(ctx, caller, address)


@router.post("/v1/public-ips/{address}/associate", response_model=PublicIpRead,
             operation_id="associate_public_ip")
def associate_public_ip(address: str, body: PublicIpAssociate, ctx: Ctx, caller: Auth) -> Any:
    return public_ips.associate(ctx, caller, address, body.instance, body.iface,
                                body.appliance, body.site, body.site_address)


@router.post("/v1/public-ips/{address}/disassociate", response_model=PublicIpRead,
             operation_id="disassociate_public_ip")
def disassociate_public_ip(address: str, ctx: Ctx, caller: Auth) -> Any:
    return public_ips.disassociate(ctx, caller, address)


@router.delete("/v1/public-ips/{address}", status_code=204, operation_id="release_public_ip")
def release_public_ip(address: str, ctx: Ctx, caller: Auth) -> Response:
    public_ips.release(ctx, caller, address)
    return Response(status_code=204)


@router.get("/v1/ip-pools", response_model=PoolPage, operation_id="list_ip_pools")
def list_ip_pools(ctx: Ctx, caller: Auth, page: Paging) -> Any:
    return ip_pools.list_pools(ctx, caller, page)


@router.post("/v1/ip-pools", status_code=201, response_model=PoolRead,
             operation_id="add_ip_pool")
def add_ip_pool(body: PoolCreate, ctx: Ctx, caller: Auth) -> Any:
    return ip_pools.add_pool(ctx, caller, body.cidr)


@router.get("/v1/externals", response_model=ExternalPage, operation_id="list_externals")
def list_externals(ctx: Ctx, caller: Auth, page: Paging) -> Any:
    return internet.list_(ctx, caller, page)


@router.post("/v1/externals", status_code=201, response_model=ExternalRead,
             operation_id="create_external")
def create_external(body: ExternalCreate, ctx: Ctx, caller: Auth, response: Response) -> Any:
    view = internet.create(ctx, caller, body.name, body.account, body.ip)
    return located(response, "/v1/externals/{name}", view, caller)


@router.get("/v1/externals/{name}", response_model=ExternalRead, operation_id="get_external")
def get_external(name: str, ctx: Ctx, caller: Auth, owner: Owner = None) -> Any:
    return internet.get(ctx, caller, named(name, owner))


@router.delete("/v1/externals/{name}", status_code=204, operation_id="delete_external")
def delete_external(name: str, ctx: Ctx, caller: Auth, owner: Owner = None) -> Response:
    internet.delete(ctx, caller, named(name, owner))
    return Response(status_code=204)
