"""One input, two doors, one answer: a scenario file's declaration and an API body with the same
fields are both accepted or both refused.

`via_file` writes the fields as the one declaration of a scenario file and parses it
(facade.scenario); `via_api` checks them as the API does before it looks anything up: the
request schema (api.schemas, a 422) and then what the service layer calls first (the create
commands of domain.commands, security.check_rule, autoscale.requested, prices.service_prices;
a 400). Three parts:

- properties (hypothesis): a valid declaration of each kind with one to three fields drawn
  around their rules (wrong types, nulls, left out, near a limit), for services (with health
  checks, limits, prices), autoscaling policies, instances, appliances, networks and rules;
- every length and count limit swept from just under to just over, one size at a time (the
  properties meet a size one off a limit only now and then);
- a table of inputs the two paths once answered differently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from facade.api import schemas
from facade.domain import autoscale, commands, prices, security
from facade.domain.errors import FacadeError, Invalid
from facade.scenario import parse_scenario

pytestmark = pytest.mark.no_store  # tests/conftest.py

SAME = settings(max_examples=1000, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
ACCOUNT = "acme"
LEFT_OUT = object()  # a field the declaration and the body do not have at all


def _given(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not LEFT_OUT}


def via_file(section: str, decl: dict[str, Any]) -> str | None:
    """None when the file is accepted, else the error."""
    text = yaml.safe_dump({section: [decl]}, sort_keys=False)
    try:
        parse_scenario(text, "same.yaml")
    except Invalid as exc:
        assert exc.where and exc.where.startswith("same.yaml:"), exc  # always at a line
        return str(exc)
    return None


def via_api(check: Callable[[], object]) -> str | None:
    try:
        check()
    except ValidationError as exc:  # the schema: 422
        return f"422 {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}"
    except FacadeError as exc:  # the domain: 400 (409 for a conflict within the request)
        assert exc.status in (400, 409), exc
        return f"{exc.status} {exc}"
    return None


def same(file_error: str | None, api_error: str | None, fields: dict[str, Any]) -> None:
    assert (file_error is None) == (api_error is None), (
        f"file: {file_error or 'accepted'}; API: {api_error or 'accepted'}; fields: {fields!r}")


def _dump(model: BaseModel | None, **how: bool) -> dict[str, Any] | None:
    return None if model is None else model.model_dump(**how)


# -- values around the limits -----------------------------------------------------------------

def maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field left out, null, or (most often) one of `values`."""
    return st.one_of(values, values, values, st.just(LEFT_OUT), st.none())


@st.composite
def around(draw: st.DrawFn, valid: dict[str, st.SearchStrategy[Any]],
           edges: dict[str, st.SearchStrategy[Any]],
           optional: dict[str, st.SearchStrategy[Any]] | None = None) -> dict[str, Any]:
    """A valid mapping (some optional fields too), then one to three of its fields drawn
    around their limits (or left out): most inputs are near the edge, not far past it."""
    fields = {k: draw(v) for k, v in valid.items()}
    for k, v in (optional or {}).items():
        if draw(st.booleans()):
            fields[k] = draw(v)
    for k in draw(st.lists(st.sampled_from(sorted(edges)), min_size=1, max_size=3,
                           unique=True)):
        value = draw(edges[k])
        if value is LEFT_OUT:
            fields.pop(k, None)
        else:
            fields[k] = value
    return fields


junk = st.one_of(st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True), st.just([1]),
                 st.just({"a": 1}))
names = st.one_of(
    st.sampled_from(["a", "docs", "a-b", "a1", "a" * 40, "a" * 41, "A", "-a", "a-", "1a", "",
                     "a_b", "a b", "é"]),
    st.from_regex(r"[a-z][a-z0-9-]{0,44}", fullmatch=True),
    st.integers(-3, 3).map(lambda d: "a" * (40 + d)), junk)
subnet_refs = st.one_of(
    st.sampled_from(["n/b", "n/x", "n/y", "net/sub", "n", "n/b/c", "/b", "n/", "N/b", "n/B",
                     "a" * 40 + "/" + "b" * 40, "a" * 41 + "/b", ""]), junk)
