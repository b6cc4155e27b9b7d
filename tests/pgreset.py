"""A test's PostgreSQL database made as the migrated template is again, so that the next test
can have it (tests/stores.py), instead of a copy of the template per store and its drop
(docs/postgresql.md, "Tests", has the figures).

`Pristine` is what the template holds besides its schema: the rows of the few tables that
have some (`alembic_version`, the local host of `hosts`), the state of every sequence (ids start where a fresh copy's
would), and a fingerprint of the schema (tables, columns with their types and defaults,
constraints, indexes, enum types, functions, triggers, schemas). `restore` refuses a database
whose fingerprint is no longer the template's (a test's own DDL, a restore of a dump into it):
that one is dropped, never handed on.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from tests import pg

FINGERPRINT = """
SELECT md5(concat_ws('|',
  (SELECT string_agg(c.relname || ':' || c.relkind::text, ',' ORDER BY c.relname)
     FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace),
  (SELECT string_agg(c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod)
                     || ':' || a.attnotnull::text || ':' || coalesce(pg_get_expr(d.adbin, d.adrelid), ''),
                     ',' ORDER BY c.relname, a.attnum)
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped),
  (SELECT string_agg(conname || ':' || pg_get_constraintdef(oid), ',' ORDER BY conname)
     FROM pg_constraint WHERE connamespace = 'public'::regnamespace),
  (SELECT string_agg(indexname || ':' || indexdef, ',' ORDER BY indexname)
     FROM pg_indexes WHERE schemaname = 'public'),
  (SELECT string_agg(t.typname || ':' || e.enumlabel, ',' ORDER BY t.typname, e.enumsortorder)
     FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
     WHERE t.typnamespace = 'public'::regnamespace),
  (SELECT string_agg(p.proname, ',' ORDER BY p.proname)
     FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace),
  (SELECT string_agg(t.tgname, ',' ORDER BY t.tgname)
     FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal),
  (SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace)))
"""


def _connect(server: pg.Server, database: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(host=str(server.folder), user="postgres", dbname=database)


@dataclass(frozen=True)
class Pristine:
    fingerprint: str
    tables: tuple[str, ...]
    rows: dict[str, bytes]  # COPY text of the tables that have rows
    sequences: dict[str, tuple[int, int | None]]  # name: (start, last value or None if unused)

    @classmethod
    def of(cls, server: pg.Server, database: str) -> Pristine:
        """What the database `database` (the template) is, read once."""
        with _connect(server, database) as conn:
            fingerprint = conn.execute(FINGERPRINT).fetchone()
            tables = tuple(r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "ORDER BY tablename"))
            rows = {}
            for table in tables:
                with conn.cursor().copy(sql.SQL("COPY {} TO STDOUT").format(
                        sql.Identifier(table))) as copy:
                    data = b"".join(bytes(block) for block in copy)
                if data:
                    rows[table] = data
            sequences = {str(name): (int(start), None if last is None else int(last))
                         for name, start, last in conn.execute(
                             "SELECT sequencename, start_value, last_value FROM pg_sequences "
                             "WHERE schemaname = 'public'")}
        assert fingerprint is not None
        return cls(str(fingerprint[0]), tables, rows, sequences)

    def restore(self, server: pg.Server, database: str) -> bool:
        """Make `database` (a copy of the template nothing is connected to) hold what the
        template holds, in one transaction; False, with nothing changed, when its schema is no
        longer the template's."""
        with _connect(server, database) as conn:
            found = conn.execute(FINGERPRINT).fetchone()
            if found is None or found[0] != self.fingerprint:
                conn.rollback()
                return False
            # foreign keys are triggers, which replication mode skips: any order deletes
            conn.execute("SET LOCAL session_replication_role = replica")
            conn.execute(sql.SQL("; ").join(sql.SQL("DELETE FROM {}").format(
                sql.Identifier(table)) for table in self.tables))
            for table, data in self.rows.items():
                with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(
                        sql.Identifier(table))) as copy:
                    copy.write(data)
            self._reset_sequences(conn)
        return True

    def _reset_sequences(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        if not self.sequences:
            return
        calls = [sql.SQL("setval({}, {}, {})").format(
                    sql.Literal(sql.Identifier(name).as_string(conn)),
                    sql.Literal(start if last is None else last), sql.Literal(last is not None))
                 for name, (start, last) in self.sequences.items()]
        conn.execute(sql.SQL("SELECT ") + sql.SQL(", ").join(calls))
