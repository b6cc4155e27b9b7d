"""The API's resources as typed methods: one class per collection, each method one route,
answering the models.py object the route answers (its read model, parsed from the JSON; an
answer that does not fit it is a ProtocolError).

Bodies are the API's (docs/api.md), checked by the API: a mistake comes back as
InvalidRequest naming the field. Lists are read to the end, page by page (`Http.list_all`);
filters are the route's query parameters (`client.appliances.list(status=ApplianceStatus.FAILED)`).

Names are unique per account (docs/api.md, "Names"): an item method's `account` names the
account whose object it is (`client.networks.get("prod", account="acme")`, sent as
`?account=`); without it a name is the caller's own object, else the one it may see.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from pydantic import BaseModel

from facade.client.http import Http
from facade.client.models import (
    Account,
    Appliance,
    Autoscale,
    BillingRun,
    ChannelUsage,
    Event,
    Exec,
    FrontEndPrices,
    Grant,
    GrantRevoked,
    HealthCheck,
    Host,
    HostToken,
    InstancePrices,
    Invoice,
    Ledger,
    Limits,
    Network,
    Node,
    PublicIp,
    PublicIpUsage,
    Quota,
    Rule,
    Scenario,
    Service,
    Site,
    SiteHost,
    Subnet,
    Token,
    Topology,
    Usage,
)
from facade.client.parsing import parse

T = TypeVar("T", bound=BaseModel)
M = TypeVar("M", bound=BaseModel)
Body = Mapping[str, Any]
Query = Mapping[str, Any]


def seg(name: str) -> str:
    """One path segment, quoted (names are plain, but a typo must not change the route)."""
    return quote(name, safe="")


def _owner(account: str | None, key: str = "account") -> dict[str, Any] | None:
    """The query naming whose object an item route's name is (None: the default one)."""
    return {key: account} if account is not None else None


def _query(filters: Mapping[str, Any]) -> dict[str, Any] | None:
    """The filters given (None values left out)."""
    return {k: v for k, v in filters.items() if v is not None} or None


class Collection(Generic[T]):
    """A list route and its items by name: `/v1/networks`, `/v1/networks/NAME`."""

    def __init__(self, http: Http, path: str, model: type[T]) -> None:
        self.http = http
        self.path = path
        self.model = model

    def item(self, name: str) -> str:
        return f"{self.path}/{seg(name)}"

    def one(self, data: Any) -> T:
        return parse(self.model, data)

    def list(self, **filters: Any) -> list[T]:
        return self.http.list_all(self.path, self.model, _query(filters))

    def get(self, name: str) -> T:
        return self.one(self.http.get(self.item(name)))

    def find(self, name: str) -> T | None:
        """The object, or None when there is none (a 404)."""
        data = self.http.get(self.item(name), missing_ok=True)
        return None if data is None else self.one(data)

    def create(self, body: Body, *, idempotency_key: str | None = None) -> T:
        """POST the body; with an `idempotency_key` a retry after a lost connection is safe
        (the API does the work once, docs/api.md)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self.one(self.http.post(self.path, dict(body), headers=headers))

    def delete(self, name: str) -> None:
        self.http.delete(self.item(name))


class Owned(Collection[T]):
    """A collection of account-owned objects, whose names are unique per account: each item
    method takes `account`, the account whose object it is (`?account=`)."""

    def get(self, name: str, *, account: str | None = None) -> T:
        return self.one(self.http.get(self.item(name), params=_owner(account)))

    def find(self, name: str, *, account: str | None = None) -> T | None:
        """The object, or None when there is none (a 404)."""
        data = self.http.get(self.item(name), params=_owner(account), missing_ok=True)
        return None if data is None else self.one(data)

    def delete(self, name: str, *, account: str | None = None) -> None:
        self.http.delete(self.item(name), params=_owner(account))


class Accounts(Collection[Account]):
    def token(self, name: str, *, rotate: bool = False) -> Token:
        """A new token for the account (`rotate`: and every older one refused)."""
        return parse(Token, self.http.post(self.item(name) + ("/tokens/rotate" if rotate
                                                             else "/tokens")))

    def quotas(self, name: str) -> Quota:
        return parse(Quota, self.http.get(self.item(name) + "/quotas"))

    def set_quotas(self, name: str, body: Body) -> Quota:
        return parse(Quota, self.http.put(self.item(name) + "/quotas", dict(body)))

    def frontend_prices(self, name: str) -> FrontEndPrices:
        return parse(FrontEndPrices, self.http.get(self.item(name) + "/frontend-prices"))

    def set_frontend_prices(self, name: str, body: Body) -> FrontEndPrices:
        return parse(FrontEndPrices, self.http.put(self.item(name) + "/frontend-prices",
                                                  dict(body)))

    def invoice(self, name: str, period: str) -> Invoice:
        return parse(Invoice, self.http.get(self.item(name) + "/invoice",
                                           params={"period": period}))


class Hosts(Collection[Host]):
    """The machines that hold nodes (operator only): `list(state=...)`, `get`, `drain`,
    `delete` (refused while a host holds nodes, and for the local host)."""

    def drain(self, name: str) -> Host:
        return parse(Host, self.http.post(self.item(name) + "/drain"))

    def resume(self, name: str) -> Host:
        return parse(Host, self.http.post(self.item(name) + "/resume"))

    def create_token(self, name: str) -> HostToken:
        """A token for the host's agent (shown once)."""
        return parse(HostToken, self.http.post(self.item(name) + "/tokens"))

    def revoke_tokens(self, name: str) -> None:
        self.http.delete(self.item(name) + "/tokens")


