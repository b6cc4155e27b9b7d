"""Accounts, their tokens and their quotas."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StrictInt

from facade.api.schemas.common import Body
from facade.domain.names import MAX_NAME
from facade.domain.quotas import MAX_LIMIT as MAX_QUOTA


class AccountCreate(Body):
    name: str = Field(max_length=MAX_NAME)


class AccountRead(BaseModel):
    name: str
    operator: bool


class TokenRead(BaseModel):
    account: str
    token: str


QuotaLimit = Annotated[StrictInt, Field(ge=0, le=MAX_QUOTA)]


class QuotaUpdate(Body):
    """Partial: a resource left out keeps its limit; null brings back the default."""

    networks: QuotaLimit | None = None
    subnets: QuotaLimit | None = None
    instances: QuotaLimit | None = None
    appliances: QuotaLimit | None = None
    backends: QuotaLimit | None = None
    public_ips: QuotaLimit | None = None


class QuotaLine(BaseModel):
    limit: int | None  # None: not limited (the operator account)
    used: int
    default: bool  # the limit is the default, not one the operator set


class QuotaRead(BaseModel):
    account: str
    operator: bool
    quotas: dict[str, QuotaLine]
