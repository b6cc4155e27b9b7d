"""Files the control plane keeps in its state folder, written atomically (a reader never sees
half a file): tokens and secrets with mode 0600, configuration the workloads re-read."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: Path, text: str, *, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    if private:
        os.chmod(tmp, 0o600)  # the file may have existed with wider rights
    os.replace(tmp, path)


def update(path: Path, text: str, *, private: bool = False) -> bool:
    """Write `text` unless the file already holds it (readers poll mtimes: do not touch them
    for nothing). True when it wrote."""
    try:
        if path.read_text() == text:
            return False
    except FileNotFoundError:
        pass
    write_atomically(path, text, private=private)
    return True
