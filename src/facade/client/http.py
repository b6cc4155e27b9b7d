"""One HTTP session with the control plane: sending, bounded retries, errors, paging.

Retries: a `429` is retried after its `Retry-After` (any method: a rate-limited request changed
nothing, docs/api.md), a lost connection only for a request that may be sent twice (GET, HEAD,
PUT, DELETE, and a POST with an `Idempotency-Key`), at most `Settings.retries` times with a
growing pause; then the last failure is raised. A read timeout is never retried: the request
may still be running. Errors become the exceptions of errors.py. List routes answer pages;
`pages` and `list_all` follow `next_cursor` to the end (docs/api.md, "Paging"), each page
parsed into a Page of the route's read model (parsing.py).
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable, Iterator
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel

from facade.client.errors import ConnectionFailed, ProtocolError, api_error
from facade.client.parsing import page
from facade.client.settings import CONNECT_TIMEOUT, Settings
from facade.readmodels.paging import Page

M = TypeVar("M", bound=BaseModel)

# Items per page when reading a whole list: the API's largest page, the fewest round trips.
PAGE_LIMIT = 1000
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# The longest pause a Retry-After may ask for, and the first pause after a lost connection.
MOST_WAIT = 30.0
FIRST_BACKOFF = 0.5
# Failures where the request surely or probably did not run, so sending it again is safe for
# an idempotent request; a read timeout is not one of them.
RETRYABLE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError,
             httpx.ReadError, httpx.WriteError, httpx.PoolTimeout)


class Http:
    """httpx.Client with the API's conventions; answers parsed JSON or raises FacadeError."""

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.url = settings.url
        self._sleep = sleep
        headers = {"Authorization": f"Bearer {settings.token}"} if settings.token else {}
        self._http = httpx.Client(
            base_url=settings.url, headers=headers, transport=transport,
            timeout=httpx.Timeout(settings.timeout, connect=CONNECT_TIMEOUT),
            verify=settings.verify())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, *, body: Any = None,
                params: dict[str, Any] | None = None, timeout: float | None = None,
                missing_ok: bool = False, headers: dict[str, str] | None = None) -> Any:
        """Send a request; answer its JSON (None for 204, or for 404 when `missing_ok`)."""
        response = self.send(method, path, body=body, params=params, timeout=timeout,
                             headers=headers)
        if missing_ok and response.status_code == 404:
            return None
        if response.is_error:
            raise self._error(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except json.JSONDecodeError:
            raise ProtocolError(f"{method} {path}: the control plane answered something "
                                "that is not JSON") from None

    def send(self, method: str, path: str, *, body: Any = None,
             params: dict[str, Any] | None = None, timeout: float | None = None,
             headers: dict[str, str] | None = None) -> httpx.Response:
        """The raw answer, after the retries (a 429 still refused is answered, not raised)."""
        request = self._http.build_request(
            method, path, json=body, params=params, headers=headers,
            timeout=httpx.USE_CLIENT_DEFAULT if timeout is None
            else httpx.Timeout(timeout, connect=CONNECT_TIMEOUT))
        replayable = method in IDEMPOTENT or "idempotency-key" in request.headers
        pause = FIRST_BACKOFF
        for attempt in range(self.settings.retries + 1):
            last = attempt == self.settings.retries
            try:
                response = self._http.send(request)
            except RETRYABLE as exc:
                if last or not replayable:
                    raise self._lost(method, path, exc) from None
                self._sleep(pause)
                pause *= 2
                continue
            except httpx.TransportError as exc:
                raise self._lost(method, path, exc) from None
            if response.status_code != 429 or last:
                return response
            self._sleep(retry_after(response, pause))
            pause *= 2
        raise AssertionError("unreachable: the last attempt returns or raises")

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

    def pages(self, path: str, model: type[M], params: dict[str, Any] | None = None, *,
              limit: int = PAGE_LIMIT) -> Iterator[Page[M]]:
        """The pages of a list route, each parsed (its items into `model`), following
        `next_cursor` to the end."""
        query = {**(params or {}), "limit": limit}
        seen: set[str] = set()
        while True:
            found = page(model, path, self.get(path, params=query))
            yield found
            if found.next_cursor is None:
                return
            if found.next_cursor in seen:  # a server that pages in a circle must not keep us
                raise ProtocolError(f"GET {path}: the control plane answered the same page "
                                    "twice")
            seen.add(found.next_cursor)
            query["cursor"] = found.next_cursor

    def list_all(self, path: str, model: type[M], params: dict[str, Any] | None = None, *,
                 most: int | None = None) -> list[M]:
        """Every item of a list route, in the API's order (at most `most` of them), each
        parsed into `model`."""
        limit = PAGE_LIMIT if most is None else max(1, min(most, PAGE_LIMIT))
        items: list[M] = []
        for found in self.pages(path, model, params, limit=limit):
            items.extend(found.items)
            if most is not None and len(items) >= most:
                return items[:most]
        return items

    def healthy(self, timeout: float = 1.0) -> bool:
        """True when GET /v1/health answers; never raises (used where the server may be down)."""
        try:
            response = self._http.get("/v1/health", timeout=timeout)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def _error(self, response: httpx.Response) -> Exception:
        try:
            body = response.json()
        except ValueError:
            body = None
        hint = self.settings.token_hint if response.status_code == 401 else ""
        return api_error(response.status_code, body, response.text, hint,
                         response.reason_phrase)

    def _lost(self, method: str, path: str, exc: httpx.TransportError) -> ConnectionFailed:
        if isinstance(exc, httpx.ConnectError):
            return ConnectionFailed(f"the control plane is not running at {self.url}; start "
                                    "it with `make up`")
        if isinstance(exc, httpx.TimeoutException):
            return ConnectionFailed(f"{method} {path}: no answer from {self.url} in time")
        return ConnectionFailed(f"{method} {path}: {exc or type(exc).__name__}")


def retry_after(response: httpx.Response, default: float) -> float:
    """The pause a 429 asks for (whole seconds or an HTTP date), at most MOST_WAIT."""
    value = response.headers.get("retry-after", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return default
        seconds = when.timestamp() - time.time()
    return max(0.0, min(seconds, MOST_WAIT))
