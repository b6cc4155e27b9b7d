"""The scenario file parser: the example parses, every mistake is an Invalid at the right line."""

from __future__ import annotations

import ipaddress
import random
import re
from pathlib import Path

import pytest

from facade.domain.errors import Invalid
from facade.domain.scenario import (
    AccountDecl,
    ApplianceDecl,
    InstanceDecl,
    InterfaceDecl,
    NetworkDecl,
    Scenario,
    ServiceDecl,
    SubnetDecl,
)
from facade.scenario import parse_scenario

pytestmark = pytest.mark.no_store  # tests/conftest.py

EXAMPLE = """\
accounts: [{name: acme}, {name: searchco}]
networks:
  - {name: acme-vpc, account: acme, cidr: 10.0.0.0/16,
     subnets: [{name: app, cidr: 10.0.1.0/24}]}
  - {name: search-vpc, account: searchco, cidr: 10.0.0.0/16,     # overlaps acme on purpose
     subnets: [{name: backend, cidr: 10.0.1.0/24}, {name: mgmt, cidr: 10.0.200.0/24}]}
services:
  - {name: search, account: searchco, workload: search, port: 80,
     backend_subnet: search-vpc/backend, management_subnet: search-vpc/mgmt}
instances:
  - {name: client, account: acme, interfaces: [acme-vpc/app]}
appliances:
  - {name: docs, account: acme, service: search, subnet: acme-vpc/app, backends: 3}
"""

ROOT = Path(__file__).resolve().parents[2]


def test_the_example_parses_to_the_right_objects() -> None:
    s = parse_scenario(EXAMPLE, "search.yaml")
    assert s.accounts == (AccountDecl("acme", 1), AccountDecl("searchco", 1))
    assert s.networks == (
        NetworkDecl("acme-vpc", "acme", "10.0.0.0/16",
                    (SubnetDecl("app", "10.0.1.0/24", 4, network="acme-vpc"),), line=3),
        NetworkDecl("search-vpc", "searchco", "10.0.0.0/16",
                    (SubnetDecl("backend", "10.0.1.0/24", 6, network="search-vpc"),
                     SubnetDecl("mgmt", "10.0.200.0/24", 6, network="search-vpc")), line=5),
    )
    assert s.services == (
        ServiceDecl("search", "searchco", "search", None, 80, "search-vpc/backend",
                    "search-vpc/mgmt", None, line=8),
    )
    assert s.instances == (
        InstanceDecl("client", "acme", (InterfaceDecl("acme-vpc/app", None, 11),), line=11),
    )
    assert s.appliances == (ApplianceDecl("docs", "acme", "search", "acme-vpc/app", 3, line=13),)
    assert not s.is_empty
    assert s.appliances[0].where == "search.yaml:13 (appliance docs)"
    assert s.networks[1].subnets[1].where == "search.yaml:6 (subnet search-vpc/mgmt)"
    assert s.networks[1].subnets[1].ref == "search-vpc/mgmt"
    assert [d.name for d in s.in_order()] == [
        "acme", "searchco", "acme-vpc", "search-vpc", "search", "client", "docs"]


def test_the_shipped_example_file_parses() -> None:
    path = ROOT / "examples" / "search.yaml"
    s = parse_scenario(path.read_text(), "search.yaml")
    assert [a.name for a in s.appliances] == ["docs"]
    assert s.appliances[0].backends == 3
    assert s.services[0].workload == "search"


@pytest.mark.parametrize("text", ["", "   \n", "# nothing yet\n", "{}", "~\n", "---\n",
                                  "accounts:\nnetworks: []\n"])
def test_an_empty_file_is_an_empty_scenario(text: str) -> None:
    s = parse_scenario(text, "x.yaml")
    assert s.is_empty
    assert s == Scenario(file="x.yaml")


