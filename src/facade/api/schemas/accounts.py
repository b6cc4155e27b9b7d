"""Accounts, their tokens and their quotas. The answers are the read models of
facade.readmodels.accounts."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt

from facade.api.schemas.common import Body
from facade.domain.names import MAX_NAME
from facade.domain.quotas import MAX_LIMIT as MAX_QUOTA
from facade.readmodels.accounts import AccountPage, AccountRead, QuotaLine, QuotaRead, TokenRead

__all__ = ["AccountCreate", "AccountPage", "AccountRead", "QuotaLimit", "QuotaLine",
           "QuotaRead", "QuotaUpdate", "TokenRead"]


class AccountCreate(Body):
    name: str = Field(max_length=MAX_NAME)


QuotaLimit = Annotated[StrictInt, Field(ge=0, le=MAX_QUOTA)]


class QuotaUpdate(Body):
    """Partial: a resource left out keeps its limit; null brings back the default."""

    networks: QuotaLimit | None = None
    subnets: QuotaLimit | None = None
    instances: QuotaLimit | None = None
    appliances: QuotaLimit | None = None
    backends: QuotaLimit | None = None
    public_ips: QuotaLimit | None = None