class Networks(Owned[Network]):
    def update(self, name: str, body: Body, *, account: str | None = None) -> Network:
        return parse(Network, self.http.patch(self.item(name), dict(body),
                                             params=_owner(account)))


class Subnets(Owned[Subnet]):
    """Subnets, named `NETWORK/SUBNET` (created in their network); `account` is the
    network's account. The grantee of grant and revoke is their `account`, so the subnet's
    account is their `subnet_account`."""

    def item(self, name: str) -> str:
        network, _, subnet = name.partition("/")
        return f"{self.path}/{seg(network)}/{seg(subnet)}"

    def create_in(self, network: str, body: Body, *, account: str | None = None) -> Subnet:
        return parse(Subnet, self.http.post(f"/v1/networks/{seg(network)}/subnets", dict(body),
                                           params=_owner(account)))

    def update(self, name: str, body: Body, *, account: str | None = None) -> Subnet:
        return parse(Subnet, self.http.patch(self.item(name), dict(body),
                                            params=_owner(account)))

    def grants(self, name: str, *, account: str | None = None) -> list[Grant]:
        return self.http.list_all(self.item(name) + "/grants", Grant, _owner(account))

    def grant(self, name: str, account: str, *, subnet_account: str | None = None) -> Grant:
        # the grant's body names the grantee; the query the subnet's account
        return parse(Grant, self.http.post(self.item(name) + "/grants", {"account": account},
                                          params=_owner(subnet_account)))

    def revoke(self, name: str, account: str, *,
               subnet_account: str | None = None) -> GrantRevoked:
        # the route's path names the grantee `account`, so the API's query is ?subnet_account=
        return parse(GrantRevoked, self.http.delete(
            f"{self.item(name)}/grants/{seg(account)}",
            params=_owner(subnet_account, "subnet_account")))


class Instances(Owned[Node]):
    def exec(self, name: str, body: Body, *, timeout: float | None = None,
             account: str | None = None) -> Exec:
        return parse(Exec, self.http.post(self.item(name) + "/exec", dict(body),
                                         timeout=timeout, params=_owner(account)))

    def set_limits(self, name: str, body: Body, *, account: str | None = None) -> Limits:
        return parse(Limits, self.http.put(self.item(name) + "/limits", dict(body),
                                          params=_owner(account)))


class Services(Owned[Service]):
    def set_limits(self, name: str, body: Body, *, account: str | None = None) -> Limits:
        return parse(Limits, self.http.put(self.item(name) + "/limits", dict(body),
                                          params=_owner(account)))

    def set_health_check(self, name: str, body: Body, *,
                         account: str | None = None) -> HealthCheck:
        return parse(HealthCheck, self.http.put(self.item(name) + "/health_check", dict(body),
                                               params=_owner(account)))

    def autoscale(self, name: str, *, account: str | None = None) -> Autoscale:
        return parse(Autoscale, self.http.get(self.item(name) + "/autoscale",
                                             params=_owner(account)))

    def set_autoscale(self, name: str, body: Body, *,
                      account: str | None = None) -> Autoscale:
        return parse(Autoscale, self.http.put(self.item(name) + "/autoscale", dict(body),
                                             params=_owner(account)))

    def stop_autoscale(self, name: str, *, account: str | None = None) -> Autoscale:
        return parse(Autoscale, self.http.delete(self.item(name) + "/autoscale",
                                                params=_owner(account)))


class Appliances(Owned[Appliance]):
    """Appliances: create, scale and delete answer 202 and the appliance, whose status tells
    how far the change has come (client.wait's helpers poll it)."""

    def update(self, name: str, body: Body, *, account: str | None = None) -> Appliance:
        return parse(Appliance, self.http.patch(self.item(name), dict(body),
                                               params=_owner(account)))

    def remove(self, name: str, *, force: bool = False, detach: bool = False,
               account: str | None = None) -> Appliance:
        """DELETE, answering the appliance as it is being deleted."""
        params = {"force": "true"} if force else {"detach": "true"} if detach else {}
        params.update(_owner(account) or {})
        return parse(Appliance, self.http.delete(self.item(name), params=params or None))


