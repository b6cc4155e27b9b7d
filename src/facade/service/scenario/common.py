"""What apply and destroy of a scenario file share: an error raised at the file line of the
declaration that broke it (`located`), a conflict that names what differs (`differs`),
where a rule declaration applies (`rule_scope`), and how the answer names what the file
declares (`Naming`). ensure.py and remove.py call these.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain.errors import Conflict, FacadeError
from facade.domain.scenario import Declaration, RuleDecl, Scenario
from facade.readmodels.system import Change, ScenarioRead
from facade.service import rules
from facade.service.context import Caller
from facade.store.models import Account


def owned(session: Session, model: Any, account: str, name: str, *conditions: Any,
          scope: Any = None) -> Any:
    """The object of `model` named `name` among account `account`'s names (names are unique
    per account, docs/api.md "Names"): a file's declaration is about its account's object,
    never another's of the same name. `scope`: the account column (default `account_id`)."""
    column = scope if scope is not None else model.account_id
    return session.scalar(select(model).join(Account, column == Account.id).where(
        model.name == name, Account.name == account, *conditions))


def matches(owner: str, path: str, ref: str) -> bool:
    """Whether a file's reference (`name` or `account/name`; `net/sub` or `account/net/sub`)
    names the object at `path` of account `owner`."""
    if ref.count("/") == path.count("/") + 1:
        return ref == f"{owner}/{path}"
    return ref == path


@contextmanager
def located(decl: Declaration) -> Iterator[None]:
    """Re-raise a rule's error at the file line of the declaration that broke it."""
    try:
        yield
    except FacadeError as exc:
        if exc.where and exc.where.startswith(getattr(decl, "file", "<scenario>")):
            raise
        where = decl.where + (f", {exc.where}" if exc.where else "")
        raise type(exc)(exc.message, where=where) from exc


def answer(changes: list[dict[str, str]], appliances: list[str], *,
           dry_run: bool = False) -> ScenarioRead:
    """What apply and destroy answer: each change (Naming.change's), the file's appliances."""
    return ScenarioRead(changes=[Change(**c) for c in changes], appliances=appliances,
                        dry_run=dry_run)


def differs(decl: Declaration, what: str, have: object, want: object) -> Conflict:
    return Conflict(f"{decl.kind} {decl.label} exists with {what} {have}, the file says {want}; "
                    "destroy it first to change it", where=decl.where)


def rule_scope(session: Session, caller: Caller, decl: RuleDecl) -> rules.Scope:
    """The subnet or interface the rule is of: the rule's `account`'s, when the file says whose
    (as the API's `?account=`), else the one the applying token's reference means."""
    if decl.subnet_ref is not None:
        return rules.subnet_scope(session, caller, decl.subnet_ref)
    instance, ifname = rules.split_interface(decl.interface or "")
    if decl.account:
        instance = f"{decl.account}/{instance}"
    return rules.interface_scope(session, caller, instance, ifname)


class Naming:
    """How an answer names the file's declarations. A change is `name`, or `ACCOUNT/name` when
    the file declares that name of that kind for several accounts; an appliance to wait for is
    named as the caller would ask for it: its own bare, another account's ACCOUNT/NAME (the
    operator's always, for its bare names prefer nobody's), so `facade apply` waits for that
    account's appliance, never a same-named one of another."""

    def __init__(self, caller: Caller, sc: Scenario) -> None:
        self.caller = caller
        owners: dict[tuple[str, str], set[str]] = {}
        for decl in sc.in_order():
            owners.setdefault((decl.kind, decl.label), set()).add(getattr(decl, "account", ""))
        self.shared = {key for key, accounts in owners.items() if len(accounts) > 1}
        self.appliances = [a.name if a.account == caller.account and not caller.operator
                           else f"{a.account}/{a.name}" for a in sc.appliances]

    def change(self, action: str, decl: Declaration) -> dict[str, str]:
        name = decl.label
        if (decl.kind, name) in self.shared:
            name = f"{getattr(decl, 'account', '')}/{name}"
        return {"action": action, "kind": decl.kind, "name": name}
