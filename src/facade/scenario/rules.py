"""The scenario file's security rules, of a subnet or of one interface, read into declarations
(domain.scenario) at their lines and checked by `security.check_rule` as the API checks them.

Called by the reader (reader.py).
"""

from __future__ import annotations

from facade.domain import security
from facade.domain.errors import Invalid
from facade.domain.names import check_interface_ref
from facade.domain.scenario import RuleDecl
from facade.scenario.items import items, mapping, owned_by
from facade.scenario.yaml_lines import Map

RULE_KEYS = ("subnet", "interface", "account", *security.FIELDS)


def read_rules(top: Map, file: str) -> tuple[RuleDecl, ...]:
    """rules: [{subnet | interface, account?, direction, action, ...}]; `account` says whose
    subnet or instance (the API's `?account=`), for a file of several accounts."""
    seen: dict[tuple[str, str, int], int] = {}
    out = []
    for value, line in items(top, "rules", file):
        item = mapping(value, line, kind="rule", file=file, allowed=RULE_KEYS,
                       required=("direction", "action", "priority"))
        subnet = interface = None
        if item.has("subnet") == item.has("interface"):
            item.fail("subnet" if item.has("subnet") else "direction",
                      "a rule needs exactly one of subnet: network/subnet and "
                      "interface: instance/eth0")
        account = item.name("account", kind="account") if item.has("account") else ""
        if item.has("subnet"):
            subnet = item.subnet_ref("subnet")
            owned_by(item, "subnet", subnet, account)
        else:
            interface = check_interface_ref(item.data.get("interface"),
                                            where=item.at("interface"), what="rule interface")
        fields = {k: v for k, v in item.data.items() if k in security.FIELDS}
        try:
            rule = security.check_rule(fields)
        except Invalid as exc:
            raise Invalid(f"rule {exc.where}: {exc.message}", where=item.at(exc.where)) from None
        decl = RuleDecl(subnet=subnet, interface=interface, rule=rule, line=item.line,
                        file=file, account=account)
        key = (decl.subnet_ref or f"if:{decl.interface_ref}", rule.direction, rule.priority)
        if key in seen:
            item.fail("priority", f"{key[0].removeprefix('if:')} has two {rule.direction} rules "
                                  f"at priority {rule.priority} (first at line {seen[key]})")
        seen[key] = item.line
        out.append(decl)
    return tuple(out)
