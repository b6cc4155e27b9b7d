"""The operator's file of two accounts that share names (docs/scenario.md, "Common rules"):
each account's rules (`account:`), grants of each one's subnet (`subnet_account:`) and each
one's site `branch` with its host `desk` are applied to that account's objects, read back
through the API's own routes; applied again nothing changes; destroyed, they are gone; a
rule whose account is not the owner of what it names changes nothing."""

from __future__ import annotations

from typing import Any

from tests.service.helpers import err, ok

ACCOUNTS = ("acme", "evil")
FILE = "accounts: [{name: acme}, {name: evil}, {name: lbco}]\nnetworks:\n" + "".join(
    f"  - {{name: prod, account: {a}, cidr: 10.0.0.0/16,\n"
    "     subnets: [{name: app, cidr: 10.0.1.0/24}]}\n" for a in ACCOUNTS) + "instances:\n" + \
    "".join(f"  - {{name: web, account: {a}, interfaces: [prod/app]}}\n" for a in ACCOUNTS) + \
    "grants:\n" + "".join(f"  - {{subnet: prod/app, subnet_account: {a}, account: lbco}}\n"
                          for a in ACCOUNTS) + \
    "rules:\n" + "".join(
        f"  - {{account: {a}, subnet: prod/app, direction: ingress, action: {act}, "
        f"priority: 10}}\n  - {{account: {a}, interface: web/eth0, direction: egress, "
        f"action: {act}, priority: 20}}\n" for a, act in zip(ACCOUNTS, ("allow", "deny"),
                                                             strict=True)) + \
    "sites:\n" + "".join(f"  - {{name: branch, account: {a}, cidr: 192.168.0.0/16, "
                         "hosts: [{name: desk}]}\n" for a in ACCOUNTS)


def _rules(api: Any, path: str, account: str) -> list[tuple[str, str, int]]:
    return [(r["direction"], r["action"], r["priority"])
            for r in api.items(f"{path}?account={account}")]


def test_rules_grants_and_sites_of_two_accounts_in_one_file(api: Any) -> None:
    made = ok(api.req("POST", "/v1/apply", json={"yaml": FILE, "filename": "two.yaml"}))
    assert {c["action"] for c in made["changes"]} == {"created"}
    for account, action in zip(ACCOUNTS, ("allow", "deny"), strict=True):
        assert _rules(api, "/v1/subnets/prod/app/rules", account) == [
            ("ingress", action, 10)]
        assert _rules(api, "/v1/instances/web/interfaces/eth0/rules", account) == [
            ("egress", action, 20)]
        grants = api.items(f"/v1/subnets/prod/app/grants?account={account}")
        assert [(g["subnet"], g["account"]) for g in grants] == [("prod/app", "lbco")]
        site = ok(api.req("GET", f"/v1/sites/branch?account={account}"))
        assert site["account"] == account and [h["name"] for h in site["hosts"]] == ["desk"]
    again = ok(api.req("POST", "/v1/apply", json={"yaml": FILE, "filename": "two.yaml"}))
    assert {c["action"] for c in again["changes"]} == {"unchanged"}
    gone = ok(api.req("POST", "/v1/destroy", json={"yaml": FILE, "filename": "two.yaml"}))
    assert {c["action"] for c in gone["changes"]} <= {"deleted", "absent"}
    assert api.items("/v1/sites") == []
    assert [n for n in api.items("/v1/networks") if n["account"] != "operator"] == []


def test_a_rule_of_an_account_that_is_not_the_owner_is_refused_and_changes_nothing(
        api: Any) -> None:
    """`account: evil` with `subnet: prod/app`: evil's prod/app, of which there is none (acme
    has one): the API's 404 for `?account=evil`, at the rule's line; nothing made."""
    text = ("accounts: [{name: acme}, {name: evil}]\nnetworks:\n"
            "  - {name: prod, account: acme, cidr: 10.0.0.0/16,"
            " subnets: [{name: app, cidr: 10.0.1.0/24}]}\n"
            "rules:\n  - {account: evil, subnet: prod/app, direction: ingress, action: allow,"
            " priority: 10}\n")
    err(api.req("POST", "/v1/apply", json={"yaml": text, "filename": "bad.yaml"}), 404,
        "prod/app", where="bad.yaml:5")
    assert api.items("/v1/networks") == [] and api.items("/v1/accounts") == [
        a for a in api.items("/v1/accounts") if a["name"] == "operator"]
