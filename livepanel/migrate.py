"""`livepanel migrate --from DATA_DIR --to postgresql://...`: copy a single-node SQLite store into PostgreSQL.

The copy is table by table from one read snapshot of the SQLite file (a server may still be running
on it), with binary COPY, in one PostgreSQL transaction: a failed or interrupted copy leaves the
target as it was. At the end the counts (envs, windows, traces and the points of each, steps, texts,
alerts, client seqs) are compared on both sides.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from livepanel.server.store.backend import is_postgres, redact

TABLES = ("meta", "clients", "envs", "windows", "texts", "traces", "points", "steps", "alerts")
# What is compared after the copy: (label, query), the same SQL on both sides (rows compared sorted).
CHECKS = (
    ("envs", "SELECT count(*) FROM envs"),
    ("live envs", "SELECT count(*) FROM envs WHERE live<>0"),
    ("windows", "SELECT count(*) FROM windows"),
    ("traces", "SELECT count(*) FROM traces"),
    ("points", "SELECT coalesce(sum(n), 0) FROM points"),
    ("points per trace", "SELECT env, win, trace, sum(n) FROM points GROUP BY env, win, trace"),
    ("steps", "SELECT count(*) FROM steps"),
    ("text parts", "SELECT count(*) FROM texts"),
    ("alerts", "SELECT count(*) FROM alerts"),
    ("client seqs", "SELECT client, seq FROM clients"),
)


class MigrateError(Exception):
    """What was wrong, said plainly (the command prints it and exits with 1)."""


def main(source: str, target: str, overwrite: bool = False) -> int:
    try:
        counts = migrate(Path(source).expanduser(), target, overwrite)
    except MigrateError as exc:
        print(f"livepanel migrate: {exc}", file=sys.stderr)
        return 1
    print(
        f"livepanel migrate: copied {counts['envs']} envs, {counts['windows']} windows, {counts['traces']} traces "
        f"with {counts['points']} points, {counts['steps']} steps, {counts['text parts']} text parts and "
        f"{counts['alerts']} alerts to {redact(target)}; all counts match"
    )
    return 0


def migrate(source: Path, target: str, overwrite: bool = False, progress: Any = None) -> dict[str, Any]:
    """Copy the store in `source` into the database at `target`; return the checked counts."""
    if not is_postgres(target):
        raise MigrateError(f"--to must be a postgresql://user@host:port/db URL, not {target[:100]!r}")
    file = source / "livepanel.sqlite3"
    if not source.is_dir():
        raise MigrateError(f"--from {source}: no such directory")
    if not file.is_file():
        raise MigrateError(f"--from {source}: no livepanel store there (no livepanel.sqlite3)")
    try:
        from livepanel.server.store import persist_pg
    except ImportError as exc:
        raise MigrateError(str(exc)) from None
    from livepanel.server.store.persist import SCHEMA_VERSION, Persistence

    try:
        src = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
        version = src.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    except sqlite3.Error as exc:
        raise MigrateError(f"--from {source}: cannot read the store: {exc}") from None
    if version is not None and int(version[0]) > SCHEMA_VERSION:
        src.close()
        raise MigrateError(f"--from {source}: a newer livepanel wrote this store (schema {version[0]}): upgrade first")
    if version is None or int(version[0]) < SCHEMA_VERSION:
        src.close()  # an older livepanel wrote it: upgrade it in place first, as `livepanel serve` would
        Persistence(source).close()
        src = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
    try:
        try:
            conn = persist_pg.connect(target)
        except (ValueError, ConnectionError) as exc:
            raise MigrateError(str(exc)) from None
        with conn:
            conn.execute(persist_pg.SCHEMA)
            if not conn.execute("SELECT pg_try_advisory_lock(%s)", (persist_pg.LOCK_KEY,)).fetchone()[0]:
                raise MigrateError(f"a livepanel server is using {redact(target)}: stop it first")
            held = sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES)
            if held and not overwrite:
                raise MigrateError(
                    f"{redact(target)} already holds a livepanel store ({held} rows); give --overwrite to replace it"
                )
            if held:
                conn.execute("TRUNCATE " + ", ".join(TABLES))
            src.execute("BEGIN")  # one read snapshot, even with a server writing to it
            totals = {t: src.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
            bar = progress or Progress(sum(totals.values()))
            for table in TABLES:
                columns = ", ".join(persist_pg.COLUMNS[table])
                rows = src.execute(f"SELECT {columns} FROM {table} ORDER BY rowid")  # envs, windows: in order
                persist_pg.copy_rows(conn, table, _counted(rows, bar, table))
            expected = {label: sorted(src.execute(sql).fetchall()) for label, sql in CHECKS}
            src.execute("COMMIT")
            # sorted here: the two engines order text by different collations
            got = {label: sorted(tuple(r) for r in conn.execute(sql).fetchall()) for label, sql in CHECKS}
            for label, _ in CHECKS:
                if got[label] != expected[label]:
                    raise MigrateError(f"after the copy the {label} differ: nothing was kept in {redact(target)}")
            conn.commit()
            bar.done()
    except sqlite3.Error as exc:
        raise MigrateError(f"--from {source}: cannot read the store: {exc}") from None
    except persist_pg.psycopg.Error as exc:
        raise MigrateError(f"PostgreSQL at {redact(target)} failed during the copy: {exc}") from None
    finally:
        src.close()
    return {label: rows[0][0] if len(rows) == 1 and len(rows[0]) == 1 else rows for label, rows in got.items()}


def _counted(rows: Any, bar: Progress, table: str) -> Any:
    for row in rows:
        yield row
        bar.step(table)


class Progress:
    """One line on stderr, redrawn at most ten times a second: `[#####.....]  52%  points 1200/2300 rows`."""

    def __init__(self, total: int, stream: Any = None):
        self.total, self.count, self.stream = max(total, 1), 0, stream or sys.stderr
        self._drawn = 0.0

    def step(self, table: str) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self._drawn >= 0.1:
            self._drawn = now
            self._draw(table)

    def _draw(self, what: str) -> None:
        share = min(self.count / self.total, 1.0)
        filled = int(share * 30)
        line = f"\r[{'#' * filled}{'.' * (30 - filled)}] {share:4.0%}  {what} {self.count}/{self.total} rows"
        self.stream.write(line.ljust(72))
        self.stream.flush()

    def done(self) -> None:
        self._draw("copied")
        self.stream.write("\n")
        self.stream.flush()
