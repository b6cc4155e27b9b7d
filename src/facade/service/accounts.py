"""Accounts and their API tokens. Tokens are random, shown once, and stored only as a SHA-256
digest. The operator account and its token are made at first start."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain import names
from facade.domain.errors import Conflict, Forbidden, InUse, Unauthorized
from facade.domain.paging import FIRST, PageRequest
from facade.readmodels.accounts import AccountPage, AccountRead, TokenRead
from facade.service import files, lookup, paging, views
from facade.service.context import Caller, Context
from facade.store.models import (
    Account,
    Appliance,
    Instance,
    Network,
    PublicIp,
    Service,
    Token,
    Vpn,
)

OPERATOR = "operator"


def digest(token: str) -> str:
    """What the store keeps of a token (an account's or a host agent's)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token(session: Session, account: Account) -> str:
    token = "fcd_" + secrets.token_urlsafe(32)
    session.add(Token(account_id=account.id, digest=digest(token)))
    return token


def bootstrap_operator(ctx: Context) -> str | None:
    """Make the operator account at first start; returns its token then (else None).
    The token is written to $FACADE_HOME/operator.token with mode 0600."""
    with ctx.write() as session:
        if session.scalar(select(Account).where(Account.operator.is_(True))) is not None:
            return None
        op = Account(name=OPERATOR, operator=True)
        session.add(op)
        session.flush()
        token = _new_token(session, op)
    _write_operator_token(ctx.home, token)
    return token


def _write_operator_token(home: Path, token: str) -> None:
    files.write_atomically(home / "operator.token", token + "\n", private=True)


def authenticate(ctx: Context, token: str | None) -> Caller:
    if not token:
        raise Unauthorized("missing bearer token (Authorization: Bearer TOKEN)")
    with ctx.read() as session:
        key = digest(token)
        # one statement, plain columns (every request asks it)
        row = session.execute(select(Account.id, Account.name, Account.operator)
                              .join(Token, Token.account_id == Account.id)
                              .where(Token.digest == key)).first()
        if row is None:
            raise Unauthorized("unknown token")
        caller = Caller(account_id=row.id, account=row.name, operator=row.operator)
    if not caller.operator:  # before the request does anything
        ctx.rate_limits.take(key)
    return caller


def _require_operator(caller: Caller, what: str) -> None:
    if not caller.operator:
        raise Forbidden(f"only the operator may {what}")


def new_account(ctx: Context, session: Session, caller: Caller, name: str) -> Account:
    _require_operator(caller, "create accounts")
    names.check_name(name, kind="account", where="name")
    if session.scalar(select(Account).where(Account.name == name)):
        raise Conflict(f"account {name!r} already exists", where="name")
    row = Account(name=name)
    session.add(row)
    session.flush()
    ctx.event(session, "account.created", name, f"account {name} created", row.id)
    session.flush()
    return row


def create(ctx: Context, caller: Caller, name: str) -> AccountRead:
    with ctx.write() as session:
        return views.account(new_account(ctx, session, caller, name))


ORDER = paging.by_id("accounts", Account.id)


def list_(ctx: Context, caller: Caller, page: PageRequest = FIRST) -> AccountPage:
    """A page of the accounts the caller sees (all for the operator, else its own)."""
    with ctx.read() as session:
        query = select(Account).where(*paging.seen_by(caller, Account.id))
        rows, cursor = paging.objects(session, query, ORDER, page, lambda r: (r.id,))
        return AccountPage.of([views.account(r) for r in rows], cursor)


def get(ctx: Context, caller: Caller, name: str) -> AccountRead:
    with ctx.read() as session:
        row = lookup.visible_account(session, caller, name)
        return views.account(row)


def remove(ctx: Context, session: Session, caller: Caller, row: Account) -> None:
    _require_operator(caller, "delete accounts")
    if row.operator:
        raise Forbidden("the operator account cannot be deleted")
    users = [f"network {n}" for n in session.scalars(
        select(Network.name).where(Network.account_id == row.id))]
    users += [f"instance {n}" for n in session.scalars(
        select(Instance.name).where(Instance.account_id == row.id))]
    users += [f"service {n}" for n in session.scalars(
        select(Service.name).where(Service.account_id == row.id))]
    users += [f"appliance {n}" for n in session.scalars(
        select(Appliance.name).where(Appliance.account_id == row.id))]
    users += [f"public IP {a}" for a in session.scalars(
        select(PublicIp.address).where(PublicIp.account_id == row.id))]
    if users:
        raise InUse(f"account {row.name} still owns {', '.join(users[:5])}"
                    + (" and more" if len(users) > 5 else ""), where="account")
    # its ended private channels' rows (kept for a meter of channel hours) go with it: a live
    # one would have kept its network, above
    for vpn in session.scalars(select(Vpn).where(Vpn.account_id == row.id)):
        session.delete(vpn)
    session.flush()
    session.delete(row)
    ctx.event(session, "account.deleted", row.name, f"account {row.name} deleted", row.id)


def delete(ctx: Context, caller: Caller, name: str) -> None:
    with ctx.write() as session:
        remove(ctx, session, caller, lookup.account(session, name))


def create_token(ctx: Context, caller: Caller, name: str) -> TokenRead:
    with ctx.write() as session:
        row = lookup.visible_account(session, caller, name)
        token = _new_token(session, row)
        ctx.event(session, "token.created", name, f"a token was created for account {name}",
                  row.id)
        return TokenRead(account=name, token=token)


def rotate_tokens(ctx: Context, caller: Caller, name: str) -> TokenRead:
    """Revoke every token of the account and make one new one (shown once). For the operator,
    the new token also replaces $FACADE_HOME/operator.token."""
    with ctx.write() as session:
        row = lookup.visible_account(session, caller, name)
        old = session.scalars(select(Token).where(Token.account_id == row.id)).all()
        for t in old:
            session.delete(t)
        revoked = len(old)
        token = _new_token(session, row)
        ctx.event(session, "token.rotated", name,
                  f"{revoked} token(s) of account {name} revoked, a new one made", row.id)
        if row.operator:
            _write_operator_token(ctx.home, token)
        return TokenRead(account=name, token=token)
