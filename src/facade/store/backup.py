"""`facade backup FILE` and `facade restore FILE`: the state a control plane cannot make again,
in one file (`python -m facade.store.backup create|restore FILE [--database URL]`, which the
`facade` command runs, in FACADE_HOME).

A backup (a gzipped tar) holds MANIFEST.json (its format, the kind of store, the store's schema
revision, when), the store, and operator.token and the management networks' signing secrets
(agents/nN.secret). The store is facade.db for SQLite (a consistent copy, taken with SQLite's
online backup while the control plane may run) or facade.dump for a PostgreSQL database
(`pg_dump --format=custom`, a consistent snapshot while control planes write; store/pgdump.py).
Everything else in the state folder (the kernel's records, the agents' configurations, the
nodes' files) is made again by the control plane from the store.

A restore replaces the store and those secrets, keeping what it replaces (facade.db.before-restore,
or a dump of the database, facade.dump.before-restore); the control plane must be stopped (the
command checks), and at its next start migrates an older store and brings the kernel to what the
restored store says. It refuses, with nothing changed: a file that is not such a backup, names
outside its members, a store of a schema this Facade does not know (a backup from a newer one),
a backup of the other kind of store than the state folder's, and a database with tables the
backup does not have. The PostgreSQL store is the one of `--database`, else FACADE_DATABASE,
else the note Context.open leaves in the state folder (its password hidden: libpq then finds it
in PGPASSWORD or ~/.pgpass).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import re
import sqlite3
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import URL

from facade.store import pgdump
from facade.store.db import (
    ELSEWHERE,
    MIGRATIONS,
    StoreUnavailable,
    open_engine,
    record_store,
    shown,
)

FORMAT = 1
STORE = "facade.db"  # a SQLite store, in the backup and in the state folder
DUMP = "facade.dump"  # a PostgreSQL store, in the backup: pg_dump's custom format
KIND = {STORE: "sqlite", DUMP: "postgresql"}
TOKEN = "operator.token"
SECRET = re.compile(r"^agents/n\d+\.secret$")


class Refused(Exception):
    """What a backup or restore will not do, and why (exit 2, nothing changed)."""


def known_revisions() -> tuple[set[str], str]:
    """Every schema revision this Facade's migrations know, and the newest."""
    script = ScriptDirectory(str(MIGRATIONS))
    head = script.get_current_head()
    assert head is not None
    return {rev.revision for rev in script.walk_revisions()}, head


def _revision(db: Path) -> str:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.DatabaseError as exc:
            raise Refused(f"{db.name} is not a Facade store ({exc})") from None
    if row is None:
        raise Refused(f"{db.name} has no schema revision")
    return str(row[0])


def store_url(home: Path, database: str | None = None) -> str | None:
    """The PostgreSQL database that is the store of `home` (`--database`, else FACADE_DATABASE,
    else the note Context.open leaves in the folder, whose password is hidden), or None: the
    folder's SQLite file."""
    url = database or os.environ.get("FACADE_DATABASE", "")
    if url:
        return None if url.startswith("sqlite") else url
    marker = home / ELSEWHERE
    return marker.read_text().strip() if marker.is_file() else None


