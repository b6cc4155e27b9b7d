"""Where a text says something: the line numbers that located errors of scenario files name."""

from __future__ import annotations


def line_of(text: str, needle: str) -> int:
    """The number (from 1) of the first line of `text` that holds `needle`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)