cidrs = st.one_of(
    st.sampled_from(["10.0.0.0/16", "10.0.1.0/24", "10.0.0.1/16", "10.0.0.0/7", "10.0.0.0/30",
                     "10.0.0.0/29", "10.0.0.0/255.255.0.0", "10.0.0.0/0.0.255.255",
                     "10.0.0.0", "10.0.0.0/33", "300.0.0.0/16", " 10.0.0.0/16", "", "x"]),
    st.builds(lambda a, b, p: f"10.{a}.{b}.0/{p}", st.integers(0, 256), st.integers(0, 256),
              st.integers(0, 33)),
    st.integers(0, 2**32), junk)
ports = st.one_of(st.integers(-2, 70000), st.sampled_from([0, 1, 65535, 65536, 2**70, "80",
                                                           80.0, True]))
command_words = ["prog", " ", "{ip}", "{port}", "{name}", "{", "}", "{{", "}}", "{x}", "{}",
                 "{0}", "{ip!r}", "{port:>9}", "'", '"', "\\", "\t", "\x00", "\n", "\u2028",
                 "é", "$HOME", ";", "a b"]
commands_ = st.one_of(
    st.lists(st.sampled_from(command_words), max_size=8).map("".join),
    st.sampled_from(["prog {ip}", "   "]), st.integers(-3, 3).map(lambda d: "x" * (4096 + d)),
    junk)
workloads = st.one_of(st.sampled_from(["http-echo", "search", "web", "nginx", "", "Search"]),
                      junk)
paths = st.one_of(
    st.sampled_from(["/", "/health", "health", "/a b", "/a\tb", "/\x7f", "/é", "/" + "x" * 199,
                     "/" + "x" * 200, "/" + "x" * 255, ""]),
    st.text(max_size=6).map(lambda t: "/" + t),
    st.integers(-3, 3).map(lambda d: "/" + "x" * (199 + d)), junk)
seconds = st.one_of(st.floats(-1, 70), st.integers(-1, 70), st.just(float("nan")),
                    st.sampled_from([0.05, 0.2, 30, 60, "1", True]))
checks = st.integers(-1, 12) | st.sampled_from([1.0, True, "2"])
health_checks = st.one_of(
    st.fixed_dictionaries({}, optional={
        "type": maybe(st.sampled_from(["http", "tcp", "agent", "udp", "", 3])),
        "path": maybe(paths),
        "codes": maybe(st.sampled_from(["200", "200-399", "200,204", "399-200", "600", "",
                                        "200-", "2" * 65, 200]) | st.integers(1, 20).map(
                                            lambda n: ",".join(["200"] * n))),
        "interval": maybe(seconds), "timeout": maybe(seconds),
        "rise": maybe(checks), "fall": maybe(checks),
        "port": st.just(80)}).map(_given),
    junk)
sizes = st.integers(0, 70000) | st.sampled_from([16, 65536, 65537, 10000, 10001, 256.0, "256",
                                                 True])
limits = st.one_of(
    st.fixed_dictionaries({}, optional={"memory_mb": maybe(sizes), "pids": maybe(sizes),
                                        "cpu_weight": maybe(sizes),
                                        "cpu": st.just(1)}).map(_given),
    junk)
amounts = st.one_of(
    st.sampled_from(["0.10", "1", "0", "-1", "abc", "1e3", "0.0000000001", "0.00000000001",
                     "0" * 40 + "1", " 1 ", "NaN", "Infinity", "999999999.9999999999",
                     "1000000000", ""]),
    st.integers(-3, 3).map(lambda d: "0" * (39 + d) + "1"),
    st.integers(-2, 10**10), st.floats(0, 1), st.booleans())
price_lists = st.one_of(
    st.fixed_dictionaries({}, optional={
        "currency": maybe(st.sampled_from(["USD", "EUR", "usd", "", 5])),
        "node_hour": maybe(st.one_of(st.fixed_dictionaries({}, optional={
            "frontend": maybe(amounts), "backend": maybe(amounts)}).map(_given),
            st.just("x"))),
        "per_gb": maybe(amounts), "per_connection": maybe(amounts),
        "per_1000_requests": maybe(amounts), "per_hour": amounts}).map(_given),
    junk)


good_names = st.from_regex(r"[a-z]([a-z0-9-]{0,38}[a-z0-9])?", fullmatch=True)
good_commands = st.lists(st.sampled_from(["prog", "a", "{ip}", "{port}", "{name}", "{{", "}}",
                                          "--x={port}", "'a b'", "é"]), min_size=1,
                         max_size=6).map(" ".join)
good_paths = st.from_regex(r"/[a-z0-9/._-]{0,20}", fullmatch=True)
good_amounts = st.one_of(st.integers(0, 10**6),
                         st.decimals(0, 10**6, places=4).map(str))


