"""PostgreSQL's own programs for `facade backup` and `facade restore` (store/backup.py): a store's
URL made into what pg_dump and pg_restore take, the dump of a database, what a dump holds (its
tables, its schema revision), and its restore into a database in one transaction.

The password never goes on a command line (other users' `ps` would show it) nor into a message:
it is given to the programs in their environment (PGPASSWORD). A URL whose password is hidden
(`***`, as the state folder's database.url keeps it) has none: libpq then finds it as it always
does (PGPASSWORD, ~/.pgpass).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from pathlib import Path

from sqlalchemy import exc
from sqlalchemy.engine import URL, make_url

from facade.store.db import driver_url, shown

# Debian keeps the programs of each PostgreSQL version here (the newest can read every older
# server); PATH is looked at when there is none
PROGRAM_DIRS = "/usr/lib/postgresql/*/bin"
HIDDEN = "***"
TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (?!DATA )(\S+) (\S+) ", re.M)
COPY_VERSION = re.compile(r"^COPY \S*alembic_version \(version_num\) FROM stdin;\n(.*?)\n\\\.$",
                          re.M | re.S)


class ToolFailed(Exception):
    """A PostgreSQL program is missing or failed: the message names it and says why."""


def program(name: str) -> str:
    """The newest installed `name` (pg_dump, pg_restore)."""
    found = sorted(glob.glob(f"{PROGRAM_DIRS}/{name}"), key=_version)
    path = found[-1] if found else shutil.which(name)
    if path is None:
        raise ToolFailed(f"no {name} on this host: install PostgreSQL's client programs "
                         "(Debian's postgresql-client or postgresql package)")
    return path


def _version(path: str) -> tuple[int, str]:
    part = Path(path).parts[-3]
    return (int(part) if part.isdigit() else 0, part)


def parse(url: str) -> URL:
    """The URL, or ToolFailed naming it (password hidden) when it is not one."""
    try:
        parsed = make_url(driver_url(url))
    except (exc.ArgumentError, ValueError) as err:
        raise ToolFailed(f"{shown(url)} is not a database URL: {err}") from None
    if parsed.get_backend_name() != "postgresql" or not parsed.database:
        raise ToolFailed(f"{shown(url)} is not a PostgreSQL database URL "
                         "(postgresql://USER:PASSWORD@HOST:PORT/DATABASE)")
    return parsed.set(password=None) if parsed.password == HIDDEN else parsed


def conninfo(url: URL) -> str:
    """libpq's `key='value' ...` for the URL, without its password (see env)."""
    pairs: dict[str, str] = {"dbname": str(url.database)}
    if url.host:
        pairs["host"] = url.host
    if url.port:
        pairs["port"] = str(url.port)
    if url.username:
        pairs["user"] = url.username
    for key, value in url.query.items():  # host=/run/postgresql (a socket), sslmode=...
        pairs[key] = value if isinstance(value, str) else ",".join(value)
    return " ".join(f"{key}='{_quoted(value)}'" for key, value in pairs.items())


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def env(url: URL) -> dict[str, str]:
    """The programs' environment: ours, and the URL's password when it has a real one."""
    out = dict(os.environ)
    if url.password is not None:
        out["PGPASSWORD"] = str(url.password)
    return out


def run(name: str, args: list[str], url: URL | None = None) -> str:
    """Run a PostgreSQL program; its output, or ToolFailed with the first lines it said."""
    argv = [program(name), *args]
    done = subprocess.run(argv, capture_output=True, text=True,
                          env=env(url) if url is not None else None, check=False)
    if done.returncode != 0:
        said = [line for line in done.stderr.strip().splitlines() if line.strip()][:3]
        raise ToolFailed(f"{name} failed (exit {done.returncode}): "
                         f"{' / '.join(said) or 'no message'}")
    return done.stdout


def dump(url: URL, out: Path) -> None:
    """The whole database in pg_dump's custom format (a consistent snapshot, while control
    planes write)."""
    run("pg_dump", ["--format=custom", f"--file={out}", f"--dbname={conninfo(url)}"], url)


def tables(archive: Path) -> set[str]:
    """The tables (schema.name) a custom-format dump holds; ToolFailed if it is not one."""
    return {f"{schema}.{name}" for schema, name in
            TABLE.findall(run("pg_restore", ["--list", str(archive)]))}


def revision(archive: Path) -> str | None:
    """The schema revision a dump's store is at (its alembic_version row), if it has one."""
    script = run("pg_restore", ["--data-only", "--table=alembic_version", "--file=-",
                                str(archive)])
    found = COPY_VERSION.search(script)
    rows = found.group(1).split("\n") if found else []
    return rows[0].strip() if len(rows) == 1 and rows[0].strip() else None


def restore(url: URL, archive: Path) -> None:
    """Replace what the dump holds in the database, as one transaction: a failure half-way
    leaves the database as it was."""
    run("pg_restore", ["--clean", "--if-exists", "--no-owner", "--single-transaction",
                       f"--dbname={conninfo(url)}", str(archive)], url)
