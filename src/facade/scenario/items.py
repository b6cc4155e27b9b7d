"""Reading one mapping of a scenario file at its lines: its keys checked against the allowed
and required ones, its fields fetched by name, and a rule's error (whose `where` is a field
path, as an API body would name it) moved to the file line of the key it names.

Shared by the section readers (networks.py, services.py, nodes.py, rules.py).
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import NoReturn

from facade.domain.errors import Invalid, describe
from facade.domain.ipam import parse_cidr
from facade.domain.names import check_name, check_ref, check_subnet_ref
from facade.scenario.yaml_lines import Map, Seq


def unknown_key_message(key: object, what: str, allowed: tuple[str, ...]) -> str:
    message = f"unknown key {key!r} in {what}; allowed keys: {', '.join(allowed)}"
    if isinstance(key, str):
        close = difflib.get_close_matches(key, allowed, n=1)
        if close:
            message += f" (did you mean {close[0]!r}?)"
    return message


class Item:
    """One mapping of the file being read: its keys are checked, its fields fetched by name."""

    def __init__(self, data: Map, *, kind: str, file: str, allowed: tuple[str, ...],
                 required: tuple[str, ...]) -> None:
        self.data = data
        self.kind = kind
        self.file = file
        self.line = data.line
        for key in data:
            if key not in allowed:
                raise Invalid(unknown_key_message(key, kind, allowed),
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

    def ref(self, key: str, *, kind: str) -> str:
        """NAME or ACCOUNT/NAME: an object of another account (docs/api.md, "Names")."""
        return check_ref(self.data.get(key), kind=kind, where=self.at(key))

    def string(self, key: str, what: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str):
            self.fail(key, f"{self.kind} {key} must be {what}, not {describe(value)}")
        return value

    def flag(self, key: str) -> bool:
        """A yes/no setting (YAML true or false); absent is false."""
        value = self.data.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            self.fail(key, f"{self.kind} {key} must be true or false, not {describe(value)}")
        return value

    def cidr(self, key: str = "cidr") -> ipaddress.IPv4Network:
        text = self.string(key, "an IPv4 CIDR like 10.0.0.0/16")
        return parse_cidr(text, where=self.at(key))

    def subnet_ref(self, key: str) -> str:
        return check_subnet_ref(self.data.get(key), where=self.at(key),
                                what=f"{self.kind} {key}")


def owned_by(item: Item, key: str, subnet: str, account: str) -> None:
    """A subnet written ACCOUNT/NETWORK/SUBNET beside an `account` (a rule's, a grant's
    `subnet_account`) must name the same account: the file says whose subnet once, or twice
    alike."""
    written = subnet.split("/")[0] if subnet.count("/") == 2 else None
    if account and written is not None and written != account:
        item.fail(key, f"{item.kind} {key} {subnet} is account {written}'s, but the "
                       f"{item.kind} says account {account}; write one of them, or both alike")


def items(top: Map, key: str, file: str) -> Iterator[tuple[object, int]]:
    """The items of a top-level (or nested) list with their lines; null counts as empty."""
    value = top.get(key)
    where = f"{file}:{top.key_lines.get(key, top.line)}"
    if value is None:
        return
    if not isinstance(value, list):
        raise Invalid(f"{key} must be a list (YAML '- item' lines or [a, b]), not "
                      f"{describe(value)}", where=where)
    lines = getattr(value, "item_lines", None) or [top.key_lines.get(key, top.line)] * len(value)
    yield from zip(value, lines, strict=True)


def mapping(value: object, line: int, *, kind: str, file: str, allowed: tuple[str, ...],
            required: tuple[str, ...]) -> Item:
    if not isinstance(value, Map):
        shape = ", ".join(f"{k}: ..." for k in required)
        raise Invalid(f"each {kind} must be a mapping like {{{shape}}}, not {describe(value)}",
                      where=f"{file}:{line}")
    return Item(value, kind=kind, file=file, allowed=allowed, required=required)


class Unique:
    """Names seen so far for one kind, to refuse a second declaration with the same name (of
    the same account: names are unique per account, docs/api.md "Names")."""

    def __init__(self, kind: str, scope: str = "") -> None:
        self.kind = kind
        self.scope = scope
        self.seen: dict[tuple[str, str], int] = {}

    def add(self, name: str, line: int, where: str, account: str = "") -> None:
        if (account, name) in self.seen:
            rule = "within their network" if self.scope else \
                "per kind and account" if account else "per kind"
            whose = f" of account {account}" if account else ""
            raise Invalid(f"{self.kind} {name!r}{self.scope}{whose} is declared twice in this "
                          f"file (first at line {self.seen[(account, name)]}); names are "
                          f"unique {rule}", where=where)
        self.seen[(account, name)] = line


def in_file(ref: str, account: str, declared: Iterable[str], *,
            subnet: bool = False) -> str | None:
    """Which of the file's `declared` objects (each ACCOUNT/NAME, or ACCOUNT/NETWORK/SUBNET)
    a declaration of `account` means by `ref`, as the API would resolve it: written with its
    account, that one; bare, the account's own, else the only one of that name; None when the
    file declares none (or several: the API's answer at apply)."""
    declared = set(declared)
    if ref.count("/") == (2 if subnet else 1):  # written with its account
        return ref if ref in declared else None
    if f"{account}/{ref}" in declared:
        return f"{account}/{ref}"
    found = [d for d in declared if d.split("/", 1)[1] == ref]
    return found[0] if len(found) == 1 else None


def line_of(data: Map, path: str, line: int) -> int:
    """The line of the key a field path names ("health_check.timeout", "interfaces[2]"):
    the deepest part of it the file has; `line` when it has none of it."""
    node: object = data
    for part in re.findall(r"[^.\[\]]+", path):
        if isinstance(node, Map) and part in node:
            line, node = node.key_lines.get(part, line), node[part]
        elif isinstance(node, Seq) and part.isdigit() and int(part) < len(node):
            line, node = node.item_lines[int(part)], node[int(part)]
        else:
            break
    return line


@contextmanager
def fields_at(item: Item, lines: dict[str, int] | None = None) -> Iterator[None]:
    """Re-raise a create command's error (where = the field path an API body would name) at
    the file line of that key; a nested field's message names the declaration's kind."""
    try:
        yield
    except Invalid as exc:
        path = exc.where or ""
        line = (lines or {}).get(path) or line_of(item.data, path, item.line)
        message = f"{item.kind} {exc.message}" if "." in path else exc.message
        raise Invalid(message, where=f"{item.file}:{line}") from None


@contextmanager
def prices_at(item: Item, key: str) -> Iterator[None]:
    """Re-raise a price error (where = "prices.node_hour.backend") at the line of the key it
    names inside the file's nested mapping."""
    try:
        yield
    except Invalid as exc:
        path = ".".join([key, *(exc.where or "").split(".")[1:]])
        raise Invalid(f"{item.kind} {exc.where}: {exc.message}",
                      where=f"{item.file}:{line_of(item.data, path, item.line)}") from None
