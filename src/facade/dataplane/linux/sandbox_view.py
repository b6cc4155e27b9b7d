"""What a sandboxed process sees and holds: bwrap's arguments for the node's view of the file
system, its environment and its capabilities, and the Python that runs Facade (shown read-only
at its own paths). Pure but for looking at the host's top-level links; sandbox.py's Sandboxes
builds every launch's arguments from these.
"""

from __future__ import annotations

import compileall
import functools
import os
import sys
from pathlib import Path

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# a tenant's root: Docker's default set, plus NET_ADMIN over its own network
CAPABILITIES = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
                "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                "CAP_NET_RAW", "CAP_NET_ADMIN", "CAP_SYS_CHROOT", "CAP_AUDIT_WRITE",
                "CAP_SETFCAP")
TOP_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


def runtime_paths() -> list[Path]:
    """The Python that runs Facade, as the sandbox shows it (read-only, at the same paths):
    its base installation, the virtual environment, and the package's root if it lies
    elsewhere (an editable install). Paths under /usr are already there."""
    import facade

    candidates = [Path(sys.base_prefix), Path(sys.prefix),
                  Path(facade.__file__).resolve().parent.parent]
    out: list[Path] = []
    for p in candidates:
        p = p.resolve()
        if p == Path("/usr") or Path("/usr") in p.parents:
            continue
        if any(p == q or q in p.parents for q in out):
            continue
        out = [q for q in out if p not in q.parents] + [p]
    return out


@functools.cache  # once per process, however many drivers it makes
def compile_package() -> None:
    """Write the bytecode of Facade's own package where Python looks for it (__pycache__).
    Nodes see the package read-only, and a control plane run with PYTHONDONTWRITEBYTECODE
    writes none either: every built-in workload (and management agent) would compile its
    modules again at each start, 10 ms of CPU for http-echo. Modules compiled already are only
    checked (about 20 ms for the package); a package this process may not write stays as it is."""
    import facade

    compileall.compile_dir(Path(facade.__file__).resolve().parent, quiet=2, workers=1)


def view_args(*, fs: Path, hostname: str, runtime: list[tuple[str, str]],
              binds: list[tuple[str, str]], hide: list[str]) -> list[str]:
    """bwrap's arguments for a node's view of the file system (pure; `fs` and the sources
    are paths bwrap can reach, see Bridge)."""
    args = ["--unshare-ipc", "--unshare-uts", "--hostname", hostname, "--unshare-cgroup-try",
            "--ro-bind", "/usr", "/usr"]
    for name in TOP_LINKS:
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), f"/{name}"]
        elif host.is_dir():
            args += ["--ro-bind", str(host), f"/{name}"]
    args += ["--ro-bind", "/etc", "/etc", "--proc", "/proc", "--dev", "/dev"]
    for name in ("tmp", "root", "home", "var", "run"):
        args += ["--bind", str(fs / name), f"/{name}"]
    for source, target in runtime:
        args += ["--ro-bind", source, target]
    for source, target in binds:
        args += ["--ro-bind", source, target]
    for path in hide:
        args += ["--tmpfs", path]
    return args


def env_args(hostname: str, env: tuple[tuple[str, str], ...]) -> list[str]:
    args = ["--clearenv"]
    for key, value in (("PATH", PATH), ("HOME", "/root"), ("HOSTNAME", hostname),
                       ("LANG", "C.UTF-8"), *env):
        args += ["--setenv", key, value]
    return args


def caps_args() -> list[str]:
    return [a for cap in CAPABILITIES for a in ("--cap-add", cap)]


def folder(path: Path) -> Path:
    """A bind's source folder, made (empty) if it is not there yet: its owner fills it later
    (an appliance's files are written by its reconciler, which may run after its backends'
    nodes are made), and bwrap refuses a missing source: the node's init failed to start
    (about one backend in ten when 20 appliances of 3 were created at once)."""
    path.mkdir(parents=True, exist_ok=True)
    return path
