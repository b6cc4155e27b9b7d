"""Shared fixtures: a control plane on the fake driver (no root needed)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from fastapi.testclient import TestClient

from facade.api.app import create_app
from facade.controller import Controller
from facade.dataplane.fake import FakeDataPlane
from facade.service import accounts
from facade.service.context import Context
from tests.pages import follow


@dataclass
class Api:
    client: TestClient
    ctx: Context
    dp: FakeDataPlane
    token: str

    def as_(self, token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}

    def req(self, method: str, path: str, token: str | None = "op", **kw: object):
        tok = self.token if token == "op" else token
        return self.client.request(method, path, headers=self.as_(tok), **kw)

    def items(self, path: str, token: str | None = "op", *,
              params: dict[str, Any] | None = None) -> list[Any]:
        """Every item of a list route: each page a 200 envelope, next_cursor followed to the
        end. A query in `path` (`/v1/usage?by=node`) is kept on every page."""
        return follow(lambda query: self.req("GET", path.partition("?")[0], token=token,
                                             params=query),
                      {**dict(parse_qsl(path.partition("?")[2])), **(params or {})})


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with running_api(tmp_path) as made:
        yield made


@contextmanager
def running_api(tmp_path: Path) -> Iterator[Api]:
    """A control plane on the fake driver in `tmp_path`, stopped afterwards (for fixtures of
    any scope)."""
    dp = FakeDataPlane()
    ctx = Context.open(tmp_path / "home", dp)
    token = accounts.bootstrap_operator(ctx)
    assert token
    worker = Controller(ctx)
    worker.start()
    try:
        with TestClient(create_app(ctx)) as client:
            yield Api(client=client, ctx=ctx, dp=dp, token=token)
    finally:
        worker.stop()
        ctx.engine.dispose()
