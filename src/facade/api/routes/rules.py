"""Security rules of a subnet (/v1/subnets/{network}/{subnet}/rules) and of one interface of an
instance (/v1/instances/{name}/interfaces/{ifname}/rules). See docs/security.md."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from facade.api.deps import Auth, Ctx, Owner, Paging, named
from facade.api.schemas import RuleCreate, RulePage, RuleRead
from facade.service import rules

router = APIRouter(tags=["rules"])

SUBNET = "/v1/subnets/{network}/{subnet}/rules"
INTERFACE = "/v1/instances/{name}/interfaces/{ifname}/rules"


@router.get(SUBNET, response_model=RulePage, operation_id="list_subnet_rules")
def list_subnet_rules(network: str, subnet: str, ctx: Ctx, caller: Auth, page: Paging,
                      owner: Owner = None) -> Any:
    return rules.list_(ctx, caller, subnet=named(f"{network}/{subnet}", owner), page=page)


@router.post(SUBNET, status_code=201, response_model=RuleRead,
             operation_id="create_subnet_rule")
def create_subnet_rule(network: str, subnet: str, body: RuleCreate, ctx: Ctx,
                       caller: Auth, owner: Owner = None) -> Any:
    return rules.create(ctx, caller, body.model_dump(), subnet=named(f"{network}/{subnet}", owner))


@router.delete(SUBNET + "/{priority}", status_code=204, operation_id="delete_subnet_rule")
def delete_subnet_rule(network: str, subnet: str, priority: int, direction: str, ctx: Ctx,
                       caller: Auth, owner: Owner = None) -> Response:
    rules.delete_(ctx, caller, direction, priority, subnet=named(f"{network}/{subnet}", owner))
    return Response(status_code=204)


@router.get(INTERFACE, response_model=RulePage, operation_id="list_interface_rules")
def list_interface_rules(name: str, ifname: str, ctx: Ctx, caller: Auth, page: Paging,
                         owner: Owner = None) -> Any:
    return rules.list_(ctx, caller, interface=(named(name, owner), ifname), page=page)


@router.post(INTERFACE, status_code=201, response_model=RuleRead,
             operation_id="create_interface_rule")
def create_interface_rule(name: str, ifname: str, body: RuleCreate, ctx: Ctx,
                          caller: Auth, owner: Owner = None) -> Any:
    return rules.create(ctx, caller, body.model_dump(), interface=(named(name, owner), ifname))


@router.delete(INTERFACE + "/{priority}", status_code=204, operation_id="delete_interface_rule")
def delete_interface_rule(name: str, ifname: str, priority: int, direction: str, ctx: Ctx,
                          caller: Auth, owner: Owner = None) -> Response:
    rules.delete_(ctx, caller, direction, priority, interface=(named(name, owner), ifname))
    return Response(status_code=204)
