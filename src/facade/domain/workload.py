"""What runs in backend nodes: the built-in workloads and user command templates.

A command template is split like a shell would split it (shlex) but never run by a shell; only
the placeholders {ip}, {port} and {name} may appear, and they are substituted per argument.
"""

from __future__ import annotations

import shlex
import string

from facade.domain.errors import Invalid

BUILTINS: dict[str, str] = {
    "http-echo": "facade.workloads.http_echo",
    "search": "facade.workloads.search",
    "web": "facade.workloads.web",
}
PLACEHOLDERS = frozenset({"ip", "port", "name"})


def check_builtin(name: object, *, where: str) -> str:
    if name not in BUILTINS:
        raise Invalid(f"unknown workload {name!r}; built-in workloads are "
                      f"{', '.join(sorted(BUILTINS))} (or give a command)", where=where)
    return str(name)


def check_command(template: object, *, where: str) -> list[str]:
    """Split a command template and check its placeholders; returns the argument templates."""
    if not isinstance(template, str) or not template.strip():
        raise Invalid("command must be a non-empty string", where=where)
    if len(template) > 4096:
        raise Invalid("command is longer than 4096 characters", where=where)
    if not template.isprintable():
        # a NUL cannot reach execve(2), a newline or other control character is never meant
        raise Invalid("command must be one line without control characters", where=where)
    try:
        args = shlex.split(template)
    except ValueError as exc:
        raise Invalid(f"command cannot be split into arguments: {exc}", where=where) from exc
    for arg in args:
        try:
            parsed = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(arg)
                      if f is not None]
        except ValueError as exc:
            raise Invalid(f"bad placeholder in {arg!r}: {exc}", where=where) from exc
        if any(spec or conv for _, spec, conv in parsed):
            # {port:>999999999} would be rendered by the worker: plain placeholders only
            raise Invalid(f"placeholder in {arg!r} has a format spec or conversion; write "
                          "{ip}, {port} or {name} alone", where=where)
        fields = [f for f, _, _ in parsed]
        unknown = [f for f in fields if f not in PLACEHOLDERS]
        if unknown:
            raise Invalid(f"unknown placeholder {{{unknown[0]}}} in command; allowed: "
                          "{ip}, {port}, {name}", where=where)
    return args


def check_health_path(path: object, *, where: str, limit: int = 200) -> str:
    """The URL path the worker's health check requests: it goes into an HTTP request line."""
    if (not isinstance(path, str) or not path.startswith("/") or len(path) > limit
            or any(c.isspace() or not c.isprintable() for c in path)):
        raise Invalid(f"health_path must start with '/' (a URL path like /health) and hold no "
                      f"spaces or control characters ({limit} characters at most)", where=where)
    return path


def render_command(template: str, *, ip: str, port: int, name: str) -> list[str]:
    return [arg.format(ip=ip, port=port, name=name)
            for arg in check_command(template, where="command")]


def builtin_argv(python: str, workload: str, *, ip: str, port: int, name: str,
                 data_dir: str, peers_file: str, upstream_file: str = "") -> list[str]:
    argv = [python, "-m", BUILTINS[workload], "--name", name, "--ip", ip, "--port", str(port)]
    if workload == "search":
        argv += ["--data-dir", data_dir, "--peers-file", peers_file]
    if workload == "web" and upstream_file:
        argv += ["--upstream-file", upstream_file]
    return argv


def default_health_path(workload: str | None) -> str | None:
    """HTTP path whose 2xx answer means healthy; None means a TCP connect is the check."""
    return "/health" if workload in BUILTINS else None
