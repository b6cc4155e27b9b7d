"""The scenario file: parse and validate the YAML a user gives to `facade apply -f FILE`.

A scenario declares accounts, networks (with subnets), grants, load-balancer offers, services,
instances, appliances and rules.
`parse_scenario` turns the file's text into a frozen `Scenario` of plain declarations, each
carrying the 1-based line it was written on, so the service layer's apply/destroy can report
its own errors (a reference to a missing object, a name already taken) at the right place.

This module is pure: no database, no kernel, no network. It checks everything that can be
checked from the file alone (YAML syntax, keys, types, names, CIDRs, addresses, ports, counts,
uniqueness within the file, subnets inside and not overlapping within their network, command
templates) and raises `Invalid` with `where` = "FILE:LINE" for the first problem it meets.
References between objects (an appliance's service, an instance's subnet...) may name objects
that already exist in the control plane, so resolving them is left to the service layer.
"""

from __future__ import annotations

import bisect
import difflib
import ipaddress
import re
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NoReturn

import yaml

from facade.domain import autoscale as autoscale_mod
from facade.domain import commands, counts, security
from facade.domain import prices as pricing
from facade.domain.errors import Conflict, Invalid
from facade.domain.errors import describe as _describe
from facade.domain.ipam import (
    SubnetRange,
    check_no_overlap,
    check_subnet_in_network,
    parse_cidr,
    parse_ip,
)
from facade.domain.money import CURRENCY, check_currency
from facade.domain.names import check_interface_ref, check_name, check_subnet_ref
from facade.domain.specs import PortRuleSpec

MAX_BYTES = 1024 * 1024
TOP_LEVEL = ("accounts", "prices", "networks", "grants", "load_balancers", "services",
             "instances", "appliances", "rules")

# ---------------------------------------------------------------------------------------------
# Declarations


@dataclass(frozen=True)
class Declaration:
    """Shared by every declaration: `line` is where its mapping (or string) starts, 1-based.
    The service layer's apply and destroy report their errors at `where`."""

    @property
    def kind(self) -> str:
        raise NotImplementedError

    @property
    def label(self) -> str:
        return getattr(self, "name", "")

    @property
    def where(self) -> str:
        """"search.yaml:12 (appliance docs)": for error messages about this declaration."""
        file = getattr(self, "file", "<scenario>")
        line = getattr(self, "line", 0)
        return f"{file}:{line} ({self.kind} {self.label})"


@dataclass(frozen=True)
class AccountDecl(Declaration):
    name: str
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)

    @property
    def kind(self) -> str:
        return "account"


@dataclass(frozen=True)
class SubnetDecl(Declaration):
    """A subnet of a network; `name` is its own name, `ref` is "network/subnet"."""

    name: str
    cidr: str
    line: int = 0
    network: str = ""
    file: str = field(default="<scenario>", compare=False, repr=False)

    @property
    def kind(self) -> str:
        return "subnet"

    @property
    def ref(self) -> str:
        return f"{self.network}/{self.name}"

    @property
    def label(self) -> str:
        return self.ref


@dataclass(frozen=True)
class NetworkDecl(Declaration):
    name: str
    account: str
    cidr: str
    subnets: tuple[SubnetDecl, ...] = ()
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)

    @property
    def kind(self) -> str:
        return "network"


@dataclass(frozen=True)
class GrantDecl(Declaration):
    """`grants: [{subnet: NET/SUB, account: X}]`: the subnet's owner lets account X give its
    instances interfaces in the subnet (service.grants)."""

    subnet: str  # "network/subnet"
    account: str
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)

    @property
    def kind(self) -> str:
        return "grant"

    @property
    def label(self) -> str:
        return f"{self.subnet} to {self.account}"


@dataclass(frozen=True)
class LoadBalancerDecl(Declaration):
    """`load_balancers: [{name, account, management_subnet: NET/SUB}]`: a front-end provider's
    load-balancer offer (service.load_balancers), which a service names in `frontend:`."""

    name: str
    account: str
    management_subnet: str  # "network/subnet"
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)

    @property
    def kind(self) -> str:
        return "load-balancer"


@dataclass(frozen=True)
class ServiceDecl(Declaration):
    """Exactly one of `workload` (a built-in: http-echo, search) and `command` is set.

    `command` is a template: split it with `argv` (shlex, never a shell) and replace {ip},
    {port} and {name} in each word; no other braces can appear in it.
    """

    name: str
    account: str
    workload: str | None
    command: str | None
    port: int
    backend_subnet: str
    management_subnet: str
    health_path: str | None = None
    upstream: str | None = None  # the appliance its backends call (docs/composition.md)
    frontend: str | None = None  # the load-balancer offer its front-ends come from
    # subnets every backend also gets a leg in (docs/composition.md), in order
    extra_subnets: tuple[str, ...] = ()
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)
    upstream_line: int = field(default=0, compare=False, repr=False)
    # prices as given ("node_hour.backend", "0.40"), checked; none given: every price is 0
    prices: tuple[tuple[str, str], ...] = ()
    billing_model: str = "provider-bills"
    # autoscaling policy (docs/autoscaling.md), checked; None: a fixed size per appliance
    autoscale: autoscale_mod.Policy | None = None
    # each backend's sandbox limits as given (("memory_mb", 256), ...), checked
    limits: tuple[tuple[str, int], ...] = ()
    # its health check as given (("interval", 2.0), ...), health_path as its path; checked
    health_check: tuple[tuple[str, Any], ...] = ()

    @property
    def kind(self) -> str:
        return "service"

    @property
    def prices_plain(self) -> dict[str, object]:
        return _nest(self.prices)

    @property
    def argv(self) -> tuple[str, ...]:
        """The command's words, placeholders not yet replaced; () for a built-in workload."""
        return tuple(shlex.split(self.command)) if self.command is not None else ()


