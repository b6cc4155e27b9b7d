"""What a failed call raises: one exception class per kind of failure, each with the exit code
the `facade` command leaves with (as kubectl and the AWS CLI tell failures apart).

An API error carries the API's error body (`{"error": {"code", "message", "where"}}`,
docs/api.md) as `code`, `message`, `where` and `body`, and the HTTP `status`. The classes by
status: invalid (400, 413, 422) exit 2, not found (404) exit 3, conflict (409, and 412 when an
`If-Match` no longer matches) exit 4, auth (401, 403) exit 5; anything else (a 5xx, a 429 still
refused after the retries, the control plane unreachable, an answer that is not the API's)
exit 1. A settings problem (a profile asked for that is not there) is a usage error, exit 2.
"""

from __future__ import annotations

from typing import Any

EXIT_OTHER, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_AUTH = 1, 2, 3, 4, 5


class FacadeError(Exception):
    """Any failure of the client; `exit_code` is what the `facade` command leaves with."""

    exit_code = EXIT_OTHER

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SettingsError(FacadeError):
    """The settings cannot be read: a profile that is not there, a config file that is not
    TOML, a token file that cannot be read."""

    exit_code = EXIT_INVALID


class ConnectionFailed(FacadeError):
    """No answer: the control plane is not running, not reachable, or too slow."""


class ProtocolError(FacadeError):
    """An answer that is not what the API answers (not JSON, not a page of a list)."""


class ApiError(FacadeError):
    """The API answered an error status."""

    def __init__(self, status: int, body: Any, text: str = "", hint: str = "",
                 reason: str = "") -> None:
        self.status = status
        self.body = body
        detail = _detail(body)
        self.code: str = str(detail.get("code") or status)
        self.where: str | None = detail.get("where") or None
        said = detail.get("message")
        message = str(said) if said else " ".join(text.split())[:200]
        head = f"{self.code}:" if detail else f"HTTP {status} {reason}".rstrip() + ":"
        super().__init__(_line(head, message, self.where, hint))
        self.message = message  # the API's own words; str(self) is the whole line


class InvalidRequest(ApiError):
    exit_code = EXIT_INVALID


class NotFound(ApiError):
    exit_code = EXIT_NOT_FOUND


class Conflict(ApiError):
    exit_code = EXIT_CONFLICT


class AuthFailed(ApiError):
    exit_code = EXIT_AUTH


class RateLimited(ApiError):
    """429 still, after the bounded retries (the request changed nothing)."""


class ServerError(ApiError):
    """A 5xx, or a status the API does not document."""


BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequest, 413: InvalidRequest, 422: InvalidRequest,
    404: NotFound, 409: Conflict, 412: Conflict, 401: AuthFailed, 403: AuthFailed,
    429: RateLimited,
}


def api_error(status: int, body: Any, text: str = "", hint: str = "",
              reason: str = "") -> ApiError:
    """The exception for an error answer (`body` is its parsed JSON, or None; `text` its
    text, said when it is not the API's error body)."""
    return BY_STATUS.get(status, ServerError)(status, body, text, hint, reason)


def _detail(body: Any) -> dict[str, Any]:
    err = body.get("error") if isinstance(body, dict) else None
    return err if isinstance(err, dict) else {}


def _line(head: str, message: str, where: str | None, hint: str) -> str:
    """`code: message (at where)`, on one line whatever the server put in it."""
    line = f"{head} {message}" if message else head.rstrip(":")
    if where:
        line += f" (at {where})"
    if hint:
        line += f"; {hint}"
    return " ".join(line.split())