# -- services -----------------------------------------------------------------------------------

def service_api(body: dict[str, Any]) -> None:
    """POST /v1/services: the schema, then what catalog.new_service checks first, then the
    prices as billing.service_terms reads them (the operator's currency being the default)."""
    b = schemas.ServiceCreate.model_validate(body)
    commands.new_service(
        name=b.name, workload_name=b.workload, command=b.command, port=b.port,
        backend_subnet=b.backend_subnet, management_subnet=b.management_subnet,
        health_path=b.health_path, health_check=_dump(b.health_check, exclude_unset=True),
        limits=_dump(b.limits, exclude_unset=True), extra_subnets=b.extra_subnets or (),
        billing_model=b.billing_model, upstream=b.upstream, frontend=b.frontend)
    prices.service_prices(_dump(b.prices, exclude_none=True), where="prices")


services = around(
    valid={"name": good_names, "port": st.integers(1, 65535),
           "backend_subnet": st.just("n/b"), "management_subnet": st.just("n/m")},
    optional={"workload": st.sampled_from(["http-echo", "search", "web"]),
              "command": good_commands, "health_path": good_paths,
              "health_check": st.fixed_dictionaries({}, optional={
                  "type": st.sampled_from(["tcp", "agent"]),
                  "interval": st.floats(1, 60), "timeout": st.floats(0.05, 1),
                  "rise": st.integers(1, 10), "fall": st.integers(1, 10)}),
              "limits": st.fixed_dictionaries({}, optional={
                  "memory_mb": st.integers(16, 65536), "pids": st.integers(16, 65536),
                  "cpu_weight": st.integers(1, 10000)}),
              "extra_subnets": st.lists(st.sampled_from(["n/x", "n/y", "o/z"]), max_size=6),
              "billing_model": st.sampled_from(["provider-bills", "operator-bills"]),
              "upstream": good_names, "frontend": good_names,
              "prices": st.fixed_dictionaries({}, optional={
                  "per_gb": good_amounts, "node_hour": st.fixed_dictionaries({}, optional={
                      "frontend": good_amounts, "backend": good_amounts})})},
    edges={"name": maybe(names), "workload": maybe(workloads), "command": maybe(commands_),
           "port": maybe(ports), "backend_subnet": maybe(subnet_refs),
           "management_subnet": maybe(subnet_refs | st.just("n/b")),
           "health_path": maybe(paths), "health_check": maybe(health_checks),
           "limits": maybe(limits), "extra_subnets": maybe(st.lists(subnet_refs, max_size=8)),
           "billing_model": maybe(st.sampled_from(["provider-bills", "operator-bills", "x", "",
                                                   3])),
           "prices": maybe(price_lists), "upstream": maybe(names),
           "frontend": maybe(names)})


@SAME
@given(services)
def test_a_service(fields: dict[str, Any]) -> None:
    decl = {"account": ACCOUNT, **fields}
    if "workload" not in decl and "command" not in decl:
        decl["workload"] = "search"  # the base is valid: one of them (edges may take it away)
    same(via_file("services", decl), via_api(lambda: service_api(decl)), decl)


def autoscale_api(body: dict[str, Any]) -> None:
    """PUT /v1/services/{name}/autoscale: the schema, then autoscaler.put_policy's check."""
    b = schemas.AutoscaleWrite.model_validate(body)
    autoscale.requested(min=b.min, max=b.max, metric=b.metric, target=b.target,
                        cooldown=b.cooldown)


counts_of_backends = st.integers(-1, 66) | st.sampled_from([1.0, True, "2"])
targets = st.one_of(st.integers(-1, 2 * 10**6), st.floats(allow_nan=True),
                    st.decimals(allow_nan=False, places=8).map(str),
                    st.sampled_from(["50", "0.000001", "0.0000001", "1e3", "1e-7", "50.0000000",
                                     "1000000", "1000001", " 5 ", "1_000", "x", "", True]))
policies = around(
    valid={"min": st.integers(1, 8), "max": st.integers(8, 64),
           "metric": st.sampled_from(["connections", "requests"]),
           "target": st.integers(1, 10**6) | st.decimals("0.000001", 10**6, places=6).map(str)},
    optional={"cooldown": st.integers(0, 3600)},
    edges={"min": maybe(counts_of_backends), "max": maybe(counts_of_backends),
           "metric": maybe(st.sampled_from(["connections", "requests", "bytes", "", 1])),
           "target": maybe(targets),
           "cooldown": maybe(st.integers(-1, 3601) | st.sampled_from([30.0, "30", False]))})