@dataclass(frozen=True)
class InterfaceDecl(Declaration):
    subnet: str  # "network/subnet"
    ip: str | None = None
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)

    @property
    def kind(self) -> str:
        return "interface"

    @property
    def label(self) -> str:
        return self.subnet if self.ip is None else f"{self.subnet}={self.ip}"


@dataclass(frozen=True)
class InstanceDecl(Declaration):
    name: str
    account: str
    interfaces: tuple[InterfaceDecl, ...]
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)
    # its sandbox limits as given (("memory_mb", 256), ...), checked
    limits: tuple[tuple[str, int], ...] = ()

    @property
    def kind(self) -> str:
        return "instance"


@dataclass(frozen=True)
class ApplianceDecl(Declaration):
    name: str
    account: str
    service: str
    subnet: str  # "network/subnet"
    backends: int = 1
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)

    @property
    def kind(self) -> str:
        return "appliance"


@dataclass(frozen=True)
class RuleDecl(Declaration):
    """A security rule of a subnet (`subnet: net/sub`) or of one interface (`interface:
    instance/eth0`); `rule` holds the validated fields (domain.security)."""

    subnet: str | None
    interface: str | None
    rule: PortRuleSpec
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)

    @property
    def kind(self) -> str:
        return "rule"

    @property
    def label(self) -> str:
        scope = f"subnet {self.subnet}" if self.subnet else f"interface {self.interface}"
        return f"{scope} {self.rule.direction} {self.rule.priority}"


@dataclass(frozen=True)
class PricesDecl(Declaration):
    """The top-level `prices`: the operator's instance prices (`instances`, as given, checked)
    and front-end providers' prices (`frontend`: account -> per front-end node-hour)."""

    instances: tuple[tuple[str, str], ...] | None = None
    frontend: tuple[tuple[str, str], ...] = ()
    currency: str | None = None
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)

    @property
    def kind(self) -> str:
        return "prices"

    @property
    def label(self) -> str:
        return "instances" if self.instances is not None else "front-end"

    @property
    def instances_plain(self) -> dict[str, object]:
        out = _nest(self.instances or ())
        if self.currency is not None:
            out["currency"] = self.currency
        return out


def _flat(data: object, prefix: str = "") -> tuple[tuple[str, str], ...]:
    if isinstance(data, dict):
        return tuple(kv for k, v in data.items() for kv in _flat(v, f"{prefix}{k}."))
    return ((prefix[:-1], str(data)),)


def _nest(flat: tuple[tuple[str, str], ...]) -> dict[str, object]:
    out: dict[str, object] = {}
    for path, value in flat:
        *parents, last = path.split(".")
        node = out
        for part in parents:
            child = node.setdefault(part, {})
            assert isinstance(child, dict)
            node = child
        node[last] = value
    return out


Decl = (AccountDecl | NetworkDecl | GrantDecl | LoadBalancerDecl | ServiceDecl | InstanceDecl
        | ApplianceDecl | RuleDecl | PricesDecl)


@dataclass(frozen=True)
class Scenario:
    file: str = "<scenario>"
    accounts: tuple[AccountDecl, ...] = ()
    networks: tuple[NetworkDecl, ...] = ()
    services: tuple[ServiceDecl, ...] = ()
    instances: tuple[InstanceDecl, ...] = ()
    appliances: tuple[ApplianceDecl, ...] = ()
    rules: tuple[RuleDecl, ...] = ()
    prices: tuple[PricesDecl, ...] = ()  # at most one
    grants: tuple[GrantDecl, ...] = ()
    load_balancers: tuple[LoadBalancerDecl, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.accounts or self.networks or self.services or self.instances
                    or self.appliances or self.rules or self.prices or self.grants
                    or self.load_balancers)

    def in_order(self) -> tuple[Decl, ...]:
        """Every declaration in creation order (accounts first); destroy walks it backwards."""
        return (*self.accounts, *self.prices, *self.networks, *self.grants,
                *self.load_balancers, *self.services, *self.instances,
                *self.rules, *self.appliances)


# ---------------------------------------------------------------------------------------------
# YAML with line numbers


