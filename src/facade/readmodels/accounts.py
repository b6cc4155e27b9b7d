"""Accounts, their tokens and their quotas."""

from __future__ import annotations

from pydantic import BaseModel

from facade.readmodels.paging import Page


class AccountRead(BaseModel):
    name: str
    operator: bool


class TokenRead(BaseModel):
    account: str
    token: str


class QuotaLine(BaseModel):
    limit: int | None  # None: not limited (the operator account)
    used: int
    default: bool  # the limit is the default, not one the operator set


class QuotaRead(BaseModel):
    account: str
    operator: bool
    quotas: dict[str, QuotaLine]


class AccountPage(Page[AccountRead]):
    """A page of accounts: GET /v1/accounts."""
