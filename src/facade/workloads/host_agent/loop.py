"""The host agent's life: register, heartbeat, and what each answer of the control plane
means (a refusal stops the agent and changes nothing; an unreachable control plane is tried
again with backoff, and the agent registers again when it is back)."""

from __future__ import annotations

import json
import re
import secrets
import socket
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0)  # seconds between tries while the control plane is away
TIMEOUT = 5.0  # seconds for one request


class Refused(Exception):
    """The control plane said no (a wrong or revoked token, another agent of this host): the
    agent stops. `code` is its exit status."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class Away(Exception):
    """The control plane did not answer (or answered 5xx): try again later."""


def agent_id() -> str:
    """This run's id: the machine's name and a random part (two runs never share one)."""
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:40].strip("-.") or "host"
    return f"{host}-{secrets.token_hex(6)}"


@dataclass
class HostAgent:
    url: str  # the control plane's, e.g. http://10.0.0.1:8080
    token: str  # its host's (facade host token create NAME)
    underlay: str  # this host's underlay address
    cacert: str | None = None
    say: Callable[[str], None] = print
    agent: str = field(default_factory=agent_id)
    stop: threading.Event = field(default_factory=threading.Event)
    every: float = 1.0  # seconds between heartbeats (the control plane says)
    host: str = ""  # the host's name, as the control plane answered

    def run(self) -> int:
        """Register, then heartbeat until stopped (0) or refused (its code)."""
        try:
            self._until_registered()
            while not self.stop.wait(self.every):
                try:
                    self._beat()
                except Away as exc:
                    self.say(f"control plane unreachable ({exc}): keeping this host as it is")
                    self._until_registered()
        except Refused as exc:
            self.say(f"refused: {exc}")
            return exc.code
        return 0

    def _until_registered(self) -> None:
        tries = 0
        while not self.stop.is_set():
            try:
                host = self._post("/v1/host-agent/register",
                                  {"agent": self.agent, "underlay": self.underlay})
            except Away as exc:
                wait = BACKOFF[min(tries, len(BACKOFF) - 1)]
                self.say(f"cannot register yet ({exc}); again in {wait:g} s")
                tries += 1
                self.stop.wait(wait)
                continue
            self.host = str(host["name"])
            self.say(f"registered host {self.host} at {self.underlay} as agent {self.agent} "
                     f"({host['state']})")
            return

    def _beat(self) -> None:
        answer = self._post("/v1/host-agent/heartbeat", {"agent": self.agent})
        self.every = float(answer.get("every", self.every))

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.url.rstrip("/") + path, data=json.dumps(body).encode(), method="POST",
            headers={"Authorization": f"Bearer {self.token}",
                     "Content-Type": "application/json"})
        context = ssl.create_default_context(cafile=self.cacert) if self.cacert else None
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT, context=context) as answer:
                value: dict[str, Any] = json.loads(answer.read(1 << 20))
                return value
        except urllib.error.HTTPError as exc:
            message = _message(exc)
            if exc.code == 401 or exc.code == 403:
                raise Refused(2, message) from None
            if exc.code in (400, 404, 409, 422):
                raise Refused(3, message) from None
            raise Away(f"HTTP {exc.code}: {message}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise Away(str(getattr(exc, "reason", exc))) from None


def _message(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read(1 << 16))["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {exc.code}"
