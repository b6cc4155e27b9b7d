"""An operator's scenario file of several accounts (docs/scenario.md, "Common rules"): a rule
says whose subnet or instance it is (`account`, the API's `?account=`), a grant whose subnet
(`subnet_account`, the API's `?subnet_account=`), and sites (with their hosts) are unique per
account, as networks and instances are; every mistake is an Invalid at its line."""

from __future__ import annotations

import pytest

from facade.domain.errors import Invalid
from facade.scenario import parse_scenario

pytestmark = pytest.mark.no_store  # tests/conftest.py

TWO = """\
networks:
  - {name: prod, account: acme, cidr: 10.0.0.0/16, subnets: [{name: app, cidr: 10.0.1.0/24}]}
  - {name: prod, account: evil, cidr: 10.0.0.0/16, subnets: [{name: app, cidr: 10.0.1.0/24}]}
instances:
  - {name: web, account: acme, interfaces: [prod/app]}
  - {name: web, account: evil, interfaces: [prod/app]}
"""


def test_a_rule_of_each_account_at_the_same_place_and_priority() -> None:
    sc = parse_scenario(TWO + """\
rules:
  - {account: acme, subnet: prod/app, direction: ingress, action: allow, priority: 10}
  - {account: evil, subnet: prod/app, direction: ingress, action: deny, priority: 10}
  - {account: acme, interface: web/eth0, direction: egress, action: deny, priority: 5}
  - {account: evil, interface: web/eth0, direction: egress, action: deny, priority: 5}
  - {subnet: acme/prod/app, account: acme, direction: egress, action: allow, priority: 7}
  - {subnet: evil/prod/app, direction: egress, action: allow, priority: 7}
""", "two.yaml")
    assert [r.label for r in sc.rules] == [
        "subnet acme/prod/app ingress 10", "subnet evil/prod/app ingress 10",
        "interface acme/web/eth0 egress 5", "interface evil/web/eth0 egress 5",
        "subnet acme/prod/app egress 7", "subnet evil/prod/app egress 7"]
    assert [r.account for r in sc.rules] == ["acme", "evil", "acme", "evil", "acme", ""]
    bare = parse_scenario(TWO + "rules: [{subnet: prod/app, direction: ingress, action: allow, "
                          "priority: 10}]\n", "one.yaml").rules[0]
    assert (bare.account, bare.subnet_ref, bare.label) == ("", "prod/app",
                                                           "subnet prod/app ingress 10")


def test_a_grant_says_whose_subnet_and_sites_are_unique_per_account() -> None:
    sc = parse_scenario(TWO + """\
accounts: [{name: lbco}]
grants:
  - {subnet: prod/app, subnet_account: acme, account: lbco}
  - {subnet: prod/app, subnet_account: evil, account: lbco}
  - {subnet: acme/prod/app, subnet_account: acme, account: evil}
sites:
  - {name: branch, account: acme, cidr: 192.168.0.0/16, hosts: [{name: desk}]}
  - {name: branch, account: evil, cidr: 192.168.0.0/16, hosts: [{name: desk}]}
""", "two.yaml")
    assert [(g.subnet, g.account) for g in sc.grants] == [
        ("acme/prod/app", "lbco"), ("evil/prod/app", "lbco"), ("acme/prod/app", "evil")]
    assert [(s.account, s.name) for s in sc.sites] == [("acme", "branch"), ("evil", "branch")]
    assert [(h.site_ref, h.name) for h in sc.site_hosts] == [("acme/branch", "desk"),
                                                             ("evil/branch", "desk")]


RULE = "direction: ingress, action: allow, priority: 10"
MISTAKES = [
    (f"rules:\n  - {{account: Acme, subnet: prod/app, {RULE}}}\n", 2, "account name 'Acme'"),
    (f"rules:\n  - {{account: evil, subnet: acme/prod/app, {RULE}}}\n", 2,
     "subnet acme/prod/app is account acme's, but the rule says account evil"),
    (f"rules:\n  - {{account: acme, subnet: prod/app, {RULE}}}\n"
     f"  - {{subnet: acme/prod/app, {RULE}}}\n", 3,
     "acme/prod/app has two ingress rules at priority 10 (first at line 2)"),
    (f"rules:\n  - {{acount: acme, subnet: prod/app, {RULE}}}\n", 2, "did you mean 'account'"),
    ("grants:\n  - {subnet: evil/prod/app, subnet_account: acme, account: lbco}\n", 2,
     "grant subnet evil/prod/app is account evil's, but the grant says account acme"),
    ("grants:\n  - {subnet: prod/app, subnet_account: 7, account: lbco}\n", 2, "account name 7"),
    ("networks: [{name: prod, account: acme, cidr: 10.0.0.0/16,"
     " subnets: [{name: app, cidr: 10.0.1.0/24}]}]\n"
     "grants:\n  - {subnet: prod/app, subnet_account: acme, account: acme}\n", 3,
     "account acme owns subnet acme/prod/app"),
    ("grants:\n  - {subnet: prod/app, subnet_account: acme, account: lbco}\n"
     "  - {subnet: acme/prod/app, account: lbco}\n", 3, "granted to lbco twice (first at line 2)"),
    ("sites:\n  - {name: branch, account: acme, cidr: 192.168.0.0/16}\n"
     "  - {name: branch, account: acme, cidr: 172.16.0.0/16}\n", 3,
     "site 'branch' of account acme is declared twice in this file (first at line 2)"),
    ("instances: [{name: desk, account: acme, interfaces: [n/s]}]\n"
     "sites:\n  - {name: branch, account: acme, cidr: 192.168.0.0/16, hosts: [{name: desk}]}\n",
     3, "'desk' is also an instance of account acme in this file (line 1)"),
]


@pytest.mark.parametrize(("text", "line", "words"), MISTAKES,
                         ids=[f"{i}" for i in range(len(MISTAKES))])
def test_each_mistake_is_invalid_at_its_line(text: str, line: int, words: str) -> None:
    with pytest.raises(Invalid) as info:
        parse_scenario(text, "bad.yaml")
    assert (info.value.where or "").split(":")[:2] == ["bad.yaml", str(line)], str(info.value)
    assert words in info.value.message, str(info.value)


def test_another_accounts_instance_of_the_hosts_name_is_no_clash() -> None:
    sc = parse_scenario("instances: [{name: desk, account: evil, interfaces: [n/s]}]\n"
                        "sites: [{name: branch, account: acme, cidr: 192.168.0.0/16, "
                        "hosts: [{name: desk}]}]\n", "ok.yaml")
    assert [h.name for h in sc.site_hosts] == ["desk"]