def test_block_style_line_numbers_and_defaults() -> None:
    text = """\
accounts:
  - name: acme
networks:
  - name: net
    account: acme
    cidr: 10.1.0.0/16
    subnets:
      - name: a
        cidr: 10.1.1.0/24
appliances:
  - name: app
    account: acme
    service: svc
    subnet: net/a
"""
    s = parse_scenario(text, "b.yaml")
    assert s.accounts[0].line == 2
    assert s.networks[0].line == 4
    assert s.networks[0].subnets[0].line == 8
    assert s.appliances[0].line == 11
    assert s.appliances[0].backends == 1
    assert s.appliances[0].where == "b.yaml:11 (appliance app)"


def test_the_three_interface_spellings() -> None:
    text = """\
instances:
  - name: vm
    account: acme
    interfaces:
      - net/a
      - net/b=10.0.2.50
      - {subnet: net/c, ip: 10.0.3.7}
      - {subnet: net/d}
"""
    (vm,) = parse_scenario(text).instances
    assert [(i.subnet, i.ip, i.line) for i in vm.interfaces] == [
        ("net/a", None, 5), ("net/b", "10.0.2.50", 6), ("net/c", "10.0.3.7", 7),
        ("net/d", None, 8)]


@pytest.mark.parametrize("spelling", [
    'command: "prog --ip {ip} --port {port} --name {name}"',
    'workload: {command: "prog --ip {ip} --port {port} --name {name}"}',
])
def test_a_command_service(spelling: str) -> None:
    text = f"""\
services:
  - name: svc
    account: acme
    {spelling}
    port: 8080
    backend_subnet: n/b
    management_subnet: n/m
    health_path: /healthz
"""
    (svc,) = parse_scenario(text).services
    assert svc.workload is None
    assert svc.command == "prog --ip {ip} --port {port} --name {name}"
    assert svc.argv == ("prog", "--ip", "{ip}", "--port", "{port}", "--name", "{name}")
    assert svc.port == 8080
    assert svc.health_path == "/healthz"


def test_a_quoted_command_is_split_like_a_shell_would_but_kept_as_text() -> None:
    text = """\
services:
  - {name: s, account: a, port: 80, backend_subnet: n/b, management_subnet: n/m,
     command: "sh -c 'exec httpd -p {port}; echo $HOME'"}
"""
    (svc,) = parse_scenario(text).services
    assert svc.argv == ("sh", "-c", "exec httpd -p {port}; echo $HOME")


def test_bytes_are_accepted() -> None:
    assert parse_scenario(EXAMPLE.encode(), "s.yaml").appliances[0].name == "docs"


