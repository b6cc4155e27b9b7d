"""The data plane's words as JSON, for the host agent's wire (docs/multi-host.md, "The host
agent applies its host's kernel work"): the specs the control plane asks a host to make
(`NodeSpec`, `ProcessSpec`, `PortRuleSpec`, `Probe`...) and what the host answers
(`ObservedNode`, `ExecResult`, `ProbeResult`...), all frozen dataclasses of domain/specs.py.

One codec, driven by the type hints, so a spec field added later travels without a line here:
`encode` turns a value into JSON (a dataclass an object of its fields; tuples, sets and
frozensets arrays; bytes base64; an enum its value), and `Form(hint).decode` reads it back into
exactly that type, refusing anything else with a `WireError` naming where (`ports[1].mac`): a
field unknown or of the wrong type, a missing field without a default, a value outside a
Literal. A round trip gives an equal value (tests/unit/test_host_wire.py checks every spec
type). Frozensets are encoded sorted, so the JSON of one value is always the same.

Called by remote.py (the control plane's side), executor.py (the agent's) and the service's
routes that take an agent's results (their bad input is a 400 naming the field).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import json
import types
import typing
from typing import Any, Generic, Literal, TypeVar, Union, cast

T = TypeVar("T", covariant=True)

MAX_DEPTH = 12  # nesting of a value (a spec is 4 deep): deeper input is refused, not recursed


class WireError(ValueError):
    """A value that is not what its type says: `where` names the field (`ports[1].mac`)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where or 'value'}: {message}")
        self.where = where
        self.detail = message


def encode(value: object) -> Any:
    """`value` as JSON-able data (see the module's docstring)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, (frozenset, set)):
        items = [encode(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, (tuple, list)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {_key(k): encode(v) for k, v in value.items()}
    raise TypeError(f"cannot encode {type(value).__name__} for the host agent's wire")


def _key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"a mapping's keys must be strings, not {type(key).__name__}")
    return key


class Form(Generic[T]):
    """How to read one type back: `Form(NodeSpec)`, `Form(ObservedNode | None)`,
    `Form(frozenset[str])`. The type parameter is the hint's, said once where the form is
    made (mypy cannot read it from a union), and `decode` checks every value against it."""

    def __init__(self, hint: object) -> None:
        self.hint = hint

    def decode(self, data: object, where: str = "") -> T:
        return cast(T, _decode(self.hint, data, where, 0))


def _at(where: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{where}[{part}]"
    return f"{where}.{part}" if where else part


def _name(hint: object) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _decode(hint: object, data: object, where: str, depth: int) -> object:
    if depth > MAX_DEPTH:
        raise WireError(where, "nested too deep")
    if hint is type(None) or hint is None:
        if data is not None:
            raise WireError(where, "must be null")
        return None
    if hint is Any:
        return data
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return _union(typing.get_args(hint), data, where, depth)
    if origin is Literal:
        allowed = typing.get_args(hint)
        if not any(data == a and type(data) is type(a) for a in allowed):
            raise WireError(where, f"must be one of {', '.join(map(repr, allowed))}")
        return data
    if origin in (tuple, list, frozenset, set):
        return _sequence(origin, typing.get_args(hint), data, where, depth)
    if origin is dict:
        key_hint, value_hint = typing.get_args(hint)
        if not isinstance(data, dict):
            raise WireError(where, "must be an object")
        return {_decode(key_hint, k, _at(where, str(k)), depth + 1):
                _decode(value_hint, v, _at(where, str(k)), depth + 1) for k, v in data.items()}
    if isinstance(hint, type):
        return _plain(hint, data, where, depth)
    raise TypeError(f"no wire form for {hint!r}")


def _union(options: tuple[object, ...], data: object, where: str, depth: int) -> object:
    if data is None and type(None) in options:
        return None
    errors = []
    for option in (o for o in options if o is not type(None)):
        try:
            return _decode(option, data, where, depth)
        except WireError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    raise WireError(where, "must be " + " or ".join(_name(o) for o in options))


def _sequence(origin: object, args: tuple[object, ...], data: object, where: str,
              depth: int) -> object:
    if not isinstance(data, list):
        raise WireError(where, "must be an array")
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        if len(data) != len(args):
            raise WireError(where, f"must have {len(args)} items")
        return tuple(_decode(a, v, _at(where, i), depth + 1)
                     for i, (a, v) in enumerate(zip(args, data, strict=True)))
    item = args[0] if args else Any
    items = [_decode(item, v, _at(where, i), depth + 1) for i, v in enumerate(data)]
    if origin is tuple:
        return tuple(items)
    if origin in (frozenset, set):
        try:
            return frozenset(items) if origin is frozenset else set(items)
        except TypeError as exc:
            raise WireError(where, "its items cannot be a set's") from exc
    return items


def _plain(hint: type, data: object, where: str, depth: int) -> object:
    if dataclasses.is_dataclass(hint):
        return _dataclass(hint, data, where, depth)
    if issubclass(hint, enum.Enum):
        try:
            return hint(data)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in hint)
            raise WireError(where, f"must be one of {allowed}") from None
    if hint is bool:
        if not isinstance(data, bool):
            raise WireError(where, "must be true or false")
        return data
    if hint is int:
        if not isinstance(data, int) or isinstance(data, bool):
            raise WireError(where, "must be an integer")
        return data
    if hint is float:
        if not isinstance(data, (int, float)) or isinstance(data, bool):
            raise WireError(where, "must be a number")
        return float(data)
    if hint is str:
        if not isinstance(data, str):
            raise WireError(where, "must be a string")
        return data
    if hint is bytes:
        if not isinstance(data, str):
            raise WireError(where, "must be a base64 string")
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise WireError(where, "must be a base64 string") from None
    raise TypeError(f"no wire form for {hint!r}")


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _dataclass(cls: type, data: object, where: str, depth: int) -> object:
    if not isinstance(data, dict):
        raise WireError(where, f"must be an object ({cls.__name__})")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise WireError(_at(where, str(unknown[0])), f"unknown field of {cls.__name__}")
    hints = _hints(cls)
    values = {}
    for name, f in fields.items():
        if name in data:
            values[name] = _decode(hints[name], data[name], _at(where, name), depth + 1)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise WireError(_at(where, name), f"missing ({cls.__name__} needs it)")
    return cls(**values)
