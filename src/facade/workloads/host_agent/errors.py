"""What the control plane's answers mean to the host agent: a refusal stops it (`Refused`,
with its exit status), an unreachable control plane is tried again later (`Away`)."""

from __future__ import annotations


class Refused(Exception):
    """The control plane said no (a wrong or revoked token, another agent of this host): the
    agent stops. `code` is its exit status."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class Away(Exception):
    """The control plane did not answer (or answered 5xx): try again later."""
