"""The one HTTP seam of the `facade` command: settings, requests, and error translation.

Every command talks to the control plane through `connect()`. Settings come from the global
`--url`/`--token` options, then `FACADE_URL`/`FACADE_TOKEN`, then the profile (`--profile`,
`FACADE_PROFILE` or `default`: profiles.py), then `$FACADE_HOME/operator.token`.
API errors, refused connections and timeouts become one line on stderr and an exit code that
tells them apart (`fail`, EXIT_CODES; docs/operations.md, "The facade command"), never a
traceback. List routes answer pages; `Client.list_all` follows their cursors, so every
command shows the whole list (docs/api.md, "Paging"). Tests replace `transport_factory` with one
returning an `httpx.MockTransport`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, Self
from urllib.parse import parse_qsl, quote

import httpx
import typer

from facade.cli import profiles

DEFAULT_URL = "http://127.0.0.1:8470"
DEFAULT_HOME = ".facade"
TOKEN_FILE = "operator.token"

# Requests that change the kernel (instance create/delete) answer only when the work is done.
REQUEST_TIMEOUT = httpx.Timeout(120.0, connect=5.0)
# Items per page when reading a whole list: the API's largest page, the fewest round trips.
PAGE_LIMIT = 1000


def _no_transport() -> httpx.BaseTransport | None:
    return None


# Tests swap this for a factory returning an httpx.MockTransport; None means "real network".
transport_factory: Callable[[], httpx.BaseTransport | None] = _no_transport

# Set by the global `--url` / `--token` / `--profile` options (main.py); None means "use the
# environment".
_url_option: str | None = None
_token_option: str | None = None
_profile: profiles.Profile | None = None


def configure(url: str | None, token: str | None, profile: str | None = None) -> None:
    """Remember the global options of this invocation (and the profile they name, or
    FACADE_PROFILE, or `default`: profiles.py)."""
    global _url_option, _token_option, _profile
    _url_option = url
    _token_option = token
    _profile = profiles.load(profile or os.environ.get("FACADE_PROFILE") or None)


# The exit code of an API error, by its HTTP status (as kubectl and the AWS CLI tell failures
# apart): a request the API found invalid 2 (the code click gives a bad command line too), an
# object not found 3, a conflict 4 (it exists, it is in use, a quota or a range is exhausted),
# no or a refused token 5; anything else (the control plane unreachable, a 5xx) 1.
EXIT_INVALID, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_AUTH = 2, 3, 4, 5
EXIT_CODES = {400: EXIT_INVALID, 413: EXIT_INVALID, 422: EXIT_INVALID, 404: EXIT_NOT_FOUND,
              409: EXIT_CONFLICT, 401: EXIT_AUTH, 403: EXIT_AUTH}


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one clean line on stderr and leave with `code`."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def seg(name: str) -> str:
    """One path segment, quoted (names are plain, but a typo must not change the route)."""
    return quote(name, safe="")


def facade_home() -> Path:
    return Path(os.environ.get("FACADE_HOME") or DEFAULT_HOME)


def base_url() -> str:
    from_profile = _profile.url if _profile is not None else None
    return (_url_option or os.environ.get("FACADE_URL") or from_profile
            or DEFAULT_URL).rstrip("/")


def _find_token() -> tuple[str | None, str]:
    """The token to send, and (when none) a hint saying where we looked."""
    if _token_option:
        return _token_option, ""
    env = os.environ.get("FACADE_TOKEN")
    if env:
        return env.strip(), ""
    if _profile is not None and _profile.token:
        return _profile.token, ""
    path = facade_home() / TOKEN_FILE
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        return (
            None,
            f"no token: set FACADE_TOKEN, or FACADE_HOME to the folder holding {TOKEN_FILE}",
        )
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return None, f"cannot read {path} ({reason}); set FACADE_TOKEN instead"
    if not token:
        return None, f"{path} is empty; set FACADE_TOKEN instead"
    return token, ""


def _error_line(response: httpx.Response) -> str:
    """`{"error": {"code", "message", "where"}}` -> `code: message (at where)`."""
    try:
        body = response.json()
        err = body["error"]
        message = f"{err.get('code') or response.status_code}: {err.get('message') or ''}".rstrip()
        where = err.get("where")
        if where:
            message += f" (at {where})"
        return " ".join(message.split())  # one line, whatever the server put in it
    except (ValueError, KeyError, TypeError, AttributeError):
        text = " ".join(response.text.split())[:200]
        return f"HTTP {response.status_code} {response.reason_phrase}" + (
            f": {text}" if text else ""
        )


class Client:
    """A thin wrapper over httpx.Client that answers parsed JSON or leaves via `fail`."""

    def __init__(
        self,
        url: str,
        token: str | None,
        token_hint: str = "",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self._token_hint = token_hint
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=url, headers=headers, timeout=REQUEST_TIMEOUT, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        kwargs: dict[str, Any] = {}
        if body is not None:
            kwargs["json"] = body
        # a path may carry a query of its own (`?account=`, commands/options.item): kept
        path, _, query = path.partition("?")
        if query or params:
            kwargs["params"] = {**dict(parse_qsl(query)), **(params or {})}
        if timeout is not None:
            kwargs["timeout"] = httpx.Timeout(timeout, connect=5.0)
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.ConnectError:
            fail(f"the control plane is not running at {self.url}; start it with `make up`")
        except httpx.TimeoutException:
            fail(f"{method} {path}: no answer from {self.url} in time")
        except httpx.TransportError as exc:
            fail(f"{method} {path}: {exc or type(exc).__name__}")

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
        missing_ok: bool = False,
    ) -> Any:
        """Send a request; answer its JSON (None for 204, or for 404 when `missing_ok`)."""
        response = self._send(method, path, body=body, params=params, timeout=timeout)
        if missing_ok and response.status_code == 404:
            return None
        if response.is_error:
            line = _error_line(response)
            if response.status_code == 401 and self._token_hint:
                line += f"; {self._token_hint}"
            fail(line, EXIT_CODES.get(response.status_code, 1))
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except json.JSONDecodeError:
            fail(f"{method} {path}: the control plane answered something that is not JSON")

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, body=body if body is not None else {}, **kw)

    def patch(self, path: str, body: Any, **kw: Any) -> Any:
        return self.request("PATCH", path, body=body, **kw)

    def put(self, path: str, body: Any, **kw: Any) -> Any:
        return self.request("PUT", path, body=body, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)

    def pages(self, path: str, params: dict[str, Any] | None = None, *,
              limit: int = PAGE_LIMIT) -> Iterator[list[Any]]:
        """The items of a list route, page after page, following `next_cursor` to the end."""
        query = {**(params or {}), "limit": limit}
        seen: set[str] = set()
        while True:
            body = self.get(path, params=query)
            items = body.get("items") if isinstance(body, dict) else None
            cursor = body.get("next_cursor") if isinstance(body, dict) else None
            if not isinstance(items, list) or not (cursor is None or isinstance(cursor, str)):
                fail(f"GET {path}: the control plane answered something that is not a page "
                     "of a list (is it an older version?)")
            yield items
            if cursor is None:
                return
            if cursor in seen:  # a server that pages in a circle must not keep us forever
                fail(f"GET {path}: the control plane answered the same page twice")
            seen.add(cursor)
            query["cursor"] = cursor

    def list_all(self, path: str, params: dict[str, Any] | None = None, *,
                 most: int | None = None) -> list[Any]:
        """Every item of a list route, in the API's order (at most `most` of them)."""
        limit = PAGE_LIMIT if most is None else max(1, min(most, PAGE_LIMIT))
        items: list[Any] = []
        for page in self.pages(path, params, limit=limit):
            items.extend(page)
            if most is not None and len(items) >= most:
                return items[:most]
        return items

    def healthy(self, timeout: float = 1.0) -> bool:
        """True when GET /v1/health answers; never fails (used where the server may be down)."""
        try:
            response = self._http.get("/v1/health", timeout=timeout)
        except httpx.HTTPError:
            return False
        return response.status_code == 200


def connect() -> Client:
    """A client for this invocation's URL and token."""
    token, hint = _find_token()
    return Client(base_url(), token, hint, transport=transport_factory())
