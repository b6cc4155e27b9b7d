"""Tokens: shown once, stored as digests, and rotated (every old token revoked at once)."""

from __future__ import annotations

import os
from typing import Any

from tests.service.helpers import ok


def test_rotation_revokes_every_old_token(api: Any) -> None:
    ok(api.req("POST", "/v1/accounts", json={"name": "acme"}), 201)
    old = [ok(api.req("POST", "/v1/accounts/acme/tokens"), 201)["token"] for _ in range(2)]
    for t in old:
        assert api.req("GET", "/v1/accounts/acme", token=t).status_code == 200
    new = ok(api.req("POST", "/v1/accounts/acme/tokens/rotate", token=old[0]), 201)["token"]
    for t in old:
        assert api.req("GET", "/v1/accounts/acme", token=t).status_code == 401
    assert api.req("GET", "/v1/accounts/acme", token=new).status_code == 200


def test_operator_rotation_rewrites_the_token_file(api: Any) -> None:
    path = api.ctx.home / "operator.token"
    assert path.read_text().strip() == api.token
    new = ok(api.req("POST", "/v1/accounts/operator/tokens/rotate"), 201)["token"]
    assert api.req("GET", "/v1/accounts", token=api.token).status_code == 401
    assert path.read_text().strip() == new
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert api.req("GET", "/v1/accounts", token=new).status_code == 200


def test_tokens_are_stored_as_digests_only(api: Any) -> None:
    ok(api.req("POST", "/v1/accounts", json={"name": "acme"}), 201)
    token = ok(api.req("POST", "/v1/accounts/acme/tokens"), 201)["token"]
    api.ctx.engine.dispose()  # flush everything to the files
    for name in ("facade.db", "facade.db-wal"):
        p = api.ctx.home / name
        if p.exists():
            assert token.encode() not in p.read_bytes()
