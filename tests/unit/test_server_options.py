"""The control plane's own options, checked before it starts anything (the server refuses to
run without root right after them: here that is where it stops)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from facade.api import server


@pytest.mark.parametrize(("host", "warned"), [
    ("0.0.0.0", True), ("10.1.2.3", True), ("example.org", True), ("127.0.0.1", False),
    ("127.9.9.9", False), ("::1", False), ("localhost", False)])
def test_serving_beyond_loopback_without_tls_is_warned_of(
        host: str, warned: bool, monkeypatch: Any, capsys: Any, tmp_path: Path) -> None:
    monkeypatch.setattr(server.os, "geteuid", lambda: 1000)
    monkeypatch.setenv("FACADE_HOME", str(tmp_path / "home"))
    with pytest.raises(SystemExit, match="needs root"):
        server.main(["--host", host, "--port", "1"])
    assert ("without TLS" in capsys.readouterr().err) is warned
    assert not (tmp_path / "home").exists()
