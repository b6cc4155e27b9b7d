"""Where the client connects and who it says it is: the base URL, the token, TLS, and how
long and how often it tries, resolved in one place.

Each setting comes from the first of: the argument given (the command line's `--url`,
`--token`, `--profile`), the environment (`FACADE_URL`, `FACADE_TOKEN`, `FACADE_PROFILE`,
`FACADE_CA_FILE`), the profile (profiles.py: `--profile`, `FACADE_PROFILE`, else the one named
`default`), then the defaults: `http://127.0.0.1:8470` and the operator's token file
`$FACADE_HOME/operator.token` (FACADE_HOME defaults to `.facade`, where `facade up` keeps it).
TLS trusts the system's certificates (or the file `SSL_CERT_FILE` names, as httpx does), or
only the CA file a profile's `ca_file` or `FACADE_CA_FILE` names.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from facade.client import profiles
from facade.client.errors import SettingsError

DEFAULT_URL = "http://127.0.0.1:8470"
DEFAULT_HOME = ".facade"
TOKEN_FILE = "operator.token"
# Requests that change the kernel (instance create/delete) answer only when the work is done.
DEFAULT_TIMEOUT = 120.0
CONNECT_TIMEOUT = 5.0
# Tries of one request after a 429 or a lost connection (bounded: a script must end).
DEFAULT_RETRIES = 3


@dataclass(frozen=True)
class Settings:
    """What a Client needs; `Settings.resolve` fills it the way the `facade` command does."""

    url: str = DEFAULT_URL
    token: str | None = None
    # when there is no token: where we looked, said beside a 401
    token_hint: str = ""
    # a CA file to trust instead of the system's certificates
    ca_file: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES

    @classmethod
    def resolve(cls, url: str | None = None, token: str | None = None,
                profile: str | None = None, env: Mapping[str, str] | None = None,
                warn: profiles.Warn | None = None) -> Settings:
        """The settings of one invocation: arguments over environment over profile over
        defaults. A profile asked for that is not there is a SettingsError."""
        env = os.environ if env is None else env
        chosen = profiles.load(profile or env.get("FACADE_PROFILE") or None,
                               warn or profiles.stderr, env)
        base = url or env.get("FACADE_URL") or (chosen.url if chosen else None) or DEFAULT_URL
        found, hint = _token(token or env.get("FACADE_TOKEN", "").strip() or None,
                             chosen, env)
        ca_file = env.get("FACADE_CA_FILE") or (chosen.ca_file if chosen else None)
        return cls(base.rstrip("/"), found, hint, ca_file)

    def verify(self) -> ssl.SSLContext | bool:
        """httpx's `verify`: the CA file's context, or True (the system's, or SSL_CERT_FILE)."""
        if self.ca_file is None:
            return True
        try:
            return ssl.create_default_context(cafile=self.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise SettingsError(f"ca_file {self.ca_file}: {_reason(exc)}") from None


def facade_home(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("FACADE_HOME") or DEFAULT_HOME)


def _token(given: str | None, chosen: profiles.Profile | None,
           env: Mapping[str, str]) -> tuple[str | None, str]:
    """The token to send, and (when none) a hint saying where we looked."""
    if given:
        return given, ""
    if chosen is not None and chosen.token:
        return chosen.token, ""
    path = facade_home(env) / TOKEN_FILE
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        return None, f"no token: set FACADE_TOKEN, or FACADE_HOME to the folder holding {TOKEN_FILE}"
    except OSError as exc:
        return None, f"cannot read {path} ({_reason(exc)}); set FACADE_TOKEN instead"
    if not token:
        return None, f"{path} is empty; set FACADE_TOKEN instead"
    return token, ""


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