@SAME
@given(policies)
def test_an_autoscaling_policy(policy: dict[str, Any]) -> None:
    decl = {"name": "s", "account": ACCOUNT, "workload": "search", "port": 80,
            "backend_subnet": "n/b", "management_subnet": "n/m", "autoscale": policy}
    same(via_file("services", decl), via_api(lambda: autoscale_api(policy)), policy)


# -- instances, appliances, networks ----------------------------------------------------------

def instance_api(body: dict[str, Any]) -> None:
    b = schemas.InstanceCreate.model_validate(body)
    commands.new_instance(name=b.name, interfaces=[i.model_dump() for i in b.interfaces],
                          limits=_dump(b.limits, exclude_unset=True))


addresses = st.sampled_from(["10.0.1.5", "10.0.1.x", "300.1.1.1", "10.0.1.05", "", "::1", 5])
interfaces = st.fixed_dictionaries({"subnet": subnet_refs},
                                   optional={"ip": maybe(addresses)}).map(_given)


@SAME
@given(around(
    valid={"name": good_names,
           "interfaces": st.lists(st.sampled_from(["n/a", "n/b", "o/c", "o/d"]).map(
               lambda ref: {"subnet": ref}), min_size=1, max_size=4, unique_by=repr)},
    optional={"limits": st.fixed_dictionaries({}, optional={"pids": st.integers(16, 65536)})},
    # one interface per subnet: the same address asked twice is the store's to refuse
    edges={"name": maybe(names), "limits": maybe(limits),
           "interfaces": maybe(st.lists(interfaces, max_size=10,
                                        unique_by=lambda i: repr(i["subnet"])))}))
def test_an_instance(fields: dict[str, Any]) -> None:
    decl = {"account": ACCOUNT, **fields}
    same(via_file("instances", decl), via_api(lambda: instance_api(decl)), decl)


def appliance_api(body: dict[str, Any]) -> None:
    b = schemas.ApplianceCreate.model_validate(body)
    commands.new_appliance(name=b.name, backends=b.backends)


@SAME
@given(around(valid={"name": good_names}, optional={"backends": st.integers(1, 64)},
              edges={"name": maybe(names), "backends": maybe(
                  st.integers(-3, 70) | st.sampled_from([2**70, 2.0, "2", True]))}))
def test_an_appliance(fields: dict[str, Any]) -> None:
    decl = {"account": ACCOUNT, "service": "s", "subnet": "n/a", **fields}
    same(via_file("appliances", decl), via_api(lambda: appliance_api(decl)), decl)


def network_api(body: dict[str, Any]) -> None:
    b = schemas.NetworkCreate.model_validate(body)
    commands.new_network(name=b.name, cidr=b.cidr,
                         subnets=[s.model_dump() for s in b.subnets or []])


subnets = st.fixed_dictionaries({"name": names, "cidr": cidrs})


@SAME
@given(around(
    valid={"name": good_names, "cidr": st.just("10.0.0.0/16")},
    optional={"subnets": st.lists(st.fixed_dictionaries({
        "name": st.sampled_from(["a", "b", "c", "d"]),
        "cidr": st.integers(0, 255).map(lambda k: f"10.0.{k}.0/24")}), max_size=4,
        unique_by=(lambda s: s["name"], lambda s: s["cidr"]))},
    edges={"name": maybe(names), "cidr": maybe(cidrs),
           "subnets": maybe(st.lists(st.one_of(subnets, st.fixed_dictionaries({
               "name": st.sampled_from(["a", "b", "c"]),
               "cidr": st.sampled_from(["10.0.1.0/24", "10.0.1.0/25", "10.0.0.0/16",
                                        "10.1.0.0/24", "10.0.2.0/24"])})), max_size=4))}))
def test_a_network(fields: dict[str, Any]) -> None:
    """Accepted, the file's declaration holds what the create command makes of the same fields
    (a netmask, a subnet's CIDR: as stored)."""
    decl = {"account": ACCOUNT, **fields}
    file_error = via_file("networks", decl)
    same(file_error, via_api(lambda: network_api(decl)), decl)
    if file_error is None:
        text = yaml.safe_dump({"networks": [decl]}, sort_keys=False)
        (net,) = parse_scenario(text, "same.yaml").networks
        made = commands.new_network(name=decl["name"], cidr=decl["cidr"],
                                    subnets=decl.get("subnets") or ())
        assert (net.name, net.cidr, tuple((s.name, s.cidr) for s in net.subnets)) == (
            made.name, made.cidr, made.subnets)