def create(home: Path, out: Path, database: str | None = None) -> str:
    url = store_url(home, database)
    with tempfile.TemporaryDirectory() as tmp:
        member = STORE if url is None else DUMP
        copy = Path(tmp) / member
        schema, what = _take(home, url, copy)
        manifest = {"format": FORMAT, "store": KIND[member], "schema": schema,
                    "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        secrets = sorted((home / "agents").glob("n*.secret"))
        token = (home / TOKEN).is_file()
        partial = out.with_name(out.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            data = json.dumps(manifest, indent=1).encode()
            info = tarfile.TarInfo("MANIFEST.json")
            info.size, info.mode = len(data), 0o600
            tar.addfile(info, io.BytesIO(data))
            tar.add(copy, member)
            if token:
                tar.add(home / TOKEN, TOKEN)
            for path in secrets:
                tar.add(path, f"agents/{path.name}")
        os.chmod(partial, 0o600)  # it holds the operator's token and the agents' secrets
        partial.replace(out)
    return (f"backed up {home} to {out}: {what} (schema {schema}), "
            f"{'the operator token, ' if token else ''}"
            f"{len(secrets)} management secret(s)")


def _take(home: Path, url: str | None, copy: Path) -> tuple[str, str]:
    """A consistent copy of the store into `copy`; its schema revision, and what it is."""
    if url is None:
        _copy_sqlite(home, copy)
        return _revision(copy), "the store"
    pgdump.dump(pgdump.parse(url), copy)
    schema = pgdump.revision(copy)
    if schema is None:
        raise Refused(f"the database {shown(url)} has no schema revision: it is not a "
                      "Facade store (or no control plane has started on it yet)")
    return schema, f"the database {shown(url)}"


def _copy_sqlite(home: Path, copy: Path) -> None:
    db = home / STORE
    if not db.is_file():
        raise Refused(f"no store in {home} ({STORE}): nothing to back up")
    src = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    dst = sqlite3.connect(copy)
    try:
        src.backup(dst)  # consistent, while the control plane writes
    finally:
        src.close()
        dst.close()


def restore(home: Path, src: Path, database: str | None = None) -> str:
    url = store_url(home, database)
    try:
        tar = tarfile.open(src, "r:gz")
    except (OSError, tarfile.TarError) as exc:
        raise Refused(f"{src} is not a Facade backup ({exc})") from None
    with tar, tempfile.TemporaryDirectory(dir=home if home.is_dir() else None) as tmp:
        members = {m.name: m for m in tar.getmembers()}
        manifest = _manifest(src, tar, members)
        member = STORE if manifest["store"] == "sqlite" else DUMP
        _same_kind(home, src, manifest["store"], url)
        staged = Path(tmp) / member
        staged.write_bytes(_read(tar, members[member]))
        if url is None:
            replaced = _restore_sqlite(home, src, staged, manifest["schema"])
        else:
            replaced = _restore_postgresql(home, src, staged, manifest["schema"], url)
        kept = [n for n in members if n == TOKEN or SECRET.fullmatch(n)]
        for name in kept:
            path = home / name
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(_read(tar, members[name]))
        if url is not None:
            record_store(home, url)
    return (f"restored {home} from {src} (schema {manifest['schema']}, taken "
            f"{manifest.get('created')}); {replaced}")


def _manifest(src: Path, tar: tarfile.TarFile,
              members: dict[str, tarfile.TarInfo]) -> dict[str, Any]:
    """The backup's manifest, once its members are what a backup holds and its schema one
    this Facade knows."""
    stores = [n for n in members if n in KIND]
    stray = [n for n in members if n not in ("MANIFEST.json", TOKEN, *KIND)
             and not SECRET.fullmatch(n)]
    if stray or "MANIFEST.json" not in members or len(stores) != 1 \
            or not all(m.isfile() for m in members.values()):
        raise Refused(f"{src} is not a Facade backup (members: "
                      f"{', '.join(sorted(members)[:6])})")
    manifest = json.loads(_read(tar, members["MANIFEST.json"]))
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else None
        raise Refused(f"{src}: backup format {got!r} is not {FORMAT}")
    manifest.setdefault("store", "sqlite")  # the backups made before PostgreSQL's
    if KIND.get(stores[0]) != manifest["store"]:
        raise Refused(f"{src}: its manifest names a {manifest['store']!r} store, and it holds "
                      f"{stores[0]}")
    known, head = known_revisions()
    if manifest.get("schema") not in known:
        raise Refused(f"{src} holds a store of schema {manifest.get('schema')!r}, newer "
                      f"than this Facade knows (up to {head}): restore it with the "
                      "Facade that made it, or a newer one")
    return manifest


def _same_kind(home: Path, src: Path, kind: str, url: str | None) -> None:
    """A backup goes back into the kind of store it was taken from."""
    if kind == "postgresql" and url is None:
        raise Refused(f"{src} is a backup of a PostgreSQL store, and the store of {home} is "
                      f"SQLite ({STORE}): name the database to restore it into (facade "
                      "restore --database URL, or FACADE_DATABASE)")
    if kind == "sqlite" and url is not None:
        raise Refused(f"{src} is a backup of a SQLite store, and the store of {home} is the "
                      f"database {shown(url)}: a SQLite backup is restored into a state folder "
                      "whose store is SQLite, not copied into PostgreSQL")


def _restore_sqlite(home: Path, src: Path, staged: Path, schema: str) -> str:
    if _revision(staged) != schema:
        raise Refused(f"{src}: its store does not have the schema its manifest names")
    home.mkdir(parents=True, exist_ok=True)
    current = home / STORE
    if current.exists():
        current.replace(home / f"{STORE}.before-restore")
    for suffix in ("-wal", "-shm"):  # the replaced store's journal must not replay
        (home / f"{STORE}{suffix}").unlink(missing_ok=True)
    staged.replace(current)
    return f"the store it replaced is {STORE}.before-restore"


def _restore_postgresql(home: Path, src: Path, staged: Path, schema: str, url: str) -> str:
    """pg_restore into the database, once the dump is checked and the database's own tables
    are all in it (one the backup does not have, made by a later migration, would stay and
    break the next start's migration); what the database held is dumped first, beside the
    state folder's secrets."""
    parsed = pgdump.parse(url)
    if pgdump.revision(staged) != schema:
        raise Refused(f"{src}: its store does not have the schema its manifest names")
    held = pgdump.tables(staged)
    extra = sorted(_tables(parsed) - held)
    if extra:
        raise Refused(f"the database {shown(url)} has tables the backup does not "
                      f"({', '.join(extra[:6])}): restore into an empty database, or drop them")
    home.mkdir(parents=True, exist_ok=True)
    before = home / f"{DUMP}.before-restore"
    partial = before.with_name(before.name + ".partial")
    pgdump.dump(parsed, partial)
    os.chmod(partial, 0o600)
    partial.replace(before)
    try:
        pgdump.restore(parsed, staged)
    except pgdump.ToolFailed as exc:
        raise pgdump.ToolFailed(f"{exc} (in one transaction: the database is as it was, and "
                                "the state folder's secrets too)") from None
    return f"what the database held is in {before.name}"


def _tables(url: URL) -> set[str]:
    """The tables (schema.name) of the database now."""
    try:
        engine = open_engine(url.render_as_string(hide_password=False))
    except StoreUnavailable as exc:
        raise Refused(str(exc)) from None
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN "
                "('pg_catalog', 'information_schema')")).all()
    finally:
        engine.dispose()
    return {f"{schema}.{name}" for schema, name in rows}


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    fh = tar.extractfile(member)
    if fh is None:
        raise Refused(f"backup member {member.name} cannot be read")
    return fh.read()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m facade.store.backup")
    parser.add_argument("action", choices=("create", "restore"))
    parser.add_argument("file", type=Path)
    parser.add_argument("--database", help="the store's PostgreSQL URL (default: "
                        "FACADE_DATABASE, else the state folder's database.url)")
    args = parser.parse_args(argv)
    home = Path(os.environ.get("FACADE_HOME", ".facade")).absolute()
    try:
        said = create(home, args.file, args.database) if args.action == "create" else \
            restore(home, args.file, args.database)
    except (Refused, pgdump.ToolFailed) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:
        print(f"error: {args.file}: {exc.strerror or exc}", file=sys.stderr)
        sys.exit(1)
    print(said)


if __name__ == "__main__":
    main()