class _Map(dict[Any, Any]):
    """A YAML mapping that remembers its line and the line of each key (1-based)."""

    line: int = 1
    key_lines: dict[Any, int]


class _Seq(list[Any]):
    """A YAML sequence that remembers its line and the line of each item (1-based)."""

    line: int = 1
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    """A safe loader that keeps line numbers, refuses duplicate keys, aliases and merge keys."""

    filename = "<scenario>"

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not supported in scenario files",
                event.start_mark)
        return super().compose_node(parent, index)

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (yaml.YAMLError, Invalid, RecursionError):
            raise
        except Exception as exc:  # PyYAML's own constructors, on hostile text
            # bad values for explicit or implicit tags (!!int abc, !!bool maybe,
            # 2001-13-45, !!timestamp 1...) raise ValueError, KeyError, AttributeError...
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            shown = f" {node.value!r}" if isinstance(node, yaml.ScalarNode) else ""
            why = f" ({exc})" if isinstance(exc, ValueError) else ""
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {tag} value{shown}{why}", node.start_mark) from exc

    def _construct_map(self, node: Any) -> _Map:
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping, found {node.id}", node.start_mark)
        data = _Map()
        data.line = node.start_mark.line + 1
        data.key_lines = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise Invalid("YAML merge keys (<<) are not supported in scenario files",
                              where=f"{self.filename}:{key_line}")
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise Invalid("a mapping key must be a plain word like 'name', not a list or "
                              "mapping", where=f"{self.filename}:{key_line}") from None
            if key in data.key_lines:
                raise Invalid(f"duplicate key {key!r} in this mapping (first given at line "
                              f"{data.key_lines[key]}); give each key once",
                              where=f"{self.filename}:{key_line}")
            data.key_lines[key] = key_line
            data[key] = self.construct_object(value_node, deep=True)
        return data

    def _construct_seq(self, node: Any) -> _Seq:
        if not isinstance(node, yaml.SequenceNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a sequence, found {node.id}", node.start_mark)
        data = _Seq(self.construct_object(child, deep=True) for child in node.value)
        data.line = node.start_mark.line + 1
        data.item_lines = [child.start_mark.line + 1 for child in node.value]
        return data


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader._construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader._construct_seq)


def _line_col(text: str, position: int) -> tuple[int, int]:
    position = max(0, min(position, len(text)))
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return line, column