# -- security rules -------------------------------------------------------------------------------

def rule_api(body: dict[str, Any]) -> None:
    """POST /v1/subnets/{network}/{subnet}/rules: the schema, then rules.add's check_rule."""
    security.check_rule(schemas.RuleCreate.model_validate(body).model_dump())


@SAME
@given(around(
    valid={"direction": st.sampled_from(["ingress", "egress"]),
           "action": st.sampled_from(["allow", "deny"]), "priority": st.integers(1, 1000)},
    optional={"protocol": st.just("tcp"), "ports": st.integers(1, 65535).map(str),
              "cidr": st.integers(0, 32).map(lambda p: f"0.0.0.0/{p}")},
    edges={
        "direction": maybe(st.sampled_from(["ingress", "egress", "in", ""]) | junk),
        "action": maybe(st.sampled_from(["allow", "deny", "drop"]) | junk),
        "priority": maybe(st.integers(-1, 1002) | st.sampled_from([1.0, True, "5"])),
        "protocol": maybe(st.sampled_from(["tcp", "udp", "icmp", "any", "TCP", ""]) | junk),
        "ports": maybe(st.one_of(st.integers(-1, 70000), st.sampled_from([
            "80", "8000-8100", "0", "65536", "90-80", "80-", "00080", "65535-65535", "",
            "1" * 17, 80.0]))),
        "cidr": maybe(st.one_of(cidrs, st.sampled_from([
            "10.0.0.5", "0.0.0.0/0", "10.0.0.5/32", "255.255.255.255/255.255.255.255"])))}))
def test_a_security_rule(fields: dict[str, Any]) -> None:
    decl = {"subnet": "n/a", **fields}
    same(via_file("rules", decl), via_api(lambda: rule_api(fields)), decl)


# -- a few inputs worth naming (each was answered differently by the two paths once) --------

SERVICE = {"name": "s", "account": ACCOUNT, "port": 80, "backend_subnet": "n/b",
           "management_subnet": "n/m"}
NAMED = [
    ("services", {**SERVICE, "command": "prog {ip}", "health_path": "/" + "x" * 230}, False),
    ("services", {**SERVICE, "command": "prog {ip}", "health_path": "/" + "x" * 199}, True),
    ("services", {**SERVICE, "command": "echo {{x}} {port}"}, True),
    ("services", {**SERVICE, "command": "prog\t{ip}"}, False),
    ("services", {**SERVICE, "workload": "search", "extra_subnets": ["n/x"] * 7}, False),
    ("services", {**SERVICE, "workload": "search", "billing_model": None}, True),
    ("services", {**SERVICE, "workload": "search", "prices": {"per_gb": 1}}, True),
    ("services", {**SERVICE, "workload": "search", "management_subnet": "n/b"}, False),
    ("appliances", {"name": "d", "account": ACCOUNT, "service": "s", "subnet": "n/a",
                    "backends": 0}, False),
    ("networks", {"name": "n", "account": ACCOUNT, "cidr": "10.0.0.0/255.255.0.0"}, True),
    ("networks", {"name": "n", "account": ACCOUNT, "cidr": "10.0.0.0/16", "subnets": [
        {"name": f"s{k}", "cidr": f"10.0.{k}.0/29"} for k in range(257)]}, False),
    ("instances", {"name": "vm", "account": ACCOUNT, "interfaces": [
        {"subnet": f"n/s{k}"} for k in range(9)]}, False),
    ("rules", {"subnet": "n/a", "direction": "ingress", "action": "allow", "priority": 1,
               "protocol": "tcp", "ports": 80}, True),
]
def service_and_policy_api(body: dict[str, Any]) -> None:
    """A service, and its autoscaling policy (a separate request to the API)."""
    service_api({k: v for k, v in body.items() if k != "autoscale"})
    if body.get("autoscale") is not None:
        autoscale_api(body["autoscale"])


def load_balancer_api(body: dict[str, Any]) -> None:
    b = schemas.LoadBalancerCreate.model_validate(body)
    commands.new_load_balancer(name=b.name, management_subnet=b.management_subnet)


@SAME
@given(around(valid={"name": good_names, "management_subnet": st.just("lb/m")},
              edges={"name": maybe(names), "management_subnet": maybe(subnet_refs)}))
