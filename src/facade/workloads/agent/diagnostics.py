"""The agent's diagnostics: its stderr lines (`agent: ...`), and a failure said in the words a
probe's `detail` and a log line use. Used by every other module of the agent."""

from __future__ import annotations

import os
import sys


def log(line: str) -> None:
    print(f"agent: {line}", file=sys.stderr, flush=True)


def error_detail(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno).lower()
    return f"{type(exc).__name__}: {exc}"[:200]
