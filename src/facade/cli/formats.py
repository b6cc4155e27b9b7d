"""What `-o` asks a show or list command to print (kubectl's habit): `table`, a person's view
(the default); `json`, the API's answer as it came (`--json` too): the fields it sent, of the
read model the client parsed it into; `yaml`, the same answer as YAML; `name`, one name per
line, for scripts (`facade appliance list -o name | xargs ...`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import typer
import yaml
from pydantic import BaseModel

# what names an item, in order: most objects have a name, a public address its address, an
# event the object it is about
NAME_KEYS = ("name", "address", "object")


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"
    NAME = "name"


def choose(as_json: bool, form: Format | None) -> Format:
    """The format asked for: `--json` is `-o json`; both, differing, is a usage error."""
    if as_json and form not in (None, Format.JSON):
        raise typer.BadParameter(f"--json and -o {form} ask for two formats", param_hint="-o")
    return Format.JSON if as_json else form or Format.TABLE


def plain(data: Any) -> Any:
    """An answer as JSON values: a read model's fields as the API sent them (those it left out,
    an older control plane, stay out), in a list or not."""
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json", exclude_unset=True)
    if isinstance(data, list):
        return [plain(item) for item in data]
    return data


def names(data: Any) -> list[str]:
    """The names of a list's items, or of one object."""
    items = data if isinstance(data, list) else [data]
    out = []
    for item in items:
        key = next((k for k in NAME_KEYS if isinstance(item, dict) and k in item), None)
        if key is None:
            raise typer.BadParameter("what this command shows has no names; use -o json",
                                     param_hint="-o")
        out.append(str(item[key]))
    return out


def emit(data: Any, form: Format, view: Callable[[Any], None]) -> None:
    match form:
        case Format.JSON:
            print(json.dumps(plain(data), indent=2, ensure_ascii=False))
        case Format.YAML:
            print(yaml.safe_dump(plain(data), sort_keys=False, allow_unicode=True), end="")
        case Format.NAME:
            for name in names(plain(data)):
                print(name)
        case Format.TABLE:
            view(data)
