"""The `facade` command's seam over the typed client (facade.client): this invocation's
settings, the client it talks through, and how a failure leaves the command.

Settings come from the global `--url`/`--token`/`--profile` options, then the environment, then
the profile, then `$FACADE_HOME/operator.token` (facade.client.settings). A FacadeError raised
anywhere in a command (an API error, a refused connection, a timeout, a profile that is not
there) becomes one line on stderr and its exit code (`Group`, errors.py: invalid 2, not found 3,
conflict 4, auth 5, others 1; docs/operations.md, "The facade command"), never a traceback.
Tests replace `transport_factory` with one returning an `httpx.MockTransport`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import httpx
import typer
from typer.core import TyperGroup

from facade.client import Client, FacadeError, Settings
from facade.client.errors import EXIT_AUTH, EXIT_CONFLICT, EXIT_INVALID, EXIT_NOT_FOUND
from facade.client.resources import seg
from facade.client.settings import DEFAULT_URL, facade_home

__all__ = ["DEFAULT_URL", "EXIT_AUTH", "EXIT_CONFLICT", "EXIT_INVALID", "EXIT_NOT_FOUND",
           "Client", "Group", "configure", "connect", "facade_home", "fail", "seg"]


def _no_transport() -> httpx.BaseTransport | None:
    return None


# Tests swap this for a factory returning an httpx.MockTransport; None means "real network".
transport_factory: Callable[[], httpx.BaseTransport | None] = _no_transport

# Set by the global options (main.py); None means "use the environment, then the profile".
_options: dict[str, str | None] = {"url": None, "token": None, "profile": None}


def configure(url: str | None, token: str | None, profile: str | None = None) -> None:
    """Remember the global options of this invocation."""
    _options.update(url=url, token=token, profile=profile)


def settings() -> Settings:
    """This invocation's settings (a profile asked for that is not there: SettingsError)."""
    return Settings.resolve(_options["url"], _options["token"], _options["profile"])


def connect() -> Client:
    """A client for this invocation's URL and token."""
    return Client.from_settings(settings(), transport=transport_factory())


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one clean line on stderr and leave with `code`."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


class Group(TyperGroup):
    """The `facade` app's group: a FacadeError from any command leaves through `fail`."""

    # click's Context, as typer vendors it (typer._click): Any keeps the override exact
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except FacadeError as exc:
            fail(str(exc), exc.exit_code)

