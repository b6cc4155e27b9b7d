"""facade.client against the real API in-process (the control plane on the fake driver):
typed objects as the API stores them, read back over the raw API; its errors for what the API
refuses."""

from __future__ import annotations

from typing import Any

import pytest

from facade.client import Client, Conflict, InvalidRequest, NotFound, Settings
from facade.client.models import Account
from tests.service.helpers import ok


def _client(api: Any, token: str) -> Client:
    # the TestClient's ASGI transport: the app in-process, as a network client would see it
    return Client.from_settings(Settings(url="http://testserver", token=token),
                                transport=api.client._transport)


def test_the_client_creates_reads_and_lists_what_the_api_holds(api: Any) -> None:
    with _client(api, api.token) as facade:
        assert facade.accounts.create({"name": "acme"}) == Account(name="acme", operator=False)
        net = facade.networks.create({"name": "acme-vpc", "account": "acme",
                                      "cidr": "10.0.0.0/16"})
        sub = facade.subnets.create_in("acme-vpc", {"name": "app", "cidr": "10.0.1.0/24"})
        assert (net.name, sub.network, sub.cidr) == ("acme-vpc", "acme-vpc", "10.0.1.0/24")
        # read back through the raw API: the same objects, every field as the API sent it
        raw = ok(api.req("GET", "/v1/networks/acme-vpc"))
        assert facade.networks.get("acme-vpc").model_dump(mode="json") == raw
        assert facade.subnets.get("acme-vpc/app").model_dump(mode="json") == ok(
            api.req("GET", "/v1/subnets/acme-vpc/app"))
        assert [a.name for a in facade.accounts.list()] == [
            a["name"] for a in api.items("/v1/accounts")]
        token = facade.accounts.token("acme").token
    with _client(api, token) as acme:  # the account sees its own only
        assert [n.name for n in acme.networks.list()] == ["acme-vpc"]
        with pytest.raises(NotFound) as caught:
            acme.accounts.get("operator")
        assert caught.value.exit_code == 3


def test_what_the_api_refuses_is_a_typed_error_with_its_body(api: Any) -> None:
    with _client(api, api.token) as facade:
        facade.accounts.create({"name": "acme"})
        with pytest.raises(Conflict) as conflict:
            facade.accounts.create({"name": "acme"})
        assert conflict.value.exit_code == 4 and conflict.value.status == 409
        with pytest.raises(InvalidRequest) as invalid:
            facade.networks.create({"name": "n", "account": "acme", "cidr": "10.0.0.0/33"})
        assert invalid.value.exit_code == 2 and invalid.value.where
        assert invalid.value.body["error"]["where"] == invalid.value.where
        assert facade.appliances.find("nothing") is None
    # the refused requests changed nothing
    assert sorted(a["name"] for a in api.items("/v1/accounts")) == ["acme", "operator"]
    assert api.items("/v1/networks") == []
