"""What runs in backend nodes: the built-in workloads and user command templates.

A command template is split like a shell would split it (shlex) but never run by a shell; only
the placeholders {ip}, {port} and {name} may appear, and they are substituted per argument.
"""

from __future__ import annotations

import shlex
import string

from facade.domain import health
from facade.domain.errors import Invalid, describe

PRIVATE_API = "control-plane-api"  # the control plane's API in a customer's subnet (operator's)
BUILTINS: dict[str, str] = {
    PRIVATE_API: "facade.workloads.api_relay",
    "http-echo": "facade.workloads.http_echo",
    "search": "facade.workloads.search",
    "web": "facade.workloads.web",
}
# what every provider may run (the messages list these); PRIVATE_API is the operator's only
WORKLOADS = tuple(sorted(set(BUILTINS) - {PRIVATE_API}))
# built-ins that need none of their node's network to start (ProcessSpec.early): search copies
# its peers' documents as it boots, so it starts once its node's ports and addresses are there
EARLY = frozenset({PRIVATE_API, "http-echo", "web"})
# built-ins that serve the management agent's /_facade/stats (the API's relay answers none)
STATS = frozenset({"http-echo", "search", "web"})
# the name of the API's unix socket in the state folder, which the private API's relay reaches
API_SOCKET = "api.sock"
PLACEHOLDERS = ("ip", "port", "name")
MAX_WORKLOAD = 40  # characters of a workload's name as a body gives it (the store's column)
MAX_COMMAND = 4096  # characters of a command template
MAX_PATH = health.MAX_PATH  # a service's health_path is its health check's path
PORTS = (1, 65535)
_ALLOWED = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)


def check_builtin(name: object, *, where: str) -> str:
    if not isinstance(name, str) or name not in BUILTINS:
        raise Invalid(f"unknown workload {name!r}; built-in workloads are "
                      f"{', '.join(WORKLOADS)} (or give command: \"prog --ip {{ip}} --port "
                      "{port}\")", where=where)
    return name


def check_source(workload: object, command: object, *, where: str = "workload") -> None:
    """A service runs exactly one of a built-in workload and a command."""
    if workload is not None and command is not None:
        raise Invalid(f"a service gives both workload and command; give exactly one: a "
                      f"built-in workload ({', '.join(WORKLOADS)}) or a command", where=where)
    if workload is None and command is None:
        raise Invalid(f"a service needs a workload ({', '.join(WORKLOADS)}) or a command like "
                      "\"prog --ip {ip} --port {port}\" (give exactly one)", where=where)


def check_command(template: object, *, where: str) -> list[str]:
    """Split a command template and check its placeholders; returns the argument templates.

    Braces are read as `str.format` reads them, which is how the worker renders each word:
    {ip}, {port} and {name} are replaced, {{ and }} are a literal brace, anything else is
    refused (so rendering can never fail or do more than substitute)."""
    if not isinstance(template, str):
        raise Invalid("command must be a non-empty string like \"prog --ip {ip} --port "
                      f"{{port}}\", not {describe(template)}", where=where)
    if len(template) > MAX_COMMAND:
        raise Invalid(f"command is {len(template)} characters; it is longer than {MAX_COMMAND} "
                      "characters", where=where)
    if not template.isprintable():
        # a NUL cannot reach execve(2), a newline or other control character is never meant
        raise Invalid("command must be one line without control characters", where=where)
    try:
        args = shlex.split(template)
    except ValueError as exc:
        raise Invalid(f"command {template!r} is not well formed and cannot be split into "
                      f"arguments: {exc} (it is split like a shell would, but never run "
                      "through a shell)", where=where) from None
    if not args:
        raise Invalid("command is empty: it must be a non-empty string, the program to run "
                      "and its arguments", where=where)
    for arg in args:
        try:
            parsed = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(arg)
                      if f is not None]
        except ValueError as exc:
            raise Invalid(f"bad placeholder in {arg!r}: {exc}; a stray brace may only appear "
                          f"as {{{{ or }}}} (braces are for the placeholders {_ALLOWED})",
                          where=where) from None
        unknown = [f for f, _, _ in parsed if f not in PLACEHOLDERS]
        if unknown:
            raise Invalid(f"unknown placeholder {{{unknown[0]}}} in command; only {_ALLOWED} "
                          "are replaced", where=where)
        if any(spec or conv for _, spec, conv in parsed):
            # {port:>999999999} would be rendered by the worker: plain placeholders only
            raise Invalid(f"placeholder in {arg!r} has a format spec or conversion; write "
                          f"{_ALLOWED} alone", where=where)
    return args


def check_health_path(path: object, *, where: str) -> str:
    """A service's health_path: the URL path its health check requests (docs/health.md)."""
    try:
        return health.check_path(path, where=where)
    except Invalid as exc:
        raise Invalid(f"health_path must be a URL path starting with '/' (like /health), "
                      f"without spaces or control characters, at most {MAX_PATH} characters; "
                      f"not {describe(path)}", where=exc.where) from None


def check_port(port: object, *, where: str = "port") -> int:
    """The port a service's backends listen on (and its endpoint answers on)."""
    if isinstance(port, bool) or not isinstance(port, int):
        raise Invalid(f"port must be a whole number {PORTS[0]}-{PORTS[1]}, not "
                      f"{describe(port)}", where=where)
    if not PORTS[0] <= port <= PORTS[1]:
        raise Invalid(f"port {port} is out of range; expected {PORTS[0]}-{PORTS[1]}",
                      where=where)
    return port


def render_command(template: str, *, ip: str, port: int, name: str) -> list[str]:
    return [arg.format(ip=ip, port=port, name=name)
            for arg in check_command(template, where="command")]


def builtin_argv(python: str, workload: str, *, ip: str, port: int, name: str,
                 data_dir: str, peers_file: str, upstream_file: str = "",
                 api_socket: str = "") -> list[str]:
    argv = [python, "-m", BUILTINS[workload], "--name", name, "--ip", ip, "--port", str(port)]
    if workload == PRIVATE_API:
        argv += ["--api-socket", api_socket]
    if workload == "search":
        argv += ["--data-dir", data_dir, "--peers-file", peers_file]
    if workload == "web" and upstream_file:
        argv += ["--upstream-file", upstream_file]
    return argv


def default_health_path(workload: str | None) -> str | None:
    """HTTP path whose 2xx answer means healthy; None means a TCP connect is the check."""
    if workload == PRIVATE_API:
        return "/v1/health"  # the API's own, answered without a token
    return "/health" if workload in BUILTINS else None


def sandboxed(workload: str | None) -> bool:
    """Whether a service's backends run their program in the node's sandbox: a tenant's
    program does; the private API's relay is the operator's own, which must reach the API's
    socket in the state folder (the sandbox shows nothing of it), so it runs as the
    management agent does, with only its network namespace changed."""
    return workload != PRIVATE_API
