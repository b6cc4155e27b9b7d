"""`mypy --strict` holds on src/ (STYLE.md: annotate everything)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.no_store  # tests/conftest.py

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_strict_on_src() -> None:
    res = subprocess.run([sys.executable, "-m", "mypy", "--strict", "src"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
