"""The control plane's settings file (`facade up --settings FILE`; docs/multi-host.md,
"Simulated hosts at start"): YAML, one mapping, read once at start.

It holds what an operator sets for the control plane itself rather than through the API; one
key so far, `hosts: N` (simulated hosts h1..hN made at start if missing). An unknown key is an
error naming it and the file's line, so that a misspelt setting is never silently ignored.
The command line's own options win over the file's (`--hosts N`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facade.domain import hosts
from facade.domain.errors import Invalid
from facade.scenario.yaml_lines import Map, load

KEYS = ("hosts",)


@dataclass(frozen=True)
class Settings:
    hosts: int | None = None  # None: not set (no simulated host is made at start)


def read(path: Path) -> Settings:
    """The file's settings; Invalid naming the file (and line) when it cannot be used."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise Invalid(f"cannot read the settings file: {exc.strerror or exc}",
                      where=str(path)) from None
    data = load(text, str(path))
    if data is None:
        return Settings()
    if not isinstance(data, Map):
        raise Invalid("the settings file is one mapping (like `hosts: 3`)", where=str(path))
    for key in data:
        if key not in KEYS:
            raise Invalid(f"unknown setting {key!r}; the settings are: {', '.join(KEYS)}",
                          where=f"{path}:{data.key_lines.get(key, data.line)}")
    count = None
    if "hosts" in data:
        count = hosts.check_count(data["hosts"],
                                  where=f"{path}:{data.key_lines.get('hosts', data.line)}")
    return Settings(hosts=count)
