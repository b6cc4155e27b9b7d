"""Reading a whole list route in tests: follow `next_cursor` page by page (docs/api.md,
"Paging"). Used by the unit tests' `Api.items` and the kernel tests' `ControlPlane.items`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def follow(get: Callable[[dict[str, Any]], Any], query: dict[str, Any]) -> list[Any]:
    """The items of every page `get(query)` answers, from the first to the last; each answer
    must be a 200 with exactly the envelope's two keys, and no cursor may come twice."""
    query, items, seen = dict(query), [], set()
    while True:
        resp = get(query)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert set(body) == {"items", "next_cursor"}, body
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
        assert cursor not in seen, f"next_cursor {cursor} came twice"
        seen.add(cursor)
        query["cursor"] = cursor