class PublicIps(Collection[PublicIp]):
    """Public addresses, by address."""

    def associate(self, address: str, body: Body) -> PublicIp:
        return parse(PublicIp, self.http.post(self.item(address) + "/associate", dict(body)))

    def disassociate(self, address: str) -> PublicIp:
        return parse(PublicIp, self.http.post(self.item(address) + "/disassociate"))


class Sites(Owned[Site]):
    def add_host(self, site: str, body: Body, *, account: str | None = None) -> SiteHost:
        return parse(SiteHost, self.http.post(self.item(site) + "/hosts", dict(body),
                                             params=_owner(account)))

    def remove_host(self, site: str, host: str, *, account: str | None = None) -> None:
        self.http.delete(f"{self.item(site)}/hosts/{seg(host)}", params=_owner(account))


class RuleSet:
    """The security rules of one subnet or one interface (docs/security.md); `account` is
    the subnet's or the instance's account (None: the default one, docs/api.md "Names")."""

    def __init__(self, http: Http, path: str, account: str | None = None) -> None:
        self.http = http
        self.path = path
        self.account = account

    def list(self) -> list[Rule]:
        return self.http.list_all(self.path, Rule, _owner(self.account))

    def add(self, body: Body) -> Rule:
        return parse(Rule, self.http.post(self.path, dict(body), params=_owner(self.account)))

    def delete(self, priority: int, direction: str) -> None:
        self.http.delete(f"{self.path}/{priority}",
                         params={"direction": direction, **(_owner(self.account) or {})})


class Rules:
    def __init__(self, http: Http) -> None:
        self.http = http

    def of_subnet(self, network: str, subnet: str, *, account: str | None = None) -> RuleSet:
        return RuleSet(self.http, f"/v1/subnets/{seg(network)}/{seg(subnet)}/rules", account)

    def of_interface(self, instance: str, ifname: str, *,
                     account: str | None = None) -> RuleSet:
        return RuleSet(self.http, f"/v1/instances/{seg(instance)}/interfaces/{seg(ifname)}"
                                  "/rules", account)


class Billing:
    def __init__(self, http: Http) -> None:
        self.http = http

    def prices(self) -> InstancePrices:
        return parse(InstancePrices, self.http.get("/v1/prices"))

    def set_prices(self, body: Body) -> InstancePrices:
        return parse(InstancePrices, self.http.put("/v1/prices", dict(body)))

    def set_edge_prices(self, body: Body) -> InstancePrices:
        """Set the edge prices; the API answers the operator's whole price list."""
        return parse(InstancePrices, self.http.put("/v1/prices/edge", dict(body)))

    def run(self, period: str) -> BillingRun:
        return parse(BillingRun, self.http.post("/v1/billing/runs", {"period": period}))

    def ledger(self, period: str | None = None) -> Ledger:
        return parse(Ledger, self.http.get("/v1/billing/ledger", params={"period": period}))


class UsageReports:
    """Metered usage: appliances and nodes, public addresses, VPN channels."""

    def __init__(self, http: Http) -> None:
        self.http = http

    def list(self, **filters: Any) -> list[Usage]:
        return self.http.list_all("/v1/usage", Usage, _query(filters))

    def public_ips(self, **filters: Any) -> builtins.list[PublicIpUsage]:
        return self.http.list_all("/v1/usage/public-ips", PublicIpUsage, _query(filters))

    def channels(self, **filters: Any) -> builtins.list[ChannelUsage]:
        return self.http.list_all("/v1/usage/channels", ChannelUsage, _query(filters))


class System:
    """Files of desired state (apply, destroy), events, the topology, health."""

    def __init__(self, http: Http) -> None:
        self.http = http

    def apply(self, yaml: str, filename: str = "", *, dry_run: bool = False) -> Scenario:
        return parse(Scenario, self.http.post("/v1/apply", {"yaml": yaml, "filename": filename},
                                             params={"dry_run": "true"} if dry_run else None))

    def destroy(self, yaml: str, filename: str = "") -> Scenario:
        return parse(Scenario, self.http.post("/v1/destroy",
                                             {"yaml": yaml, "filename": filename}))

    def events(self, most: int | None = None, request_id: str | None = None,
               account: str | None = None) -> list[Event]:
        """The newest events first (at most `most`); those one request caused, given its id;
        those an account is shown, given its name."""
        params = {k: v for k, v in (("request_id", request_id), ("account", account)) if v}
        return self.http.list_all("/v1/events", Event, params or None, most=most)

    def topology(self) -> Topology:
        return parse(Topology, self.http.get("/v1/topology"))

