"""Hosts (docs/multi-host.md): the body that adds a simulated host. The answer is the read
model of facade.readmodels.hosts."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictInt

from facade.api.schemas.common import Body
from facade.domain.hosts import MAX_CAPACITY
from facade.domain.names import MAX_NAME
from facade.readmodels.hosts import HostPage, HostRead

__all__ = ["HostCreate", "HostPage", "HostRead"]


class HostCreate(Body):
    name: str = Field(max_length=MAX_NAME)
    # true: the only kind that may be added in this version (a real machine will join with
    # its host agent); required, so that nobody adds one believing it is a real machine
    simulated: StrictBool
    address: str | None = Field(default=None, max_length=15)  # default: the next free one
    capacity: Annotated[StrictInt, Field(ge=1, le=MAX_CAPACITY)] | None = None
