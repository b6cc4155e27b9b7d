"""Named profiles: the control planes a person talks to, with their tokens, in
`~/.config/facade/config.toml` ($XDG_CONFIG_HOME), chosen with `--profile NAME` or
`FACADE_PROFILE` (kubectl's contexts, the AWS CLI's profiles). Without either, a profile
named `default` applies if the file has one.

    [profiles.prod]
    url = "http://10.0.0.5:8470"
    token = "..."              # or token_file = "/path/to/a/file holding it"
    ca_file = "/path/to/ca.pem"  # optional: trust this CA (a self-signed control plane)

A profile gives what the command line and the environment did not: `--url`/`--token` and
`FACADE_URL`/`FACADE_TOKEN` still win. The file holds tokens: it should be readable by its
owner only (`warn` is told otherwise). A problem with the file is a SettingsError naming it.
"""

from __future__ import annotations

import os
import stat
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from facade.client.errors import SettingsError

KEYS = frozenset({"url", "token", "token_file", "ca_file"})
Warn = Callable[[str], None]


@dataclass(frozen=True)
class Profile:
    name: str
    url: str | None = None
    token: str | None = None
    ca_file: str | None = None


def stderr(message: str) -> None:
    print(message, file=sys.stderr)


def config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "facade" / "config.toml"


def _bad(path: Path, message: str) -> SettingsError:
    return SettingsError(f"{path}: {message}")


def load(name: str | None, warn: Warn = stderr, env: Mapping[str, str] | None = None
         ) -> Profile | None:
    """The profile `name` asks for (None: `default`, if there is one). A profile asked for by
    name that is not there, or a file that is not what it should be, is a usage error."""
    path = config_path(env)
    try:
        raw = path.read_bytes()
        mode = path.stat().st_mode
    except FileNotFoundError:
        if name is not None:
            raise _bad(path, f"no such file, so no profile {name!r}") from None
        return None
    except OSError as exc:
        raise _bad(path, exc.strerror or str(exc)) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _bad(path, f"not TOML: {exc}") from None
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise _bad(path, "`profiles` must be a table of tables ([profiles.NAME])")
    wanted = name or "default"
    if wanted not in profiles:
        if name is None:
            return None
        known = ", ".join(sorted(profiles)) or "none"
        raise _bad(path, f"no profile {name!r} (profiles: {known})")
    return _profile(path, wanted, profiles[wanted], mode, warn)


def _profile(path: Path, name: str, body: object, mode: int, warn: Warn) -> Profile:
    if not isinstance(body, dict):
        raise _bad(path, f"profile {name!r} must be a table")
    unknown = sorted(set(body) - KEYS)
    if unknown:
        raise _bad(path, f"profile {name!r}: unknown key {unknown[0]!r} (keys: "
                         f"{', '.join(sorted(KEYS))})")
    for key in KEYS & set(body):
        if not isinstance(body[key], str) or not body[key].strip():
            raise _bad(path, f"profile {name!r}: {key} must be a non-empty string")
    if "token" in body and "token_file" in body:
        raise _bad(path, f"profile {name!r}: token and token_file contradict")
    token = body.get("token")
    if "token_file" in body:
        try:
            token = Path(body["token_file"]).expanduser().read_text().strip()
        except OSError as exc:
            raise _bad(path, f"profile {name!r}: token_file: "
                             f"{exc.strerror or exc}") from None
    if "token" in body and mode & (stat.S_IRWXG | stat.S_IRWXO):
        warn(f"warning: {path} holds a token and others may read it (chmod 600 {path})")
    return Profile(name, body.get("url"), token, body.get("ca_file"))