def _load(text: str, filename: str) -> Any:
    loader = None
    try:
        loader = _Loader(text)  # checks every character first (ReaderError)
        loader.filename = filename
        return loader.get_single_data()
    except yaml.reader.ReaderError as exc:
        line, column = _line_col(text, exc.position)
        raise Invalid(f"could not parse YAML: unacceptable character #x{exc.character:04x} "
                      "(special characters are not allowed)",
                      where=f"{filename}:{line}:{column}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{filename}:{mark.line + 1}:{mark.column + 1}" if mark else filename
        if isinstance(exc, yaml.composer.ComposerError) and exc.problem == \
                "but found another document":
            raise Invalid("a scenario file holds one YAML document; another one ('---') starts "
                          "here", where=where) from None
        message = f"could not parse YAML: {exc.problem or exc.context or 'malformed'}"
        if exc.problem and exc.context:
            ctx = exc.context
            if exc.context_mark is not None and exc.context_mark is not mark:
                ctx += f" started at line {exc.context_mark.line + 1}"
            message += f" ({ctx})"
        raise Invalid(message, where=where) from None
    except yaml.YAMLError as exc:
        raise Invalid(f"could not parse YAML: {exc}", where=filename) from None
    except RecursionError:
        raise Invalid("could not parse YAML: the document is nested too deeply",
                      where=filename) from None
    finally:
        if loader is not None:
            loader.dispose()


# ---------------------------------------------------------------------------------------------
# Validation helpers


def _unknown_key_message(key: object, what: str, allowed: tuple[str, ...]) -> str:
    message = f"unknown key {key!r} in {what}; allowed keys: {', '.join(allowed)}"
    if isinstance(key, str):
        close = difflib.get_close_matches(key, allowed, n=1)
        if close:
            message += f" (did you mean {close[0]!r}?)"
    return message


class _Item:
    """One mapping of the file being read: its keys are checked, its fields fetched by name."""

    def __init__(self, data: _Map, *, kind: str, file: str, allowed: tuple[str, ...],
                 required: tuple[str, ...]) -> None:
        self.data = data
        self.kind = kind
        self.file = file
        self.line = data.line
        for key in data:
            if key not in allowed:
                raise Invalid(_unknown_key_message(key, kind, allowed),
                              where=self.at(key))
        for key in required:
            if key not in data:
                raise Invalid(f"{kind} is missing the required key {key!r} "
                              f"(required: {', '.join(required)})", where=self.here)

    @property
    def here(self) -> str:
        return f"{self.file}:{self.line}"

    def at(self, key: object) -> str:
        return f"{self.file}:{self.data.key_lines.get(key, self.line)}"

    def fail(self, key: str, message: str) -> NoReturn:
        raise Invalid(message, where=self.at(key))

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def name(self, key: str = "name", *, kind: str | None = None) -> str:
        return check_name(self.data.get(key), kind=kind or self.kind, where=self.at(key))

    def string(self, key: str, what: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str):
            self.fail(key, f"{self.kind} {key} must be {what}, not {_describe(value)}")
        return value

    def cidr(self, key: str = "cidr") -> ipaddress.IPv4Network:
        text = self.string(key, "an IPv4 CIDR like 10.0.0.0/16")
        return parse_cidr(text, where=self.at(key))

    def subnet_ref(self, key: str) -> str:
        return check_subnet_ref(self.data.get(key), where=self.at(key),
                                what=f"{self.kind} {key}")


def _items(top: _Map, key: str, file: str) -> Iterator[tuple[object, int]]:
    """The items of a top-level (or nested) list with their lines; null counts as empty."""
    value = top.get(key)
    where = f"{file}:{top.key_lines.get(key, top.line)}"
    if value is None:
        return
    if not isinstance(value, list):
        raise Invalid(f"{key} must be a list (YAML '- item' lines or [a, b]), not "
                      f"{_describe(value)}", where=where)
    lines = getattr(value, "item_lines", None) or [top.key_lines.get(key, top.line)] * len(value)
    yield from zip(value, lines, strict=True)


def _mapping(value: object, line: int, *, kind: str, file: str, allowed: tuple[str, ...],
             required: tuple[str, ...]) -> _Item:
    if not isinstance(value, _Map):
        shape = ", ".join(f"{k}: ..." for k in required)
        raise Invalid(f"each {kind} must be a mapping like {{{shape}}}, not {_describe(value)}",
                      where=f"{file}:{line}")
    return _Item(value, kind=kind, file=file, allowed=allowed, required=required)


class _Unique:
    """Names seen so far for one kind, to refuse a second declaration with the same name."""

    def __init__(self, kind: str, scope: str = "") -> None:
        self.kind = kind
        self.scope = scope
        self.seen: dict[str, int] = {}

    def add(self, name: str, line: int, where: str) -> None:
        if name in self.seen:
            rule = "within their network" if self.scope else "per kind"
            raise Invalid(f"{self.kind} {name!r}{self.scope} is declared twice in this file "
                          f"(first at line {self.seen[name]}); names are unique {rule}",
                          where=where)
        self.seen[name] = line


class _Siblings:
    """The subnets of one network seen so far, to find an overlap without comparing all pairs.

    CIDR blocks overlap only when one holds the other: a new block overlaps a sibling that is
    one of its supernets, or a sibling whose first address lies inside it.
    """

    def __init__(self) -> None:
        self.names: dict[ipaddress.IPv4Network, str] = {}
        self.starts: list[int] = []  # sorted first addresses
        self.by_start: dict[int, ipaddress.IPv4Network] = {}

    def overlapping(self, cidr: ipaddress.IPv4Network) -> dict[str, str]:
        for prefix in range(cidr.prefixlen, -1, -1):
            sup = cidr.supernet(new_prefix=prefix)
            if sup in self.names:
                return {self.names[sup]: str(sup)}
        i = bisect.bisect_left(self.starts, int(cidr.network_address))
        if i < len(self.starts) and self.starts[i] <= int(cidr.broadcast_address):
            inner = self.by_start[self.starts[i]]
            return {self.names[inner]: str(inner)}
        return {}

    def add(self, name: str, cidr: ipaddress.IPv4Network) -> None:
        self.names[cidr] = name
        bisect.insort(self.starts, int(cidr.network_address))
        self.by_start[int(cidr.network_address)] = cidr


# ---------------------------------------------------------------------------------------------
# The sections


def _accounts(top: _Map, file: str) -> tuple[AccountDecl, ...]:
    unique = _Unique("account")
    out = []
    for value, line in _items(top, "accounts", file):
        item = _mapping(value, line, kind="account", file=file, allowed=("name",),
                        required=("name",))
        name = item.name()
        unique.add(name, item.line, item.at("name"))
        out.append(AccountDecl(name=name, line=item.line, file=file))
    return tuple(out)


def _subnets(net: _Item, network: str, net_cidr: ipaddress.IPv4Network,
             file: str) -> tuple[SubnetDecl, ...]:
    unique = _Unique("subnet", f" of network {network!r}")
    siblings = _Siblings()
    out = []
    for value, line in _items(net.data, "subnets", file):
        item = _mapping(value, line, kind="subnet", file=file, allowed=("name", "cidr"),
                        required=("name", "cidr"))
        name = item.name()
        unique.add(name, item.line, item.at("name"))
        cidr = item.cidr()
        check_subnet_in_network(cidr, net_cidr, where=item.at("cidr"))
        try:
            check_no_overlap(cidr, siblings.overlapping(cidr), where=item.at("cidr"))
        except Conflict as exc:  # within one file it is a mistake in the file: Invalid
            raise Invalid(exc.message, where=exc.where) from None
        siblings.add(name, cidr)
        out.append(SubnetDecl(name=name, cidr=str(cidr), line=item.line, network=network,
                              file=file))
    with _fields_at(net):
        counts.check_subnets(len(out), where="subnets")
    return tuple(out)


def _networks(top: _Map, file: str) -> tuple[NetworkDecl, ...]:
    unique = _Unique("network")
    out = []
    for value, line in _items(top, "networks", file):
        item = _mapping(value, line, kind="network", file=file,
                        allowed=("name", "account", "cidr", "subnets"),
                        required=("name", "account", "cidr"))
        name = item.name()
        unique.add(name, item.line, item.at("name"))
        account = item.name("account", kind="account")
        cidr = item.cidr()
        subnets = _subnets(item, name, cidr, file)
        out.append(NetworkDecl(name=name, account=account, cidr=str(cidr), subnets=subnets,
                               line=item.line, file=file))
    return tuple(out)


def _services(top: _Map, file: str) -> tuple[ServiceDecl, ...]:
    """services: the fields of POST /v1/services (account required, and `autoscale`), checked
    by commands.new_service like an API body."""
    unique = _Unique("service")
    out = []
    allowed = ("name", "account", "workload", "command", "port", "backend_subnet",
               "management_subnet", "health_path", "upstream", "prices", "billing_model",
               "autoscale", "frontend", "extra_subnets", "limits", "health_check")
    for value, line in _items(top, "services", file):
        item = _mapping(value, line, kind="service", file=file, allowed=allowed,
                        required=("name", "account", "port", "backend_subnet",
                                  "management_subnet"))
        name = item.name()
        unique.add(name, item.line, item.at("name"))
        account = item.name("account", kind="account")
        workload, command, moved = _source(item, file)
        backend = item.subnet_ref("backend_subnet")
        management = item.subnet_ref("management_subnet")
        extras = tuple(check_subnet_ref(v, where=f"{file}:{n}",
                                        what="service extra_subnets entry")
                       for v, n in _items(item.data, "extra_subnets", file))
        with _fields_at(item, moved):
            cmd = commands.new_service(
                name=name, workload_name=workload, command=command,
                port=item.data.get("port"), backend_subnet=backend,
                management_subnet=management, health_path=item.data.get("health_path"),
                health_check=item.data.get("health_check"), limits=item.data.get("limits"),
                extra_subnets=extras, billing_model=item.data.get("billing_model"),
                upstream=item.data.get("upstream"), frontend=item.data.get("frontend"))
        given = item.data.get("prices")
        with _prices_at(item, "prices"):
            pricing.service_prices(given, where="prices")
        out.append(ServiceDecl(name=name, account=account, workload=cmd.workload,
                               command=cmd.command, port=cmd.port, backend_subnet=backend,
                               management_subnet=management, health_path=cmd.health_path,
                               upstream=cmd.upstream, frontend=cmd.frontend,
                               extra_subnets=extras, line=item.line, file=file,
                               upstream_line=item.data.key_lines.get("upstream", item.line),
                               prices=_flat(given) if given else (),
                               billing_model=cmd.billing_model,
                               autoscale=_autoscale(item, file),
                               limits=tuple(sorted(cmd.limits.items())),
                               health_check=tuple(sorted(cmd.health_check.items()))))
    return tuple(out)


def _source(item: _Item, file: str) -> tuple[object, object, dict[str, int]]:
    """What a service runs as given, (workload, command, lines): `workload: search`,
    `command: "prog ..."`, or `workload: {command: "prog ..."}`, whose command's line is not
    the line of a `command` key of the service (`lines` says where it is)."""
    raw = item.data.get("workload")
    if not isinstance(raw, _Map):
        return raw, item.data.get("command"), {}
    sub = _Item(raw, kind="service workload", file=file, allowed=("command",),
                required=("command",))
    if item.has("command"):
        item.fail("command", "service gives a command twice (under workload and as "
                             "command); give it once")
    return None, sub.data["command"], {"command": sub.data.key_lines["command"]}


def _line_of(data: _Map, path: str, line: int) -> int:
    """The line of the key a field path names ("health_check.timeout", "interfaces[2]"):
    the deepest part of it the file has; `line` when it has none of it."""
    node: object = data
    for part in re.findall(r"[^.\[\]]+", path):
        if isinstance(node, _Map) and part in node:
            line, node = node.key_lines.get(part, line), node[part]
        elif isinstance(node, _Seq) and part.isdigit() and int(part) < len(node):
            line, node = node.item_lines[int(part)], node[int(part)]
        else:
            break
    return line


@contextmanager
def _fields_at(item: _Item, lines: dict[str, int] | None = None) -> Iterator[None]:
    """Re-raise a create command's error (where = the field path an API body would name) at
    the file line of that key; a nested field's message names the declaration's kind."""
    try:
        yield
    except Invalid as exc:
        path = exc.where or ""
        line = (lines or {}).get(path) or _line_of(item.data, path, item.line)
        message = f"{item.kind} {exc.message}" if "." in path else exc.message
        raise Invalid(message, where=f"{item.file}:{line}") from None


def _autoscale(item: _Item, file: str) -> autoscale_mod.Policy | None:
    """services[].autoscale: {min, max, metric, target, cooldown (default 30)}."""
    raw = item.data.get("autoscale")
    if raw is None:
        return None
    if not isinstance(raw, _Map):
        item.fail("autoscale", "service autoscale must be a mapping like {min: 1, max: 4, "
                               "metric: requests, target: 50}")
    fields = ("min", "max", "metric", "target", "cooldown")
    sub = _Item(raw, kind="autoscale", file=file, allowed=fields,
                required=("min", "max", "metric", "target"))
    try:
        return autoscale_mod.requested(
            min=sub.data.get("min"), max=sub.data.get("max"), metric=sub.data.get("metric"),
            target=sub.data.get("target"), cooldown=sub.data.get("cooldown"))
    except Invalid as exc:
        key = (exc.where or "").rpartition(".")[2]
        sub.fail(key if key in fields else "min", f"autoscale {exc.message}")


@contextmanager
def _prices_at(item: _Item, key: str) -> Iterator[None]:
    """Re-raise a price error (where = "prices.node_hour.backend") at the line of the key it
    names inside the file's nested mapping."""
    try:
        yield
    except Invalid as exc:
        path = ".".join([key, *(exc.where or "").split(".")[1:]])
        raise Invalid(f"{item.kind} {exc.where}: {exc.message}",
                      where=f"{item.file}:{_line_of(item.data, path, item.line)}") from None


def _prices(top: _Map, file: str) -> tuple[PricesDecl, ...]:
    """prices: {currency, instances: {node_hour: {frontend, backend}}, frontend: {ACCOUNT:
    per front-end node-hour}}"""
    if top.get("prices") is None:
        return ()
    value = top["prices"]
    line = top.key_lines.get("prices", top.line)
    item = _mapping(value, line, kind="prices", file=file,
                    allowed=("currency", "instances", "frontend"), required=())
    try:
        cur = check_currency(item.data.get("currency", CURRENCY), where="prices.currency")
    except Invalid as exc:
        item.fail("currency", f"prices {exc.message}")
    instances = item.data.get("instances")
    if instances is not None:
        with _prices_at(item, "instances"):
            if isinstance(instances, dict) and "currency" in instances:
                raise Invalid("give the currency once, as prices.currency",
                              where="instances.currency")
            pricing.instance_prices(instances, where="instances", currency=cur)
    frontend = item.data.get("frontend")
    if frontend is None:
        frontend = _Map()
        frontend.key_lines = {}
    if not isinstance(frontend, _Map):
        item.fail("frontend", "prices frontend must be a mapping of account to its price per "
                              f"front-end node-hour, like {{lbco: '0.08'}}, not "
                              f"{_describe(frontend)}")
    fe = _Item(frontend, kind="prices frontend", file=file, allowed=tuple(
        str(k) for k in frontend), required=())
    for account, price in frontend.items():
        check_name(account, kind="account", where=fe.at(account))
        with _prices_at(fe, account):
            pricing.price(price, where=str(account), currency=cur)
    return (PricesDecl(instances=_flat(instances) if instances else
                       (() if instances is not None else None),
                       frontend=tuple((str(k), str(v)) for k, v in frontend.items()),
                       currency=item.data.get("currency"), line=item.line, file=file),)


def _grants(top: _Map, file: str, networks: tuple[NetworkDecl, ...]) -> tuple[GrantDecl, ...]:
    owners = {n.name: n.account for n in networks}
    seen: dict[tuple[str, str], int] = {}
    out = []
    for value, line in _items(top, "grants", file):
        item = _mapping(value, line, kind="grant", file=file, allowed=("subnet", "account"),
                        required=("subnet", "account"))
        subnet = item.subnet_ref("subnet")
        account = item.name("account", kind="account")
        if owners.get(subnet.split("/")[0]) == account:
            item.fail("account", f"account {account} owns subnet {subnet} (its network is "
                                 "declared in this file); it needs no grant")
        if (subnet, account) in seen:
            item.fail("account", f"subnet {subnet} is granted to {account} twice (first at "
                                 f"line {seen[(subnet, account)]})")
        seen[(subnet, account)] = item.line
        out.append(GrantDecl(subnet=subnet, account=account, line=item.line, file=file))
    return tuple(out)


def _load_balancers(top: _Map, file: str, networks: tuple[NetworkDecl, ...],
                    services: tuple[ServiceDecl, ...]) -> tuple[LoadBalancerDecl, ...]:
    """load_balancers: [{name, account, management_subnet}], the fields of POST
    /v1/load-balancers (account required here, as for every declaration of a file)."""
    owners = {n.name: n.account for n in networks}
    backends = {s.backend_subnet: s.name for s in services}
    unique = _Unique("load-balancer offer")
    out = []
    for value, line in _items(top, "load_balancers", file):
        item = _mapping(value, line, kind="load-balancer offer", file=file,
                        allowed=("name", "account", "management_subnet"),
                        required=("name", "account", "management_subnet"))
        with _fields_at(item):
            cmd = commands.new_load_balancer(
                name=item.data.get("name"),
                management_subnet=item.data.get("management_subnet"))
        name, management = cmd.name, cmd.management_subnet
        unique.add(name, item.line, item.at("name"))
        account = item.name("account", kind="account")
        owner = owners.get(management.split("/")[0])
        if owner is not None and owner != account:
            item.fail("management_subnet", f"load-balancer offer {name}: management_subnet "
                                           f"{management} belongs to account {owner} (its "
                                           "network is declared in this file), not to the "
                                           f"front-end provider {account}")
        if management in backends:
            item.fail("management_subnet", f"load-balancer offer {name}: management_subnet "
                                           f"{management} is the backend subnet of service "
                                           f"{backends[management]}; a management subnet "
                                           "carries management traffic only")
        out.append(LoadBalancerDecl(name=name, account=account, management_subnet=management,
                                    line=item.line, file=file))
    return tuple(out)


def _interface(value: object, line: int, file: str) -> InterfaceDecl:
    where = f"{file}:{line}"
    if isinstance(value, str):
        ref, sep, ip_text = value.partition("=")
        subnet = check_subnet_ref(ref.strip(), where=where, what="interface")
        ip = ip_text.strip() if sep else None
        if sep and not ip:
            raise Invalid(f"interface {value!r} has '=' but no address; write "
                          "network/subnet=10.0.1.50 or just network/subnet", where=where)
    elif isinstance(value, _Map):
        item = _Item(value, kind="interface", file=file, allowed=("subnet", "ip"),
                     required=("subnet",))
        subnet = item.subnet_ref("subnet")
        raw = item.data.get("ip")
        if raw is not None and not isinstance(raw, str):
            item.fail("ip", f"interface ip must be an IPv4 address like 10.0.1.50, not "
                            f"{_describe(raw)}")
        ip = raw
        where = item.at("ip")
        line = item.line
    else:
        raise Invalid("each interface must be network/subnet, network/subnet=IP or "
                      f"{{subnet: network/subnet, ip: IP}}, not {_describe(value)}", where=where)
    if ip is not None:
        ip = str(parse_ip(ip, where=where))
    return InterfaceDecl(subnet=subnet, ip=ip, line=line, file=file)


def _instances(top: _Map, file: str,
               subnet_cidr: Callable[[str], str | None]) -> tuple[InstanceDecl, ...]:
    unique = _Unique("instance")
    addresses: dict[tuple[str, str], str] = {}
    out = []
    for value, line in _items(top, "instances", file):
        item = _mapping(value, line, kind="instance", file=file,
                        allowed=("name", "account", "interfaces", "limits"),
                        required=("name", "account", "interfaces"))
        name = item.name()
        unique.add(name, item.line, item.at("name"))
        account = item.name("account", kind="account")
        interfaces = tuple(_interface(v, n, file) for v, n in _items(item.data, "interfaces",
                                                                      file))
        with _fields_at(item):
            cmd = commands.new_instance(
                name=name, interfaces=[{"subnet": i.subnet, "ip": i.ip} for i in interfaces],
                limits=item.data.get("limits"))
        for iface in interfaces:
            if iface.ip is None:
                continue
            where = f"{file}:{iface.line}"
            cidr = subnet_cidr(iface.subnet)
            if cidr is not None:
                SubnetRange.of(cidr).check_requested(ipaddress.IPv4Address(iface.ip),
                                                     where=where)
            key = (iface.subnet, iface.ip)
            if key in addresses:
                raise Invalid(f"address {iface.ip} in subnet {iface.subnet} is asked for twice "
                              f"(first by {addresses[key]})", where=where)
            addresses[key] = f"instance {name!r} at line {iface.line}"
        out.append(InstanceDecl(name=name, account=account, interfaces=interfaces,
                                line=item.line, file=file,
                                limits=tuple(sorted(cmd.limits.items()))))
    return tuple(out)


def _appliances(top: _Map, file: str) -> tuple[ApplianceDecl, ...]:
    unique = _Unique("appliance")
    out = []
    for value, line in _items(top, "appliances", file):
        item = _mapping(value, line, kind="appliance", file=file,
                        allowed=("name", "account", "service", "subnet", "backends"),
                        required=("name", "account", "service", "subnet"))
        name = item.name()
        unique.add(name, item.line, item.at("name"))
        account = item.name("account", kind="account")
        service = item.name("service", kind="service")
        subnet = item.subnet_ref("subnet")
        with _fields_at(item):
            cmd = commands.new_appliance(name=name, backends=item.data.get("backends"))
        out.append(ApplianceDecl(name=name, account=account, service=service, subnet=subnet,
                                 backends=cmd.backends, line=item.line, file=file))
    return tuple(out)


def _check_chains(services: tuple[ServiceDecl, ...], appliances: tuple[ApplianceDecl, ...],
                  file: str) -> None:
    """Chains the file alone shows wrong: an upstream declared in the file must be placed in
    the service's backend subnet or one of its extra subnets (where its backends reach it), and following upstreams
    through the file's appliances must never come back to the same service."""
    by_name = {a.name: a for a in appliances}
    by_service = {s.name: s for s in services}
    for svc in services:
        if svc.upstream is None:
            continue
        where = f"{file}:{svc.upstream_line}"
        up = by_name.get(svc.upstream)
        if up is not None and up.subnet not in (svc.backend_subnet, *svc.extra_subnets):
            raise Invalid(f"service {svc.name} upstream {svc.upstream} is placed in "
                          f"{up.subnet}; an upstream appliance must be in the service's "
                          f"backend subnet {svc.backend_subnet} (or one of its extra_subnets), "
                          "where its backends reach it", where=where)
        chain, current = [svc.name], svc
        while current.upstream in by_name:
            next_service = by_service.get(by_name[current.upstream].service)
            chain.append(f"{current.upstream} ({by_name[current.upstream].service})")
            if next_service is None:
                break
            if next_service.name == svc.name:
                raise Invalid(f"service {svc.name} calls itself through a loop of "
                              f"appliances: {' -> '.join(chain)}", where=where)
            if len(chain) > len(services) + 1:
                break  # a loop that does not pass through svc: reported at its own service
            current = next_service


RULE_KEYS = ("subnet", "interface", *security.FIELDS)


def _rules(top: _Map, file: str) -> tuple[RuleDecl, ...]:
    seen: dict[tuple[str, str, int], int] = {}
    out = []
    for value, line in _items(top, "rules", file):
        item = _mapping(value, line, kind="rule", file=file, allowed=RULE_KEYS,
                        required=("direction", "action", "priority"))
        subnet = interface = None
        if item.has("subnet") == item.has("interface"):
            item.fail("subnet" if item.has("subnet") else "direction",
                      "a rule needs exactly one of subnet: network/subnet and "
                      "interface: instance/eth0")
        if item.has("subnet"):
            subnet = item.subnet_ref("subnet")
        else:
            interface = check_interface_ref(item.data.get("interface"),
                                            where=item.at("interface"), what="rule interface")
        fields = {k: v for k, v in item.data.items() if k in security.FIELDS}
        try:
            rule = security.check_rule(fields)
        except Invalid as exc:
            raise Invalid(f"rule {exc.where}: {exc.message}", where=item.at(exc.where)) from None
        key = (subnet or f"if:{interface}", rule.direction, rule.priority)
        if key in seen:
            item.fail("priority", f"{key[0].removeprefix('if:')} has two {rule.direction} rules "
                                  f"at priority {rule.priority} (first at line {seen[key]})")
        seen[key] = item.line
        out.append(RuleDecl(subnet=subnet, interface=interface, rule=rule, line=item.line,
                            file=file))
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Entry point


def parse_scenario(text: str | bytes, filename: str = "<scenario>") -> Scenario:
    """Parse and validate a scenario file's text; raise `Invalid` ("FILE:LINE") on any problem."""
    if isinstance(text, bytes | bytearray):
        raw = bytes(text)
        if len(raw) > MAX_BYTES:
            raise Invalid(f"the file is {len(raw)} bytes; a scenario is at most 1 MiB "
                          f"({MAX_BYTES} bytes)", where=filename)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[:exc.start].count(b"\n") + 1
            raise Invalid("the file is not UTF-8 text", where=f"{filename}:{line}") from None
    if not isinstance(text, str):
        raise Invalid(f"a scenario must be text, not {type(text).__name__}", where=filename)
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise Invalid(f"the file is {size} bytes; a scenario is at most 1 MiB ({MAX_BYTES} "
                      "bytes)", where=filename)

    data = _load(text, filename)
    if data is None:
        return Scenario(file=filename)
    if not isinstance(data, _Map):
        line = getattr(data, "line", 1)
        raise Invalid(f"a scenario must be a mapping with the keys {', '.join(TOP_LEVEL)}, not "
                      f"{_describe(data)}", where=f"{filename}:{line}")
    for key in data:
        if key not in TOP_LEVEL:
            raise Invalid(_unknown_key_message(key, "the scenario", TOP_LEVEL),
                          where=f"{filename}:{data.key_lines[key]}")

    accounts = _accounts(data, filename)
    price_lists = _prices(data, filename)
    networks = _networks(data, filename)
    grants = _grants(data, filename, networks)
    services = _services(data, filename)
    load_balancers = _load_balancers(data, filename, networks, services)
    subnets = {s.ref: s.cidr for n in networks for s in n.subnets}
    instances = _instances(data, filename, subnets.get)
    appliances = _appliances(data, filename)
    rules = _rules(data, filename)
    _check_chains(services, appliances, filename)
    return Scenario(file=filename, accounts=accounts, networks=networks, services=services,
                    instances=instances, appliances=appliances, rules=rules,
                    prices=price_lists, grants=grants, load_balancers=load_balancers)
