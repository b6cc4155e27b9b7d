"""Shared fixtures: a control plane on the fake driver (no root needed)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from facade.api.app import create_app
from facade.controller import Controller
from facade.dataplane.fake import FakeDataPlane
from facade.service import accounts
from facade.service.context import Context


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
