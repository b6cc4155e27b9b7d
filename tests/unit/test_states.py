"""Statuses and roles (domain/states.py): each member is the very string the store keeps and
the API shows, and src/ compares and sets them through these names, never as bare literals."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from facade.domain import states
from facade.domain.errors import Invalid
from facade.domain.states import (
    ApplianceStatus,
    ChannelStatus,
    InvoiceStatus,
    NodeRole,
    NodeStatus,
)

pytestmark = pytest.mark.no_store  # tests/conftest.py

SRC = Path(__file__).resolve().parents[2] / "src" / "facade"
# the built-in workloads' own answers are theirs (stdlib only: no domain import there); the cli
# and the client compare the API's strings with these names too
EDGES = ("workloads/web.py", "workloads/search.py")
WORDS = "|".join(sorted({m.value for kind in (ApplianceStatus, NodeStatus, NodeRole,
                                                 ChannelStatus, InvoiceStatus) for m in kind}))
# `status == "x"`, `obj.get("status") != "x"`, `row["role"] = "x"`, `role in (None, "x")`
KEY = r'\b(role|status)["\')\]]*'
LITERAL = re.compile(rf'{KEY}\s*(==|!=|=)\s*"({WORDS})"'
                     rf'|{KEY} (not )?in \([^)]*"({WORDS})"')


def test_the_members_are_the_stored_strings() -> None:
    assert [m.value for m in NodeRole] == ["instance", "frontend", "backend", "external",
                                           "site-host", "router"]
    assert [m.value for m in NodeStatus] == ["pending", "active", "failed", "deleting"]
    assert [m.value for m in ApplianceStatus] == ["provisioning", "ready", "scaling",
                                                  "degraded", "failed", "deleting"]
    assert [m.value for m in ChannelStatus] == ["active", "deleted"]
    assert [m.value for m in InvoiceStatus] == ["billed", "draft"]


def test_a_member_is_its_string_in_comparisons_json_and_text() -> None:
    assert NodeStatus.DELETING == "deleting" and "deleting" == NodeStatus.DELETING
    assert NodeRole.SITE_HOST != "site_host"
    assert json.dumps({"role": NodeRole.FRONTEND}) == '{"role": "frontend"}'
    assert f"{ApplianceStatus.READY}" == "ready" and str(InvoiceStatus.DRAFT) == "draft"
    assert {NodeRole.BACKEND: 1}["backend"] == 1  # a row's plain string finds an enum key


def test_a_written_status_is_checked() -> None:
    assert states.node_status("active") is NodeStatus.ACTIVE
    with pytest.raises(Invalid) as exc:
        states.appliance_status("gone", where="status")
    assert "provisioning, ready, scaling, degraded, failed, deleting" in str(exc.value)
    assert states.appliance_status("scaling") is ApplianceStatus.SCALING


def test_src_compares_and_sets_roles_and_statuses_by_name() -> None:
    found = [f"{path.relative_to(SRC)}:{n}: {line.strip()}"
             for path in sorted(SRC.rglob("*.py"))
             if not str(path.relative_to(SRC)).startswith(EDGES) and path.name != "states.py"
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if LITERAL.search(line)]
    assert found == []


def test_the_guard_sees_a_bare_literal() -> None:
    for line in ('if row.status == "deleting":', 'inst.role != "frontend"',
                 'Instance(role="backend")', 'if n.role in ("frontend", "backend"):',
                 'if obj.get("status") == "failed":', 'o["status"] != "billed"',
                 'x if obj.get("role") in (None, "instance") else y'):
        assert LITERAL.search(line), line
    assert not LITERAL.search("if row.status == NodeStatus.DELETING:")
    assert not LITERAL.search('if obj.get("status") == ApplianceStatus.FAILED:')
    assert not LITERAL.search('status_code == "ready"') and not LITERAL.search('"status": "x"')


# the layers that set the statuses objects go through (the API's own answers, e.g. the health
# answer's "ok", and the workloads' HTTP statuses are not these)
SETTERS = ("service", "controller", "reconcile", "store", "domain")


def _literal_statuses(tree: ast.AST) -> list[tuple[int, str]]:
    """Each string literal set as a status in `tree`: `x.status = "s"` (also in a tuple
    assignment), `f(status="s")`, `{"status": "s"}`."""
    found: list[tuple[int, str]] = []

    def text(node: ast.AST | None) -> str | None:
        return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) \
            else None

    for node in ast.walk(tree):
        pairs: list[tuple[ast.AST, ast.AST | None]] = []
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    pairs += zip(target.elts, node.value.elts, strict=False)
                else:
                    pairs.append((target, node.value))
            found += [(node.lineno, v) for t, value in pairs
                      if isinstance(t, ast.Attribute) and t.attr == "status"
                      and (v := text(value)) is not None]
        elif isinstance(node, ast.Call):
            found += [(node.lineno, v) for kw in node.keywords
                      if kw.arg == "status" and (v := text(kw.value)) is not None]
        elif isinstance(node, ast.Dict):
            found += [(node.lineno, v) for key, value in zip(node.keys, node.values, strict=True)
                      if text(key) == "status" and (v := text(value)) is not None]
    return found


def test_no_status_is_set_from_a_bare_string() -> None:
    """Whatever its value: a status the services or the controller set is an enum member
    (mypy then holds it to one that exists), so none outside the enums can come back, as
    "scaling" did before it was one."""
    found = [f"{path.relative_to(SRC)}:{line}: {value!r}"
             for layer in SETTERS for path in sorted((SRC / layer).rglob("*.py"))
             for line, value in _literal_statuses(ast.parse(path.read_text()))]
    assert found == []


def test_the_status_walk_sees_each_way_of_setting_one() -> None:
    code = """
app.status, app.status_detail = "scaling", "2 -> 3 backends"
row.status = "gone"
Appliance(name="a", status="later")
view = {"status": "odd"}
fine.status = ApplianceStatus.SCALING
other.state = "x"
"""
    assert [v for _, v in _literal_statuses(ast.parse(code))] == ["scaling", "gone", "later",
                                                                  "odd"]
