"""Paging's pure part (docs/api.md, "Paging"): cursors round-trip and are URL-safe, and a page
request checks its limit (the list routes: tests/service/test_paging.py)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest

from facade.domain import paging
from facade.domain.errors import Invalid

# usage seeded by the tests, in an hour far from what the controller meters meanwhile
SEEDED_HOUR = 500_000  # hours since the epoch: 2027-01-15T08:00Z
DAY = dt.datetime.fromtimestamp(SEEDED_HOUR * 3600, dt.UTC).strftime("%Y-%m-%d")
# every list route of the API, and what identifies one of its items
LISTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "/v1/accounts": lambda i: i["name"],
    "/v1/networks": lambda i: i["name"],
    "/v1/subnets": lambda i: i["name"],
    "/v1/instances": lambda i: i["name"],
    "/v1/services": lambda i: i["name"],
    "/v1/load-balancers": lambda i: i["name"],
    "/v1/appliances": lambda i: i["name"],
    "/v1/events": lambda i: json.dumps(i, sort_keys=True),
    f"/v1/usage?period={DAY}": lambda i: (i["appliance"], i["customer"]),
    f"/v1/usage?by=node&period={DAY}": lambda i: (i["appliance"], i["node"]),
    "/v1/subnets/acme-vpc/app/rules": lambda i: (i["direction"], i["priority"]),
    "/v1/instances/client/interfaces/eth0/rules": lambda i: (i["direction"], i["priority"]),
    "/v1/subnets/search-vpc/backend/grants": lambda i: i["account"],
}


def b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


GARBAGE = ["garbage", "", "!!!", "%00", "A" * 600, b64("not json"), b64("{}"), b64("[]"),
           b64("[1, 2]"), b64('{"after": 5}'), b64('["appliances"]'),
           b64('["appliances", "5"]'), b64('["appliances", true]'),
           b64('["appliances", 1, 2]'), b64('["appliances", 1.5]'), b64('["appliances", null]'),
           b64('["other-list", 5]'), b64("\u00ff\u00fe"),
           base64.urlsafe_b64encode(b"\xff\xfe\x00").decode()]


# --- the cursor itself (domain.paging) --------------------------------------------------------


def test_cursors_round_trip_and_are_url_safe() -> None:
    for kind, key, shape in (("appliances", (42,), (int,)),
                             ("rules", ("ingress", 7), (str, int)),
                             ("usage-by-node", ("docs", 3, "docs-b1"), (str, int, str))):
        text = paging.encode(kind, key)
        assert text.isascii() and not set(text) & set("+/=&?# ")
        assert paging.decode(text, kind, shape) == key
    with pytest.raises(Invalid) as bad:
        paging.decode(paging.encode("rules", ("x", 1)), "rules", (int, int))
    assert bad.value.where == "cursor"


def test_page_request_checks_its_limit() -> None:
    for limit in (0, 1001, -5, True, "10", 1.5):
        with pytest.raises(Invalid) as bad:
            paging.PageRequest(limit=limit)  # type: ignore[arg-type]
        assert bad.value.where == "limit"
    assert paging.PageRequest(limit=1000).after("x", (int,)) is None