# Each case: YAML text, the 1-based line of the error, words the message must contain.
SVC = "backend_subnet: n/b, management_subnet: n/m"
ERRORS = [
    # top level
    ("[1, 2]\n", 1, "must be a mapping"),
    ("hello\n", 1, "must be a mapping"),
    ("accounts: []\ninstance: []\n", 2, "unknown key 'instance'"),
    ("accounts: []\ninstance: []\n", 2, "did you mean 'instances'"),
    ("\naccounts: {name: acme}\n", 2, "accounts must be a list"),
    ("networks: nope\n", 1, "networks must be a list"),
    # items
    ("accounts:\n  - acme\n", 2, "each account must be a mapping"),
    ("accounts:\n  - {name: acme}\n  - {nmae: b}\n", 3, "unknown key 'nmae'"),
    ("accounts:\n  - {name: acme}\n  - {nmae: b}\n", 3, "allowed keys: name"),
    ("accounts:\n  - {}\n", 2, "missing the required key 'name'"),
    ("accounts:\n  - {name: Acme}\n", 2, "account name 'Acme' must be 1-40 characters"),
    ("accounts:\n  - {name: 42}\n", 2, "account name 42"),
    ("accounts:\n  - {name: a}\n  - {name: b}\n  - {name: a}\n", 4,
     "account 'a' is declared twice in this file (first at line 2)"),
    ("accounts:\n  - name: a\n    name: b\n", 3, "duplicate key 'name'"),
    # networks and subnets
    ("networks:\n  - {name: n, account: a}\n", 2, "missing the required key 'cidr'"),
    ("networks:\n  - name: n\n    account: a\n    cidr: 10.0.0.0/33\n", 4,
     "not an IPv4 CIDR"),
    ("networks:\n  - name: n\n    account: a\n    cidr: 10.0.0.1/16\n", 4,
     "did you mean 10.0.0.0/16"),
    ("networks:\n  - name: n\n    account: a\n    cidr: 10.0.0.0/30\n", 4, "out of range"),
    ("networks:\n  - name: n\n    account: a\n    cidr: 167772160\n", 4,
     "must be an IPv4 CIDR like 10.0.0.0/16, not the number"),
    ("networks:\n  - name: n\n    account: a_b\n    cidr: 10.0.0.0/16\n", 3, "account name"),
    ("networks:\n  - name: n\n    account: a\n    cidr: 10.0.0.0/16\n"
     "    subnets:\n      - {name: s, cidr: 10.1.0.0/24}\n", 6, "outside its network"),
    ("networks:\n  - name: n\n    account: a\n    cidr: 10.0.0.0/16\n"
     "    subnets:\n      - {name: s, cidr: 10.0.0.0/24}\n      - {name: t, cidr: 10.0.0.0/25}\n",
     7, "overlaps subnet s"),
    ("networks:\n  - name: n\n    account: a\n    cidr: 10.0.0.0/16\n"
     "    subnets:\n      - {name: s, cidr: 10.0.0.0/24}\n      - {name: s, cidr: 10.0.1.0/24}\n",
     7, "subnet 's' of network 'n' is declared twice"),
    ("networks:\n  - name: n\n    account: a\n    cidr: 10.0.0.0/16\n    subnets: x\n", 5,
     "subnets must be a list"),
    ("networks:\n  - {name: n, account: a, cidr: 10.0.0.0/16, subnets: [{name: s}]}\n", 2,
     "missing the required key 'cidr'"),
    # services
    (f"services:\n  - {{name: s, account: a, port: 80, {SVC}}}\n", 2,
     "needs a workload (http-echo, search, web) or a command"),
    (f"services:\n  - {{name: s, account: a, workload: nginx, port: 80, {SVC}}}\n", 2,
     "unknown workload 'nginx'"),
    (f"services:\n  - {{name: s, account: a, workload: search, command: x, port: 80, {SVC}}}\n",
     2, "both workload and command"),
    (f"services:\n  - {{name: s, account: a, command: 'prog {{addr}}', port: 80, {SVC}}}\n", 2,
     "unknown placeholder {addr}"),
    (f"services:\n  - {{name: s, account: a, command: \"awk '{{print}}'\", port: 80, {SVC}}}\n",
     2, "unknown placeholder {print}"),
    (f"services:\n  - {{name: s, account: a, command: 'prog {{ip', port: 80, {SVC}}}\n", 2,
     "stray brace"),
    (f"services:\n  - {{name: s, account: a, command: 'prog \"unclosed', port: 80, {SVC}}}\n", 2,
     "not well formed"),
    (f"services:\n  - {{name: s, account: a, command: '  ', port: 80, {SVC}}}\n", 2,
     "command is empty"),
    (f"services:\n  - {{name: s, account: a, workload: {{cmd: x}}, port: 80, {SVC}}}\n", 2,
     "unknown key 'cmd' in service workload"),
    (f"services:\n  - name: s\n    account: a\n    workload: search\n    port: 0\n"
     f"    {SVC.replace(', ', chr(10) + '    ')}\n", 5, "port 0 is out of range; expected 1-65535"),
    (f"services:\n  - {{name: s, account: a, workload: search, port: 65536, {SVC}}}\n", 2,
     "out of range"),
    (f"services:\n  - {{name: s, account: a, workload: search, port: true, {SVC}}}\n", 2,
     "port must be a whole number 1-65535, not the boolean true"),
    (f"services:\n  - {{name: s, account: a, workload: search, port: '80', {SVC}}}\n", 2,
     "port must be a whole number"),
    ("services:\n  - {name: s, account: a, workload: search, port: 80,\n"
     "     backend_subnet: backend, management_subnet: n/m}\n", 3,
     "must name a subnet as network/subnet"),
    ("services:\n  - {name: s, account: a, workload: search, port: 80,\n"
     "     backend_subnet: n/b/c/d, management_subnet: n/m}\n", 3, "network/subnet"),
    ("services:\n  - {name: s, account: a, workload: search, port: 80,\n"
     "     backend_subnet: n/b, management_subnet: n/Mgmt}\n", 3, "subnet name 'Mgmt'"),
    (f"services:\n  - {{name: s, account: a, workload: search, port: 80, {SVC},\n"
     "     health_path: health}\n", 3, "health_path must be a URL path starting with '/'"),
    # instances and interfaces
    ("instances:\n  - {name: vm, account: a}\n", 2, "missing the required key 'interfaces'"),
    ("instances:\n  - {name: vm, account: a, interfaces: []}\n", 2, "at least one interface"),
    ("instances:\n  - name: vm\n    account: a\n    interfaces:\n      - n/a\n      - app\n", 6,
     "network/subnet"),
    ("instances:\n  - name: vm\n    account: a\n    interfaces:\n      - n/a=10.0.1.300\n", 5,
     "'10.0.1.300' is not an IPv4 address"),
    ("instances:\n  - name: vm\n    account: a\n    interfaces:\n      - n/a=\n", 5,
     "has '=' but no address"),
    ("instances:\n  - name: vm\n    account: a\n    interfaces:\n"
     "      - {subnet: n/a,\n         ip: 10.0.1.x}\n", 6, "not an IPv4 address"),
    ("instances:\n  - name: vm\n    account: a\n    interfaces:\n      - {subnet: n/a, mac: x}\n",
     5, "unknown key 'mac' in interface"),
    ("instances:\n  - name: vm\n    account: a\n    interfaces:\n      - 42\n", 5,
     "each interface must be network/subnet"),
    ("instances:\n  - {name: vm, account: a, interfaces: [n/a=10.0.1.5]}\n"
     "  - {name: vm2, account: a, interfaces: [n/a=10.0.1.5]}\n", 3, "asked for twice"),
    ("networks: [{name: n, account: a, cidr: 10.0.0.0/16, subnets: [{name: a, "
     "cidr: 10.0.1.0/24}]}]\ninstances:\n  - {name: vm, account: a,\n"
     "     interfaces: [n/a=10.0.2.5]}\n", 4, "outside subnet 10.0.1.0/24"),
    ("networks: [{name: n, account: a, cidr: 10.0.0.0/16, subnets: [{name: a, "
     "cidr: 10.0.1.0/24}]}]\ninstances:\n  - {name: vm, account: a,\n"
     "     interfaces: [n/a=10.0.1.1]}\n", 4, "is the gateway"),
    # appliances
    ("appliances:\n  - {name: d, account: a, service: s, subnet: n/a, backends: 65}\n", 2,
     "backends 65 is out of range; expected 1-64"),
    # 0 was let through here before and refused at apply (the API's and the service's 1-64)
    ("appliances:\n  - {name: d, account: a, service: s, subnet: n/a, backends: 0}\n", 2,
     "backends 0 is out of range; expected 1-64"),
    ("appliances:\n  - {name: d, account: a, service: s, subnet: n/a, backends: -1}\n", 2,
     "out of range"),
    ("appliances:\n  - {name: d, account: a, service: s, subnet: n/a, backends: 2.5}\n", 2,
     "backends must be a whole number 1-64, not the number 2.5"),
    ("appliances:\n  - {name: d, account: a, service: S, subnet: n/a}\n", 2,
     "service name 'S'"),
    ("appliances:\n  - {name: d, account: a, service: s, subnets: n/a}\n", 2,
     "did you mean 'subnet'"),
    ("appliances:\n  - {name: d, account: a, service: s, subnet: n/a}\n"
     "  - {name: d, account: a, service: s, subnet: n/a}\n", 3, "appliance 'd' of account a is declared twice"),
    # YAML features we refuse
    ("accounts: &x [{name: a}]\nnetworks: *x\n", 2, "aliases"),
    ("accounts:\n  - {<<: {name: a}}\n", 2, "merge keys"),
    ("accounts: [{name: a}]\n---\naccounts: []\n", 2, "one YAML document"),
    ("accounts: [{name: !!bool maybe}]\n", 1, "cannot read !!bool value 'maybe'"),
    ("accounts: [{name: !!python/object:os.system x}]\n", 1, "could not parse YAML"),
    ("accounts: [{[1]: a}]\n", 1, "mapping key must be a plain word"),
    ("accounts:\n  - {name: !!timestamp 1}\n", 2, "cannot read !!timestamp value '1'"),
    ("accounts:\n  - {name: 2001-13-45}\n", 2, "cannot read !!timestamp value"),
]


