"""Paging of list reads: the bounds of `limit` and the opaque `cursor` (docs/api.md, "Paging").

Every list route answers at most `limit` items (default 100, at most 1000) in a stable order and
a `next_cursor` that continues after the last of them. The cursor is the URL-safe base64 text
(no padding) of a small JSON array: the name of the list, then the sort key of the page's last
item (for most lists its id, e.g. `["appliances", 42]`). Clients must not build or read it: the
layout may change. It carries no permission: visibility is applied to every page, so a cursor
altered by hand can only move where a page of the caller's own objects starts. The name of the
list catches a cursor given to another list. Called by the service layer (service/paging.py)
and the API's query parameters.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass

from facade.domain.errors import Invalid

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_CURSOR = 512  # characters: longer than any cursor Facade makes

KeyPart = int | str
Key = tuple[KeyPart, ...]

_HINT = ("give the next_cursor of the previous page unchanged, or no cursor to start at the "
         "beginning")


def check_limit(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit {limit!r} must be an integer 1-{MAX_LIMIT}", where="limit")
    return limit


def encode(kind: str, key: Key) -> str:
    """The cursor that continues the list `kind` after the item whose sort key is `key`."""
    raw = json.dumps([kind, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(text: str, kind: str, shape: Sequence[type[KeyPart]]) -> Key:
    """The sort key in a cursor of the list `kind` whose key parts have the types `shape`;
    400 (where: cursor) for anything else."""
    if not isinstance(text, str) or not text or len(text) > MAX_CURSOR:
        raise Invalid(f"the cursor is invalid (not a cursor of this API); {_HINT}",
                      where="cursor")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value = json.loads(raw.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        # binascii.Error and json.JSONDecodeError are ValueErrors
        raise Invalid(f"the cursor is invalid (not a cursor of this API); {_HINT}",
                      where="cursor") from None
    if not isinstance(value, list) or not value or not isinstance(value[0], str):
        raise Invalid(f"the cursor is invalid (not a cursor of this API); {_HINT}",
                      where="cursor")
    if value[0] != kind:
        raise Invalid(f"the cursor is invalid here: it continues another list "
                      f"({value[0][:40]!r}, not {kind!r}); {_HINT}", where="cursor")
    key = value[1:]
    if len(key) != len(shape) or not all(
            isinstance(part, want) and not isinstance(part, bool)
            for part, want in zip(key, shape, strict=True)):
        raise Invalid(f"the cursor is invalid (damaged); {_HINT}", where="cursor")
    return tuple(key)


@dataclass(frozen=True)
class PageRequest:
    """What a list request asks for: up to `limit` items after `cursor` (None: from the
    start). Built from the query parameters by the API, checked here too for other callers."""

    limit: int = DEFAULT_LIMIT
    cursor: str | None = None

    def __post_init__(self) -> None:
        check_limit(self.limit)
        if self.cursor is not None and (not isinstance(self.cursor, str)
                                        or len(self.cursor) > MAX_CURSOR):
            raise Invalid(f"the cursor is invalid (not a cursor of this API); {_HINT}",
                          where="cursor")

    def after(self, kind: str, shape: Sequence[type[KeyPart]]) -> Key | None:
        """The sort key the page starts after, or None for the first page."""
        return None if self.cursor is None else decode(self.cursor, kind, shape)


FIRST = PageRequest()
