"""Load-balancer offers in scenario files (top-level `load_balancers:`): parsed with their lines,
and every bad offer invalid at its line (applying them: tests/service/
test_scenario_load_balancers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from facade.domain.errors import Invalid
from facade.domain.scenario import LoadBalancerDecl
from facade.scenario import parse_scenario
from tests.lines import line_of

pytestmark = pytest.mark.no_store  # tests/conftest.py

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE = (EXAMPLES / "third-party-frontend.yaml").read_text()
FILE = "lb.yaml"


def test_parse_offers_with_their_lines_in_creation_order() -> None:
    s = parse_scenario(EXAMPLE, FILE)
    line = line_of(EXAMPLE, "name: edge")
    assert s.load_balancers == (LoadBalancerDecl("edge", "lbco", "lb-vpc/mgmt", line=line),)
    assert s.load_balancers[0].where == f"{FILE}:{line} (load-balancer edge)"
    assert [d.kind for d in s.in_order()][5:8] == ["network", "load-balancer", "service"]
    assert not parse_scenario("load_balancers:\n  - {name: e, account: a, management_subnet: "
                              "n/m}\n").is_empty


@pytest.mark.parametrize(("text", "line", "words"), [
    ("load_balancers:\n  - name: e\n    account: lbco\n    managment_subnet: n/m\n", 4,
     "did you mean 'management_subnet'"),
    ("load_balancers:\n  - {name: e, account: lbco}\n", 2, "management_subnet"),
    ("load_balancers:\n  - {name: e, account: lbco, management_subnet: nm}\n", 2,
     "network/subnet"),
    ("load_balancers:\n  - {name: Edge, account: lbco, management_subnet: n/m}\n", 2, "Edge"),
    ("load_balancers: {name: e}\n", 1, "must be a list"),
    # the same name twice: at the second one
    ("load_balancers:\n  - {name: e, account: lbco, management_subnet: n/m}\n"
     "  - name: e\n    account: lbco\n    management_subnet: n/x\n", 3, "declared twice"),
    # the management subnet's network is declared in the file for another account
    ("networks:\n  - {name: n, account: acme, cidr: 10.0.0.0/16,\n"
     "     subnets: [{name: m, cidr: 10.0.1.0/24}]}\n"
     "load_balancers:\n  - name: e\n    account: lbco\n    management_subnet: n/m\n", 7,
     "belongs to account acme"),
    # a service of the file has it as its backend subnet
    ("services:\n  - {name: s, account: lbco, workload: http-echo, port: 80,\n"
     "     backend_subnet: n/m, management_subnet: n/x}\n"
     "load_balancers:\n  - name: e\n    account: lbco\n    management_subnet: n/m\n", 7,
     "backend subnet of service s"),
])
def test_a_bad_offer_is_invalid_at_its_line(text: str, line: int, words: str) -> None:
    with pytest.raises(Invalid) as info:
        parse_scenario(text, FILE)
    assert info.value.where == f"{FILE}:{line}", info.value
    assert words in info.value.message, info.value


