"""/v1/sites and /v1/vpns: customer sites, their hosts, and the private channels that join a
site to a network (docs/edge.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from facade.api.deps import Auth, Ctx, Owner, Paging, located, named
from facade.api.schemas import (
    SiteCreate,
    SiteHostCreate,
    SiteHostRead,
    SitePage,
    SiteRead,
    VpnCreate,
    VpnPage,
    VpnRead,
)
from facade.service import sites, vpns

router = APIRouter(tags=["edge"])


@router.get("/v1/sites", response_model=SitePage, operation_id="list_sites")
def list_sites(ctx: Ctx, caller: Auth, page: Paging) -> Any:
    return sites.list_(ctx, caller, page)


@router.post("/v1/sites", status_code=201, response_model=SiteRead, operation_id="create_site")
def create_site(body: SiteCreate, ctx: Ctx, caller: Auth, response: Response) -> Any:
    view = sites.create(ctx, caller, body.name, body.account, body.cidr)
    return located(response, "/v1/sites/{name}", view, caller)


@router.get("/v1/sites/{name}", response_model=SiteRead, operation_id="get_site")
def get_site(name: str, ctx: Ctx, caller: Auth, owner: Owner = None) -> Any:
    return sites.get(ctx, caller, named(name, owner))


@router.delete("/v1/sites/{name}", status_code=204, operation_id="delete_site")
def delete_site(name: str, ctx: Ctx, caller: Auth, owner: Owner = None) -> Response:
    sites.delete(ctx, caller, named(name, owner))
    return Response(status_code=204)


@router.post("/v1/sites/{name}/hosts", status_code=201, response_model=SiteHostRead,
             operation_id="add_site_host")
def add_site_host(name: str, body: SiteHostCreate, ctx: Ctx, caller: Auth,
                  owner: Owner = None) -> Any:
    return sites.add_host(ctx, caller, named(name, owner), body.name, body.ip)


@router.delete("/v1/sites/{name}/hosts/{host}", status_code=204,
               operation_id="delete_site_host")
def delete_site_host(name: str, host: str, ctx: Ctx, caller: Auth, owner: Owner = None) -> Response:
    sites.delete_host(ctx, caller, named(name, owner), host)
    return Response(status_code=204)


@router.get("/v1/vpns", response_model=VpnPage, operation_id="list_vpns")
def list_vpns(ctx: Ctx, caller: Auth, page: Paging) -> Any:
    return vpns.list_(ctx, caller, page)


@router.post("/v1/vpns", status_code=201, response_model=VpnRead, operation_id="create_vpn")
def create_vpn(body: VpnCreate, ctx: Ctx, caller: Auth, response: Response) -> Any:
    view = vpns.create(ctx, caller, body.name, body.network, body.site)
    return located(response, "/v1/vpns/{name}", view, caller)


@router.get("/v1/vpns/{name}", response_model=VpnRead, operation_id="get_vpn")
def get_vpn(name: str, ctx: Ctx, caller: Auth, owner: Owner = None) -> Any:
    return vpns.get(ctx, caller, named(name, owner))


@router.delete("/v1/vpns/{name}", status_code=204, operation_id="delete_vpn")
def delete_vpn(name: str, ctx: Ctx, caller: Auth, owner: Owner = None) -> Response:
    vpns.delete(ctx, caller, named(name, owner))
    return Response(status_code=204)
