"""The one exception a data-plane driver raises, at the seam: what failed, and whether trying
again can help.

`Retry`: the kernel or a dependency was not ready (a bridge not made yet, a namespace being
torn down, bwrap not starting, EBUSY): the controller tries the object again with backoff.
`Fatal`: the request itself cannot be carried out as it is (an interface name too long, a
front-end without its spec, a rotation of something that is not a front-end): trying again
changes nothing until the object changes; the controller reports it and waits for a change
(or the slow resync). Both drivers (fake and linux) raise exactly these.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    RETRY = "retry"
    FATAL = "fatal"


class DataPlaneError(RuntimeError):
    """A data-plane operation failed; the message says on what and why."""

    def __init__(self, message: str, kind: Kind = Kind.RETRY) -> None:
        super().__init__(message)
        self.kind = kind

    @property
    def fatal(self) -> bool:
        return self.kind is Kind.FATAL


def fatal(message: str) -> DataPlaneError:
    return DataPlaneError(message, Kind.FATAL)
