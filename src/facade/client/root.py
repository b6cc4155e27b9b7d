"""`Client`: the settings, one HTTP session, and one attribute per resource of the API.

    with Client.from_settings(Settings.resolve(profile="prod")) as api:
        for net in api.networks.list(account="acme"):
            print(net.name, net.cidr)

Every method raises a FacadeError subclass on failure (errors.py); `http` is the raw session
for a route without a typed method.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Self

import httpx

from facade.client.http import Http
from facade.client.models import (
    Account,
    Appliance,
    External,
    Host,
    LoadBalancer,
    Network,
    Node,
    Pool,
    PublicIp,
    Service,
    Site,
    Subnet,
    Vpn,
)
from facade.client.resources import (
    Accounts,
    Appliances,
    Billing,
    Collection,
    Hosts,
    Instances,
    Networks,
    Owned,
    PublicIps,
    Rules,
    Services,
    Sites,
    Subnets,
    System,
    UsageReports,
)
from facade.client.settings import Settings


class Client:
    """A typed client of the /v1 API (docs/client.md)."""

    def __init__(self, http: Http) -> None:
        self.http = http
        self.accounts = Accounts(http, "/v1/accounts", Account)
        self.networks = Networks(http, "/v1/networks", Network)
        self.subnets = Subnets(http, "/v1/subnets", Subnet)
        self.instances = Instances(http, "/v1/instances", Node)
        self.services = Services(http, "/v1/services", Service)
        self.load_balancers = Owned(http, "/v1/load-balancers", LoadBalancer)
        self.appliances = Appliances(http, "/v1/appliances", Appliance)
        self.rules = Rules(http)
        self.ip_pools = Collection(http, "/v1/ip-pools", Pool)
        self.public_ips = PublicIps(http, "/v1/public-ips", PublicIp)
        self.externals = Owned(http, "/v1/externals", External)
        self.sites = Sites(http, "/v1/sites", Site)
        self.vpns = Owned(http, "/v1/vpns", Vpn)
        self.billing = Billing(http)
        self.usage = UsageReports(http)
        self.system = System(http)
        self.hosts = Hosts(http, "/v1/hosts", Host)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *,
                      transport: httpx.BaseTransport | None = None,
                      sleep: Callable[[float], None] | None = None) -> Client:
        """A client for `settings` (default: resolved from the environment and profile)."""
        settings = settings if settings is not None else Settings.resolve()
        return cls(Http(settings, transport, **({"sleep": sleep} if sleep else {})))

    @property
    def url(self) -> str:
        return self.http.url

    def healthy(self, timeout: float = 1.0) -> bool:
        return self.http.healthy(timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
