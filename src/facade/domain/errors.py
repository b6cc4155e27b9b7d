"""The errors Facade's rules raise. The API maps each kind to one HTTP status, once, at its edge."""

from __future__ import annotations


class FacadeError(Exception):
    """Base of every error a user can cause. `where` names the field, file line or object at fault."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class Invalid(FacadeError):
    """The request is malformed or breaks a rule (a subnet outside its network, a bad CIDR...)."""


class NotFound(FacadeError):
    status = 404
    code = "not_found"


class Conflict(FacadeError):
    """The request clashes with what exists: a name used twice, an address taken, overlap."""

    status = 409
    code = "conflict"


class Exhausted(Conflict):
    """A subnet has no free address left."""

    code = "exhausted"


class Forbidden(FacadeError):
    status = 403
    code = "forbidden"


class Unauthorized(FacadeError):
    status = 401
    code = "unauthorized"


class InUse(Conflict):
    """The object is still used by another one and cannot be deleted yet."""

    code = "in_use"


class QuotaExceeded(Conflict):
    """An account holds as many of a resource as its quota allows (docs/api.md, Quotas): a 409
    like a full subnet, because deleting something (or a higher quota) makes the same request
    succeed; 403 stays for what a token may never do."""

    code = "quota_exceeded"


class PreconditionFailed(FacadeError):
    """An update sent with `If-Match` met an object that changed since (api/etags.py)."""

    status = 412
    code = "precondition_failed"


class RateLimited(FacadeError):
    """A token sent more requests than its rate allows (service/rate_limits.py): nothing was
    done; `retry_after` seconds from now the next one may come."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, where="Authorization")
        self.retry_after = retry_after


def describe(value: object) -> str:
    """A value as an error message shows what was given instead: "the string 'x'", "a list"."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        if len(value) > 60:  # an error message quotes the start of a long string only
            return f"a string of {len(value)} characters ({value[:20]!r}...)"
        return f"the string {value!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return f"{value!r}"
