"""Statuses and roles (domain/states.py): each member is the very string the store keeps and
the API shows, and src/ compares and sets them through these names, never as bare literals."""

from __future__ import annotations

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
    assert [m.value for m in ApplianceStatus] == ["provisioning", "ready", "degraded",
                                                  "failed", "deleting"]
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
    assert "provisioning, ready, degraded, failed, deleting" in str(exc.value)


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
