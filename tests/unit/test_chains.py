"""Chained appliances in the scenario file: a service's `upstream` parsed with its line, bad
upstreams refused at theirs (the chain on the fake data plane: tests/service/test_chains.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from facade.domain.errors import Invalid
from facade.scenario import parse_scenario

pytestmark = pytest.mark.no_store  # tests/conftest.py

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "chain.yaml"


# -- the scenario file ------------------------------------------------------------------------

def test_the_example_parses_with_its_upstream() -> None:
    sc = parse_scenario(EXAMPLE.read_text(), "chain.yaml")
    web = next(s for s in sc.services if s.name == "web")
    assert web.workload == "web" and web.upstream == "site-index"
    assert next(s for s in sc.services if s.name == "search").upstream is None


BASE = """\
networks:
  - {name: n, account: a, cidr: 10.0.0.0/16,
     subnets: [{name: b, cidr: 10.0.1.0/24}, {name: m, cidr: 10.0.2.0/24},
               {name: c, cidr: 10.0.3.0/24}]}
services:
  - name: s
    account: a
    workload: web
    port: 80
    backend_subnet: n/b
    management_subnet: n/m
    upstream: UP
  - {name: t, account: a, workload: web, port: 80, backend_subnet: n/b, management_subnet: n/m,
     upstream: s-1}
appliances:
  - {name: x, account: a, service: s, subnet: n/c}
"""


@pytest.mark.parametrize(("upstream", "extra", "line", "words"), [
    ("Bad_Name", "", 12, "upstream appliance"),
    ("[x]", "", 12, "upstream appliance"),
    ("x", "", 12, "backend subnet n/b"),          # x is in n/c, not in s's backend subnet
    ("t-1", "  - {name: t-1, account: a, service: t, subnet: n/b}\n"
            "  - {name: s-1, account: a, service: s, subnet: n/b}\n", 12, "loop"),
])
def test_bad_upstreams_are_invalid_at_their_line(upstream: str, extra: str, line: int,
                                                 words: str) -> None:
    with pytest.raises(Invalid) as info:
        parse_scenario(BASE.replace("UP", upstream) + extra, "bad.yaml")
    assert info.value.where == f"bad.yaml:{line}", str(info.value)
    assert words in info.value.message, str(info.value)


def test_upstream_is_an_allowed_service_key() -> None:
    with pytest.raises(Invalid) as info:
        parse_scenario(BASE.replace("upstream: UP", "upstreem: x"), "bad.yaml")
    assert "upstream" in info.value.message and info.value.where == "bad.yaml:12"
