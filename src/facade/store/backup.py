"""`facade backup FILE` and `facade restore FILE`: the state a control plane cannot make again,
in one file (`python -m facade.store.backup create|restore FILE`, which the `facade` command
runs, in FACADE_HOME).

A backup (a gzipped tar) holds MANIFEST.json (its format, the store's schema revision, when),
facade.db (a consistent copy, taken with SQLite's online backup while the control plane may run),
operator.token and the management networks' signing secrets (agents/nN.secret). Everything else
in the state folder (the kernel's records, the agents' configurations, the nodes' files) is
made again by the control plane from the store.

A restore replaces the store and those secrets, keeping the store it replaces as
facade.db.before-restore; the control plane must be stopped (the command checks), and at its
next start migrates an older store and brings the kernel to what the restored store says. It
refuses a file that is not such a backup, names outside its members, and a store of a schema this
Facade does not know (a backup from a newer one), with nothing changed. A state folder whose
store is a PostgreSQL database (FACADE_DATABASE, or the note Context.open leaves) is refused:
pg_dump and pg_restore back that up (docs/postgresql.md).
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

from alembic.script import ScriptDirectory

from facade.store.db import ELSEWHERE, MIGRATIONS, shown

FORMAT = 1
STORE = "facade.db"
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


def _sqlite_only(home: Path) -> None:
    """Refuse a state folder whose store is a PostgreSQL database: that is backed up with the
    database's own tools, which also copy it consistently while control planes write."""
    url = os.environ.get("FACADE_DATABASE", "")
    marker = home / ELSEWHERE
    if url and not url.startswith("sqlite"):
        where = shown(url)
    elif marker.is_file():
        where = marker.read_text().strip()
    else:
        return
    raise Refused(f"the store of {home} is the database {where}, not a SQLite file: facade "
                  "backup and restore cover SQLite only; use pg_dump and pg_restore for it, "
                  f"and keep {TOKEN} and agents/*.secret of {home} with that dump "
                  "(docs/postgresql.md)")


def create(home: Path, out: Path) -> str:
    _sqlite_only(home)
    db = home / STORE
    if not db.is_file():
        raise Refused(f"no store in {home} ({STORE}): nothing to back up")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / STORE
        src = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        dst = sqlite3.connect(copy)
        try:
            src.backup(dst)  # consistent, while the control plane writes
        finally:
            src.close()
            dst.close()
        schema = _revision(copy)
        manifest = {"format": FORMAT, "schema": schema,
                    "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        secrets = sorted((home / "agents").glob("n*.secret"))
        token = (home / TOKEN).is_file()
        partial = out.with_name(out.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            data = json.dumps(manifest, indent=1).encode()
            info = tarfile.TarInfo("MANIFEST.json")
            info.size, info.mode = len(data), 0o600
            tar.addfile(info, io.BytesIO(data))
            tar.add(copy, STORE)
            if token:
                tar.add(home / TOKEN, TOKEN)
            for path in secrets:
                tar.add(path, f"agents/{path.name}")
        os.chmod(partial, 0o600)  # it holds the operator's token and the agents' secrets
        partial.replace(out)
    return (f"backed up {home} to {out}: the store (schema {schema}), "
            f"{'the operator token, ' if token else ''}"
            f"{len(secrets)} management secret(s)")


def restore(home: Path, src: Path) -> str:
    _sqlite_only(home)
    try:
        tar = tarfile.open(src, "r:gz")
    except (OSError, tarfile.TarError) as exc:
        raise Refused(f"{src} is not a Facade backup ({exc})") from None
    with tar, tempfile.TemporaryDirectory(dir=home if home.is_dir() else None) as tmp:
        members = {m.name: m for m in tar.getmembers()}
        stray = [n for n in members if n not in ("MANIFEST.json", STORE, TOKEN)
                 and not SECRET.fullmatch(n)]
        if stray or "MANIFEST.json" not in members or STORE not in members \
                or not all(m.isfile() for m in members.values()):
            raise Refused(f"{src} is not a Facade backup (members: "
                          f"{', '.join(sorted(members)[:6])})")
        manifest = json.loads(_read(tar, members["MANIFEST.json"]))
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise Refused(f"{src}: backup format {manifest.get('format')!r} is not {FORMAT}")
        known, head = known_revisions()
        if manifest.get("schema") not in known:
            raise Refused(f"{src} holds a store of schema {manifest.get('schema')!r}, newer "
                          f"than this Facade knows (up to {head}): restore it with the "
                          "Facade that made it, or a newer one")
        staged = Path(tmp) / STORE
        staged.write_bytes(_read(tar, members[STORE]))
        if _revision(staged) != manifest["schema"]:
            raise Refused(f"{src}: its store does not have the schema its manifest names")
        home.mkdir(parents=True, exist_ok=True)
        current = home / STORE
        if current.exists():
            current.replace(home / f"{STORE}.before-restore")
        for suffix in ("-wal", "-shm"):  # the replaced store's journal must not replay
            (home / f"{STORE}{suffix}").unlink(missing_ok=True)
        staged.replace(current)
        kept = [n for n in members if n == TOKEN or SECRET.fullmatch(n)]
        for name in kept:
            path = home / name
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(_read(tar, members[name]))
    return (f"restored {home} from {src} (schema {manifest['schema']}, taken "
            f"{manifest.get('created')}); the store it replaced is {STORE}.before-restore")


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    fh = tar.extractfile(member)
    if fh is None:
        raise Refused(f"backup member {member.name} cannot be read")
    return fh.read()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m facade.store.backup")
    parser.add_argument("action", choices=("create", "restore"))
    parser.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    home = Path(os.environ.get("FACADE_HOME", ".facade")).absolute()
    try:
        said = create(home, args.file) if args.action == "create" else \
            restore(home, args.file)
    except Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:
        print(f"error: {args.file}: {exc.strerror or exc}", file=sys.stderr)
        sys.exit(1)
    print(said)


if __name__ == "__main__":
    main()
