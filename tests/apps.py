"""The API app of a test's control plane, made once per test process and handed on.

FastAPI builds what a route needs to validate its parameters and answers (pydantic adapters of
each parameter and model) the first time a request reaches that route of that app: about 0.3 s
of CPU per test for the few dozen routes a service test touches, a third of what many of them
cost in all, and paid again by every new app. The app holds nothing of a control plane but
`app.state.ctx` (all a route, a middleware or a handler reads: api/deps.py, api/observe.py), so
an app a test is done with serves the next test's Context; two planes alive at once get two
apps.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI

from facade.api.app import create_app
from facade.service.context import Context

_idle: list[FastAPI] = []  # apps no plane uses now


@contextmanager
def app_for(ctx: Context) -> Iterator[FastAPI]:
    """An app serving `ctx` for as long as the block lasts."""
    app = _idle.pop() if _idle else create_app(ctx)
    app.state.ctx = ctx
    try:
        yield app
    finally:
        app.state.ctx = None
        _idle.append(app)
