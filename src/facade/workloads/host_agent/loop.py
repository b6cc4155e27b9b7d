"""The host agent's life: register, heartbeat, and what each answer of the control plane
means (a refusal stops the agent and changes nothing; an unreachable control plane is tried
again with backoff, and the agent registers again when it is back)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import secrets
import socket
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from facade.workloads.host_agent.errors import Away, Refused

if TYPE_CHECKING:
    from facade.dataplane.executor import HostKernel

BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0)  # seconds between tries while the control plane is away
TIMEOUT = 5.0  # seconds for one request
MAX_ANSWER = 16 << 20  # bytes of one answer read (a batch of intents with their specs)


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
    state: str = ""  # the host's state, as the control plane answered the registration
    # with it, the agent applies its host's kernel work (work.py) on the kernel this makes for
    # the host's name; without, it registers and heartbeats only
    kernel: Callable[[str], HostKernel] | None = None

    def run(self) -> int:
        """Register, then heartbeat until stopped (0) or refused (its code); with `kernel`,
        the host's work taken and applied beside (work.py)."""
        worker: threading.Thread | None = None
        try:
            self._until_registered()
            kernel = self.kernel(self.host) if self.kernel is not None and self.host else None
            if kernel is not None:
                self._fence_if_lost(kernel)  # before any work is taken
                worker = self._work(kernel)
            while not self.stop.wait(self.every):
                try:
                    self._beat()
                except Away as exc:
                    self.say(f"control plane unreachable ({exc}): keeping this host as it is")
                    self._until_registered()
                    if kernel is not None:
                        self._fence_if_lost(kernel)
        except Refused as exc:
            self.say(f"refused: {exc}")
            return exc.code
        finally:
            self.stop.set()
            if worker is not None:
                worker.join()
        return 0

    def _fence_if_lost(self, kernel: HostKernel) -> None:
        """The control plane has this host as lost (its registration's answer): its FRR
        stopped before anything else, so that it announces nothing (a node made again
        elsewhere meanwhile keeps one owner of its MAC) until the control plane's
        `rejoin_host` has swept it and starts its FRR again."""
        if self.state != "lost":
            return
        try:
            stopped = kernel.fence_host(self.host)
        except Exception as exc:  # said; the control plane's rejoin sweeps it anyway
            self.say(f"host {self.host} is lost: fencing it failed ({exc})")
            return
        self.say(f"host {self.host} is lost: fenced ({', '.join(stopped) or 'nothing ran'}) "
                 "until the control plane rejoins it")

    def _work(self, kernel: HostKernel) -> threading.Thread:
        from facade.workloads.host_agent.work import WorkLoop

        loop = WorkLoop(transport=self, kernel=kernel, agent=self.agent, stop=self.stop,
                        say=self.say)
        thread = threading.Thread(target=loop.run, name="facade-host-work", daemon=True)
        thread.start()
        return thread

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
            self.host, self.state = str(host["name"]), str(host["state"])
            self.say(f"registered host {self.host} at {self.underlay} as agent {self.agent} "
                     f"({host['state']})")
            return

    def _beat(self) -> None:
        answer = self._post("/v1/host-agent/heartbeat", {"agent": self.agent})
        self.every = float(answer.get("every", self.every))

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """One POST to the control plane (work.py's transport)."""
        return self._post(path, body)

    def get(self, path: str, query: dict[str, str], timeout: float) -> dict[str, Any]:
        """One GET to the control plane, waiting `timeout` seconds (a long poll's)."""
        return self._request("GET", f"{path}?{urllib.parse.urlencode(query)}", None, timeout)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._request("POST", path, body, TIMEOUT)

    def _request(self, method: str, path: str, body: dict[str, Any] | None,
                 timeout: float) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self.url.startswith(UNIX):
            return self._unix(method, path, body, headers, timeout)
        request = urllib.request.Request(
            self.url.rstrip("/") + path, method=method, headers=headers,
            data=json.dumps(body).encode() if body is not None else None)
        context = ssl.create_default_context(cafile=self.cacert) if self.cacert else None
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=context) as answer:
                value: dict[str, Any] = json.loads(answer.read(MAX_ANSWER))
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


    def _unix(self, method: str, path: str, body: dict[str, Any] | None,
              headers: dict[str, str], timeout: float) -> dict[str, Any]:
        """One request over the control plane's unix socket (`unix:PATH`: a simulated host's
        agent, the control plane's child, reaches its API so; no TLS: the socket is root's)."""
        conn = UnixConnection(self.url[len(UNIX):], timeout)
        try:
            conn.request(method, path, body=json.dumps(body).encode() if body is not None
                         else None, headers=headers)
            answer = conn.getresponse()
            data = answer.read(MAX_ANSWER)
        except OSError as exc:
            raise Away(str(exc) or type(exc).__name__) from None
        finally:
            conn.close()
        if answer.status >= 400:
            message = _text(data, answer.status)
            if answer.status in (401, 403):
                raise Refused(2, message)
            if answer.status in (400, 404, 409, 422):
                raise Refused(3, message)
            raise Away(f"HTTP {answer.status}: {message}")
        try:
            value: dict[str, Any] = json.loads(data)
        except ValueError as exc:
            raise Away(str(exc)) from None
        return value


UNIX = "unix:"  # a control plane's URL that is its unix socket's path


class UnixConnection(http.client.HTTPConnection):
    """HTTP over a unix socket. A path longer than a socket address may be (108 bytes) is
    reached through a descriptor of its folder, as the server binds it (api/server.py)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        folder = os.open(os.path.dirname(self.path) or ".", os.O_PATH | os.O_DIRECTORY)
        try:
            sock.connect(f"/proc/self/fd/{folder}/{os.path.basename(self.path)}")
        except OSError:
            sock.close()
            raise
        finally:
            with contextlib.suppress(OSError):
                os.close(folder)
        self.sock = sock


def _text(data: bytes, status: int) -> str:
    try:
        return str(json.loads(data)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}"


def _message(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read(1 << 16))["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {exc.code}"
