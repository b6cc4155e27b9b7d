"""The Alembic migrations build exactly the schema the models describe: a database migrated to
head has nothing left for autogenerate to add, change or drop, and there is one head."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from facade.store import db
from facade.store.models import Base


def test_one_head_and_no_difference_from_the_models(tmp_path: Path) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    assert len(ScriptDirectory.from_config(cfg).get_heads()) == 1
    engine = db.make_engine(db.sqlite_url(tmp_path))
    db.migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
