"""applied.plan: what a set declared before and no longer does, by each kind's identity."""

from __future__ import annotations

import pytest

from facade.cli import applied

pytestmark = pytest.mark.no_store  # tests/conftest.py


def test_identity_per_kind_and_what_is_never_pruned() -> None:
    before = applied.load("""
prices: {instances: {node_hour: "0.01"}}
networks: [{name: n, account: a, cidr: 10.0.0.0/16,
            subnets: [{name: s1, cidr: 10.0.1.0/24}, {name: s2, cidr: 10.0.2.0/24}]}]
grants: [{subnet: n/s1, account: b}, {subnet: n/s1, account: c}]
rules: [{subnet: n/s1, direction: ingress, action: allow, priority: 10},
        {subnet: n/s1, direction: egress, action: deny, priority: 10}]
public_ips: [{account: a, instance: web}]
instances: [{name: web, account: a, interfaces: [n/s1]}]
""")
    after = applied.load("""
networks: [{name: n, account: a, cidr: 10.0.0.0/16, subnets: [{name: s1, cidr: 10.0.1.0/24}]}]
grants: [{subnet: n/s1, account: b}]
rules: [{subnet: n/s1, direction: ingress, action: deny, priority: 10}]
public_ips: [{account: a, instance: web, iface: eth0}]
instances: [{name: web, account: b, interfaces: [n/s1]}]
""")
    assert before is not None and after is not None
    plan = applied.plan(before, after)
    # a changed rule at the same place: the same declaration (apply says what conflicts);
    # an instance of another account is another object (names are per account), so a's web
    # left the file; eth0 is the default interface; prices stay
    assert plan.removed == {
        "instances": [{"name": "web", "account": "a", "interfaces": ["n/s1"]}],
        "grants": [{"subnet": "n/s1", "account": "c"}],
        "rules": [{"subnet": "n/s1", "direction": "egress", "action": "deny", "priority": 10}],
    }
    assert plan.labels() == ["instance a/web", "grant n/s1/c", "rule n/s1/egress/10"]
    assert plan.kept == ["subnet n/s2"]
    assert applied.load(plan.text()) == plan.removed


def test_a_file_that_is_not_a_mapping_plans_nothing() -> None:
    assert applied.load("- a\n- b\n") is None
    assert applied.load("a: [unclosed") is None
    assert applied.load("") == {}
    assert applied.plan({}, {}).removed == {}


def test_two_accounts_rules_and_grants_at_the_same_path_are_told_apart() -> None:
    """A rule's `account` and a grant's `subnet_account` are part of what they are: evil's
    rule and grant left the file, acme's stayed; only evil's are pruned."""
    rule = "direction: ingress, action: allow, priority: 10"
    before = applied.load(f"""
rules: [{{account: acme, subnet: prod/app, {rule}}}, {{account: evil, subnet: prod/app, {rule}}}]
grants: [{{subnet: prod/app, subnet_account: acme, account: lbco}},
         {{subnet: prod/app, subnet_account: evil, account: lbco}}]
""")
    after = applied.load(f"""
rules: [{{account: acme, subnet: prod/app, {rule}}}]
grants: [{{subnet: prod/app, subnet_account: acme, account: lbco}}]
""")
    assert before is not None and after is not None
    plan = applied.plan(before, after)
    assert plan.labels() == ["grant evil/prod/app/lbco", "rule evil/prod/app/ingress/10"]