@pytest.mark.parametrize(("text", "line", "words"), ERRORS,
                         ids=[f"{i}-{w[:30]}" for i, (_, _, w) in enumerate(ERRORS)])
def test_every_mistake_is_invalid_at_its_line(text: str, line: int, words: str) -> None:
    with pytest.raises(Invalid) as info:
        parse_scenario(text, "bad.yaml")
    err = info.value
    assert err.where is not None
    assert err.where.split(":")[:2] == ["bad.yaml", str(line)], str(err)
    assert words in err.message, str(err)


def test_malformed_yaml_names_line_and_column() -> None:
    text = EXAMPLE.replace("{name: searchco}]", "{name: searchco}").replace(
        "networks:", "networks")
    with pytest.raises(Invalid) as info:
        parse_scenario("accounts: [a, b\nnetworks: []\n", "search.yaml")
    assert info.value.where == "search.yaml:2:9"
    assert str(info.value).startswith("search.yaml:2:9: could not parse YAML: expected ',' or ']'")
    with pytest.raises(Invalid) as info:
        parse_scenario(text, "search.yaml")
    assert info.value.where.startswith("search.yaml:")
    assert "could not parse YAML" in info.value.message
    with pytest.raises(Invalid) as info:
        parse_scenario("accounts:\n  - name: a\n   bad: indent\n", "s.yaml")
    assert info.value.where.count(":") == 2
    assert info.value.where.startswith("s.yaml:3:")


