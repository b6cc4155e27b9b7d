"""An answer as its read model (`parse`), and one page of a list as a Page of them (`page`):
an answer that does not fit (a control plane that is not Facade's, or a broken one) is a
ProtocolError naming the field, never a pydantic traceback."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from facade.client.errors import ProtocolError
from facade.readmodels.paging import Page

M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any) -> M:
    """An answer as its read model; one that does not fit it is a ProtocolError naming the
    field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the answer"
        raise ProtocolError(f"the control plane's answer does not fit {model.__name__}: "
                            f"{where}: {first['msg']}") from None


def page(model: type[M], path: str, body: Any) -> Page[M]:
    """One page of the list route `path` (`{"items": [...], "next_cursor": ...}`), its items
    parsed into `model`. Anything else (an older control plane's bare list) says it is not a
    page; an item that does not fit says which field, as `parse` does."""
    items = body.get("items") if isinstance(body, dict) else None
    cursor = body.get("next_cursor") if isinstance(body, dict) else None
    if not isinstance(items, list) or not (cursor is None or isinstance(cursor, str)):
        raise ProtocolError(f"GET {path}: the control plane answered something that "
                            "is not a page of a list (is it an older version?)")
    # its items are read models already: the page holds them as they are
    return Page.of([parse(model, item) for item in items], cursor)
