"""A store for a test: a copy of an empty store migrated once per test process.

Migrating a new SQLite store through every revision costs about 0.2 s, and most unit and
service tests (and every API fuzzing case) open one; a copy of a store at the newest revision
opens in a few milliseconds (Context.open finds nothing to migrate). The migrations themselves
are tested from an empty store in tests/unit/test_migrations.py, and every control plane the
kernel tests start migrates its own.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from facade.dataplane.fake import FakeDataPlane
from facade.dataplane.protocol import DataPlane
from facade.service.context import Context
from facade.store import db

_template: Path | None = None


def _migrated() -> Path:
    """The empty migrated store of this process, made at its first use."""
    global _template
    if _template is None:
        folder = Path(tempfile.mkdtemp(prefix="facade-test-store-"))
        atexit.register(shutil.rmtree, folder, True)
        Context.open(folder, FakeDataPlane()).engine.dispose()
        _template = folder / "facade.db"
    return _template


def open_context(home: Path, dataplane: DataPlane) -> Context:
    """Context.open on a store copied from the migrated template."""
    home.mkdir(parents=True, exist_ok=True)
    target = Path(db.sqlite_url(home).removeprefix("sqlite:///"))
    if not target.exists():
        shutil.copyfile(_migrated(), target)
    return Context.open(home, dataplane)