def test_bad_characters_and_encodings_name_their_line() -> None:
    with pytest.raises(Invalid) as info:
        parse_scenario("accounts: []\nx: \x00\n", "s.yaml")
    assert info.value.where == "s.yaml:2:4"
    with pytest.raises(Invalid) as info:
        parse_scenario(b"accounts: []\n\xff\n", "s.yaml")
    assert info.value.where == "s.yaml:2"
    assert "UTF-8" in info.value.message


def test_size_and_nesting_limits() -> None:
    big = "# " + "x" * (1024 * 1024) + "\n"
    with pytest.raises(Invalid, match="at most 1 MiB"):
        parse_scenario(big, "big.yaml")
    with pytest.raises(Invalid, match="at most 1 MiB"):
        parse_scenario(big.encode(), "big.yaml")
    with pytest.raises(Invalid, match="could not parse YAML"):
        parse_scenario("[" * 5000 + "]" * 5000, "deep.yaml")


def test_every_error_is_an_invalid_with_the_file_name() -> None:
    with pytest.raises(Invalid) as info:
        parse_scenario("accounts: 3\n")
    assert info.value.where == "<scenario>:1"


def _mutations(rng: random.Random, base: str) -> str:
    chars = list(base)
    alphabet = "{}[],:-#&*!|>'\"\n /=.0123456789abcxyz\t?%@`~\\"
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(5)
        pos = rng.randrange(len(chars) + 1)
        if op == 0 and chars:
            del chars[min(pos, len(chars) - 1)]
        elif op == 1:
            chars.insert(pos, rng.choice(alphabet))
        elif op == 2 and chars:
            chars[min(pos, len(chars) - 1)] = rng.choice(alphabet)
        elif op == 3:
            start = rng.randrange(len(chars) + 1)
            chars[pos:pos] = chars[start:start + rng.randint(1, 40)]
        else:
            lines = "".join(chars).split("\n")
            rng.shuffle(lines)
            chars = list("\n".join(lines))
    return "".join(chars)


