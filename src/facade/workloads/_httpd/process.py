"""A workload as a process: its command-line options, its allocator, its log line (serving until
SIGTERM is server.serve)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

M_ARENA_MAX, M_MMAP_THRESHOLD = -8, -3  # glibc's mallopt parameters (malloc.h)
_trim: Callable[[int], int] | None = None  # glibc's malloc_trim, once lean_malloc() found it


def lean_malloc() -> None:
    """Tune glibc's allocator for a small long-running server; call once, before any thread.

    - One arena for all threads: glibc gives each new thread its own (up to 8 per core) and
      never returns them (about 3 MB more after a burst of 32 clients).
    - Blocks of 128 KiB or more always mapped on their own and unmapped when freed: glibc
      otherwise raises that threshold after the first large free, and a large body's memory
      stays in the heap for good.
    - Give back now what compiling the modules left free in the heap (about 1 MB when the
      bytecode is not cached, e.g. a read-only source tree without __pycache__), and again
      whenever the last worker thread ends, i.e. after a burst of requests.

    Costs the ctypes import (about 0.2 MB); does nothing where there is no glibc."""
    import ctypes

    global _trim
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(M_ARENA_MAX, 1)
        libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024)
        _trim = libc.malloc_trim
    except (OSError, AttributeError):
        return
    _trim(0)


def give_back() -> None:
    """Return the heap's free memory to the system, if lean_malloc() found glibc (after a burst
    of requests: the last worker thread ends)."""
    if _trim is not None:
        _trim(0)


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def options(argv: list[str] | None, prog: str, required: Sequence[str],
            optional: Sequence[str] = ()) -> dict[str, str]:
    """`--name VALUE` / `--name=VALUE` options (argparse costs a workload a megabyte). Every
    required one must be given; a mistake prints usage and exits with status 2, as argparse."""
    args = sys.argv[1:] if argv is None else argv
    known = [*required, *optional]
    usage = f"usage: {prog} " + " ".join(
        [f"--{k} {k.upper().replace('-', '_')}" for k in required]
        + [f"[--{k} {k.upper().replace('-', '_')}]" for k in optional])
    if "-h" in args or "--help" in args:
        print(usage)
        raise SystemExit(0)
    found: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg[2:].partition("=")
        if not arg.startswith("--") or name not in known:
            _usage_error(usage, f"unrecognized argument: {arg}")
        if not eq:
            if i + 1 >= len(args):
                _usage_error(usage, f"argument --{name}: expected one argument")
            i, value = i + 1, args[i + 1]
        found[name] = value
        i += 1
    missing = [f"--{k}" for k in required if k not in found]
    if missing:
        _usage_error(usage, f"the following arguments are required: {', '.join(missing)}")
    if "port" in found and not (found["port"].isascii() and found["port"].isdigit()
                                and int(found["port"]) < 65536):
        _usage_error(usage, f"argument --port: invalid port {found['port']!r}")
    return found


def _usage_error(usage: str, message: str) -> None:
    prog = usage.split()[1]
    print(f"{usage}\n{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(2)
