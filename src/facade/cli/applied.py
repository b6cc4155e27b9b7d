"""What `facade apply --prune` may delete: the declarations a file set made before that it no
longer makes, and the local record of them (Terraform's state, kept on the caller's machine).

A set is a file as applied to one control plane: named by `--set NAME`, else by the file's
absolute path. After every successful apply the record of the set holds everything the set has
declared and not yet pruned (the file's declarations, plus those that left the file since,
until a prune deletes them). `--prune` deletes only those that left: an object the file never
declared, or declared only through another set, another machine or another path, is never a
candidate. Records live in `$XDG_STATE_HOME/facade/applied/` (`~/.local/state/...`), one YAML
file a set.

Declarations are compared by identity, per top-level key of the scenario file
(docs/scenario.md): an account and a name for named objects (a name alone for accounts and
vpns); (subnet account, subnet, account) for a grant; (account, subnet or
interface, direction, priority) for a rule; the whole target for a public address. `prices`
are settings, never pruned. A subnet or a site's host that leaves a network or site still in
the file is not pruned (delete it by hand): it is reported in `kept`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

NAMED = ("accounts", "networks", "load_balancers", "services", "instances", "external_hosts",
         "sites", "vpns", "appliances")
IDENTITY: dict[str, tuple[str, ...]] = {
    # names are unique per account (docs/api.md, "Names"): a file may declare one name for two
    **{key: ("account", "name") for key in NAMED},
    "accounts": ("name",), "vpns": ("name",),  # a vpn is its network's account's
    # whose subnet or instance, when the file says so (two accounts' prod/app)
    "grants": ("subnet_account", "subnet", "account"),
    "rules": ("account", "subnet", "interface", "direction", "priority"),
    "public_ips": ("account", "instance", "iface", "appliance", "site", "address"),
}
# the nested lists whose items are not pruned one by one
NESTED = {"networks": ("subnets", "subnet"), "sites": ("hosts", "host")}
# a scenario key -> the kind destroy names it by
KIND = {"accounts": "account", "networks": "network", "load_balancers": "load-balancer",
        "services": "service", "instances": "instance", "external_hosts": "external host",
        "sites": "site", "vpns": "vpn", "appliances": "appliance", "grants": "grant",
        "rules": "rule", "public_ips": "public-ip"}

Declarations = dict[str, list[Any]]


@dataclass
class Prune:
    """The declarations to delete (a scenario of them alone), and what is not pruned."""

    removed: Declarations = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)

    def labels(self) -> list[str]:
        return [f"{KIND[key]} {_label(key, item)}" for key, items in self.removed.items()
                for item in items]

    def text(self) -> str:
        return yaml.safe_dump(self.removed, sort_keys=False)


def load(text: str) -> Declarations | None:
    """The file's top-level lists, or None when it is not a mapping of lists (apply says
    what is wrong with it)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        return None
    return {k: v if isinstance(v, list) else [] if v is None else v for k, v in data.items()}


def _key(key: str, item: Any) -> tuple[Any, ...] | None:
    if key not in IDENTITY or not isinstance(item, dict):
        return None
    values = dict(item)
    if key == "public_ips" and values.get("instance") is not None:
        values["iface"] = values.get("iface") or "eth0"  # the default interface, said or not
    return tuple(str(values.get(k)) for k in IDENTITY[key])


def _label(key: str, item: dict[str, Any]) -> str:
    return "/".join(str(item[k]) for k in IDENTITY[key] if item.get(k) is not None)


def plan(previous: Declarations, current: Declarations) -> Prune:
    """What the set declared before and the current file does not."""
    prune = Prune()
    for key in IDENTITY:
        had, has = _items(previous, key), _items(current, key)
        now = {_key(key, item): item for item in has}
        gone = [item for item in had if _key(key, item) not in now]
        if gone:
            prune.removed[key] = gone
        if key in NESTED:
            prune.kept += _nested_kept(key, had, now)
    return prune


def _items(data: Declarations, key: str) -> list[Any]:
    items = data.get(key)
    return [i for i in items if _key(key, i) is not None] if isinstance(items, list) else []


def _nested_kept(key: str, had: list[Any], now: dict[Any, Any]) -> list[str]:
    inner, kind = NESTED[key]
    kept = []
    for item in had:
        still = now.get(_key(key, item))
        if still is None:
            continue
        names = {sub.get("name") for sub in still.get(inner) or [] if isinstance(sub, dict)}
        kept += [f"{kind} {item['name']}/{sub.get('name')}" for sub in item.get(inner) or []
                 if isinstance(sub, dict) and sub.get("name") not in names]
    return kept


def merged(current: Declarations, removed: Declarations) -> Declarations:
    """The current file's declarations with those not yet pruned after them."""
    out = {k: list(v) if isinstance(v, list) else v for k, v in current.items()}
    for key, items in removed.items():
        out[key] = [*(out.get(key) or []), *items]
    return out


# ---- the record -------------------------------------------------------------------------------

def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "facade" / "applied"


def _path(url: str, name: str) -> Path:
    digest = hashlib.sha256(f"{url}\n{name}".encode()).hexdigest()[:32]
    return state_dir() / f"{digest}.yaml"


def recorded(url: str, name: str) -> Declarations:
    """What the set has declared and not pruned (nothing, when it was never applied here)."""
    try:
        data = yaml.safe_load(_path(url, name).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    if not isinstance(data, dict) or data.get("set") != name or data.get("url") != url:
        return {}  # not ours (a digest collision, or edited by hand): prune nothing
    declared = data.get("declared")
    return declared if isinstance(declared, dict) else {}


def record(url: str, name: str, declared: Declarations) -> None:
    path = _path(url, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump({"url": url, "set": name, "declared": declared},
                                  sort_keys=False), encoding="utf-8")
    tmp.replace(path)