TAGS = ["!!int", "!!float", "!!binary", "!!set", "!!omap", "!!pairs", "!!timestamp", "!!str",
        "!!null", "!!bool", "!!merge", "!!value", "!!map", "!!seq", "!local", "!!python/name:os.system",
        ""]
VALUES = ["1", "0x1f", "1:20", "1e999", ".nan", "~", "yes", "2001-13-45", "2001-12-14", "[]", "{}",
          "[a, b]", "{a: 1}", "'x'", '"\\u0000"', "9" * 5000, "a/b=1.2.3.4", "10.0.0.0/8", "&a x"]


def _retag(rng: random.Random, base: str) -> str:
    """Replace a few values of the example with odd YAML: explicit tags, huge numbers, dates."""
    parts = re.split(r"(?<=: )([^,{}\[\]\n]+)", base)
    for _ in range(rng.randint(1, 3)):
        j = rng.randrange(1, len(parts), 2)
        parts[j] = f"{rng.choice(TAGS)} {rng.choice(VALUES)}".strip()
    return "".join(parts)


def test_random_input_gives_a_scenario_or_invalid_never_a_crash() -> None:
    rng = random.Random(20240607)
    seen_ok = seen_invalid = 0
    cases: list[str | bytes] = []
    cases += [_mutations(rng, EXAMPLE) for _ in range(400)]
    cases += [bytes(rng.randrange(256) for _ in range(rng.randint(0, 200))) for _ in range(150)]
    cases += ["".join(rng.choice("{}[]:,-\n 'ab!&*") for _ in range(rng.randint(0, 60)))
              for _ in range(150)]
    cases += [_retag(rng, EXAMPLE) for _ in range(300)]
    for case in cases:
        try:
            result = parse_scenario(case, "fuzz.yaml")
        except Invalid as exc:
            assert exc.where and exc.where.startswith("fuzz.yaml"), (case, exc)
            seen_invalid += 1
        else:
            assert isinstance(result, Scenario)
            seen_ok += 1
    assert seen_ok > 10 and seen_invalid > 100


def test_overlap_detection_agrees_with_comparing_every_pair() -> None:
    rng = random.Random(7)
    outcomes = set()
    for _ in range(200):
        nets = [ipaddress.IPv4Network((0x0A000000 | rng.randrange(1 << 16), 32))
                .supernet(new_prefix=rng.randint(20, 29)) for _ in range(rng.randint(2, 8))]
        first_clash = next((j for j in range(len(nets))
                            if any(nets[j].overlaps(nets[k]) for k in range(j))), None)
        subnets = ", ".join(f"{{name: s{i}, cidr: {n}}}" for i, n in enumerate(nets))
        text = f"networks:\n  - {{name: n, account: a, cidr: 10.0.0.0/16, subnets: [{subnets}]}}\n"
        outcomes.add(first_clash is None)
        if first_clash is None:
            assert len(parse_scenario(text).networks[0].subnets) == len(nets)
        else:
            with pytest.raises(Invalid, match=f"subnet {nets[first_clash]} overlaps"):
                parse_scenario(text)
    assert outcomes == {True, False}