def test_a_load_balancer_offer(fields: dict[str, Any]) -> None:
    decl = {"account": ACCOUNT, **fields}
    same(via_file("load_balancers", decl), via_api(lambda: load_balancer_api(decl)), decl)


API: dict[str, Callable[[dict[str, Any]], None]] = {
    "services": service_and_policy_api, "appliances": appliance_api, "networks": network_api,
    "instances": instance_api,
    "rules": lambda d: rule_api({k: v for k, v in d.items() if k != "subnet"})}


@pytest.mark.parametrize(("section", "decl", "valid"), NAMED,
                         ids=[f"{s}-{i}" for i, (s, _, _) in enumerate(NAMED)])
def test_named_inputs(section: str, decl: dict[str, Any], valid: bool) -> None:
    file_error = via_file(section, decl)
    api_error = via_api(lambda: API[section](decl))
    assert (file_error is None) is valid, file_error
    assert (api_error is None) is valid, api_error


# -- every length and count limit, from just under to just over -----------------------------

def _with(decl: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = dict(decl)
    *parents, last = path.split(".")
    node = out
    for part in parents:
        node[part] = dict(node.get(part) or {})
        node = node[part]
    node[last] = value
    return out


NETWORK = {"name": "n", "account": ACCOUNT, "cidr": "10.0.0.0/16"}
RULE = {"subnet": "n/a", "direction": "ingress", "action": "allow", "priority": 1}
LIMITS: list[tuple[str, dict[str, Any], str, Callable[[int], Any], int]] = [
    # (section, a valid declaration, the field, its value of size n, the limit)
    ("services", {**SERVICE, "workload": "search"}, "name", lambda n: "s" * n, 40),
    ("services", SERVICE, "command", lambda n: "p" * n, 4096),
    ("services", {**SERVICE, "workload": "search"}, "health_path", lambda n: "/" * n, 200),
    ("services", {**SERVICE, "workload": "search"}, "health_check.path", lambda n: "/" * n, 200),
    ("services", {**SERVICE, "workload": "search"}, "health_check.codes",  # 4k - 1 long
     lambda n: ",".join(["200"] * ((n + 1) // 4)), 64),
    ("services", {**SERVICE, "workload": "search"}, "backend_subnet",
     lambda n: "a" * 40 + "/" + "b" * (n - 41), 81),
    ("services", {**SERVICE, "workload": "search"}, "extra_subnets",
     lambda n: [f"n/x{k}" for k in range(n)], 6),
    ("services", {**SERVICE, "workload": "search"}, "prices.per_gb",
     lambda n: "0" * (n - 1) + "1", 40),
    ("services", {**SERVICE, "workload": "search"}, "port", lambda n: n, 65535),
    ("services", {**SERVICE, "workload": "search"}, "limits.cpu_weight", lambda n: n, 10000),
    ("services", {**SERVICE, "workload": "search"}, "health_check.fall", lambda n: n, 10),
    ("appliances", {"name": "d", "account": ACCOUNT, "service": "s", "subnet": "n/a"},
     "backends", lambda n: n, 64),
    ("instances", {"name": "vm", "account": ACCOUNT}, "interfaces",
     lambda n: [{"subnet": f"n/s{k}"} for k in range(n)], 8),
    ("networks", NETWORK, "subnets",
     lambda n: [{"name": f"s{k}", "cidr": f"10.0.{k // 32}.{k % 32 * 8}/29"}
                for k in range(n)], 256),
    ("rules", RULE, "priority", lambda n: n, 1000),
    ("services", {**SERVICE, "workload": "search", "autoscale": {
        "min": 1, "max": 2, "metric": "requests", "target": "5"}}, "autoscale.target",
     lambda n: "0" * (n - 1) + "5", 40),
]


@pytest.mark.parametrize(("section", "decl", "field", "make", "limit"), LIMITS,
                         ids=[f"{s}.{f}" for s, _, f, _, _ in LIMITS])
def test_lengths_around_every_limit(section: str, decl: dict[str, Any], field: str,
                                    make: Callable[[int], Any], limit: int) -> None:
    for n in range(max(1, limit - 5), limit + 6):
        value = make(n)
        size = value if isinstance(value, int) else len(value)
        given = _with(decl, field, value)
        file_error = via_file(section, given)
        same(file_error, via_api(lambda g=given: API[section](g)), {field: size})
        assert (file_error is None) is (size <= limit), (field, size, file_error)
