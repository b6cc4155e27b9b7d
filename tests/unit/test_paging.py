"""Paging's pure part (docs/api.md, "Paging"): cursors round-trip and are URL-safe, and a page
request checks its limit (the list routes: tests/service/test_paging.py)."""

from __future__ import annotations

import pytest

from facade.domain import paging
from facade.domain.errors import Invalid

pytestmark = pytest.mark.no_store  # tests/conftest.py

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
