"""SQLite persistence: one writer thread, group commits, arrays as chunks of raw bytes.

Every accepted batch becomes a job of write actions (made by `State.apply`, encoded by `prepare`
before the batch is accepted). The writer takes all jobs waiting, runs them in one transaction,
commits (WAL, synchronous=FULL), and only then reports them done. If that transaction fails for
a reason other than the storage itself (disk, file), its jobs are committed again one by one, so
only the batch at fault fails; a storage failure fails every job from then on. Short appends to a
trace become small rows of points; when eight neighbouring rows of the same size class pile up at
a trace's tail they are merged, so a trace ends up in rows of about CHUNK points and the start-up
read stays fast.
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import numpy as np

from livepanel.protocol import decode_arrays, packb
from livepanel.server import malloc
from livepanel.server.store import record
from livepanel.server.store.model import TEXT_DROPPED, Env, State, Window
from livepanel.server.store.series import CHUNK, Series

log = logging.getLogger("livepanel.store")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS clients (client TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS envs (env TEXT PRIMARY KEY, seq INTEGER NOT NULL, live INTEGER NOT NULL, layout BLOB,
    mute BLOB, run BLOB, created REAL, updated REAL);
CREATE TABLE IF NOT EXISTS windows (env TEXT, win TEXT, kind TEXT NOT NULL, opts BLOB, content BLOB, seq INTEGER,
    PRIMARY KEY (env, win));
CREATE TABLE IF NOT EXISTS texts (env TEXT, win TEXT, part INTEGER, text TEXT, PRIMARY KEY (env, win, part));
CREATE TABLE IF NOT EXISTS traces (env TEXT, win TEXT, trace TEXT, ord INTEGER, ydtype TEXT, t0 REAL,
    PRIMARY KEY (env, win, trace));
CREATE TABLE IF NOT EXISTS points (env TEXT, win TEXT, trace TEXT, start INTEGER, n INTEGER,
    x BLOB, y BLOB, t BLOB);
CREATE UNIQUE INDEX IF NOT EXISTS points_key ON points (env, win, trace, start);
CREATE TABLE IF NOT EXISTS steps (env TEXT, win TEXT, step INTEGER, body BLOB, PRIMARY KEY (env, win, step));
CREATE TABLE IF NOT EXISTS alerts (id INTEGER PRIMARY KEY, env TEXT, win TEXT, body BLOB);
"""
# 1: the first; 2: text windows in parts (texts), not in windows.content; 3: windows.seq; 4: envs.mute;
# 5: envs.run (the run record: config, summary, status, color), envs.created and envs.updated
SCHEMA_VERSION = 5
WINDOW_TABLES = ("windows", "traces", "points", "steps", "texts", "alerts")

MERGE_FAN = 8
CHECKPOINT_EVERY = 1.0  # seconds
WAL_LIMIT = 64 << 20  # past this the writer truncates the WAL (a passive checkpoint cannot under steady writes)
INT64 = (-(2**63), 2**63 - 1)
# Result codes (the low byte of sqlite_errorcode) that say the storage failed, not the data written.
_STORAGE_CODES = {
    3,  # PERM
    5,  # BUSY
    6,  # LOCKED
    7,  # NOMEM
    8,  # READONLY
    10,  # IOERR
    11,  # CORRUPT
    13,  # FULL
    14,  # CANTOPEN
    15,  # PROTOCOL
    22,  # NOLFS
    26,  # NOTADB
}


def storage_failure(exc: BaseException) -> bool:
    """Whether an error is the storage's (disk, file, memory), as opposed to one batch's data."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is None:  # raised by the sqlite3 module itself (binding, closed connection)
            return isinstance(exc, sqlite3.OperationalError)
        return code & 0xFF in _STORAGE_CODES
    return isinstance(exc, (OSError, MemoryError)) or not isinstance(exc, Exception)


def _size_class(n: int) -> int:
    return n.bit_length() // 3


class Job:
    """One accepted batch: its prepared write actions, and the client sequence it commits.

    Once done: `error` is None (committed), or why not; `fatal` tells a storage failure (nothing
    more can be written) from a failure of this batch alone."""

    __slots__ = ("writes", "client", "seq", "done", "error", "fatal")

    def __init__(self, writes: list[tuple], client: str | None, seq: int | None, done: Callable[[Job], None]):
        self.writes, self.client, self.seq, self.done = writes, client, seq, done
        self.error: BaseException | None = None
        self.fatal = False


class Persistence:
    def __init__(self, path: Path):
        path.mkdir(parents=True, exist_ok=True)
        self.file = path / "livepanel.sqlite3"
        self.db = sqlite3.connect(self.file, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA page_size=65536")  # takes effect on a new file: fewer, larger pages for blobs
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        # Checkpoints run on their own thread, so a commit never waits for one (but see WAL_LIMIT).
        self.db.execute("PRAGMA wal_autocheckpoint=0")
        self.db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
        self.max_length = self.db.getlimit(sqlite3.SQLITE_LIMIT_LENGTH)  # bytes in one string or blob
        self.db.executescript(SCHEMA)
        row = self.db.execute("SELECT value FROM meta WHERE key='store_id'").fetchone()
        if row is None:
            self.store_id = secrets.token_hex(8)
            self.db.execute("INSERT INTO meta VALUES ('store_id', ?)", (self.store_id,))
            self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        else:
            self.store_id = row[0]
            self._migrate()
        self.failed: BaseException | None = None  # a storage failure: no job is written after it
        self._tails: dict[tuple[str, str, str], list[tuple[int, int]]] = defaultdict(list)
        self._touched: set[tuple[str, str, str]] = set()  # traces whose tail grew since the last compaction
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="livepanel-writer", daemon=True)
        self._checkpointer = threading.Thread(target=self._checkpoints, name="livepanel-checkpoint", daemon=True)
        self._stopping = threading.Event()
        self._dirty = threading.Event()

    # ------------------------------------------------------------ start-up

    def _migrate(self) -> None:
        """Bring a data directory written by an older livepanel to SCHEMA_VERSION, in one transaction."""
        db = self.db
        row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        version = int(row[0]) if row else 1
        if version >= SCHEMA_VERSION:
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            if version < 2:
                rows = db.execute("SELECT env, win, content FROM windows WHERE kind='text' AND content IS NOT NULL")
                for env, win, content in rows.fetchall():
                    text = (_unpack(content) or {}).get("text", "")
                    db.execute("INSERT OR REPLACE INTO texts VALUES (?,?,0,?)", (env, win, text))
                    db.execute("UPDATE windows SET content=NULL WHERE env=? AND win=?", (env, win))
            if version < 3 and "seq" not in [r[1] for r in db.execute("PRAGMA table_info(windows)")]:
                db.execute("ALTER TABLE windows ADD COLUMN seq INTEGER")  # unknown (NULL): the env's seq at load
            if version < 4 and "mute" not in [r[1] for r in db.execute("PRAGMA table_info(envs)")]:
                db.execute("ALTER TABLE envs ADD COLUMN mute BLOB")  # nothing muted (NULL)
            columns = [r[1] for r in db.execute("PRAGMA table_info(envs)")]
            for name, sql_type in (("run", "BLOB"), ("created", "REAL"), ("updated", "REAL")):
                if version < 5 and name not in columns:  # no record, times unknown (NULL)
                    db.execute(f"ALTER TABLE envs ADD COLUMN {name} {sql_type}")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        log.info("livepanel: data directory upgraded from schema %d to %d", version, SCHEMA_VERSION)

    def load(self, state: State, only: str | None = None) -> dict[str, int]:
        """Rebuild the live state from disk (`only`: just that env); return the last committed seq per client."""
        db = self.db
        where, args = (" WHERE env=?", (only,)) if only is not None else ("", ())
        query = "SELECT env, seq, live, layout, mute, run, created, updated FROM envs" + where
        for env, seq, live, layout, mute, run, created, updated in db.execute(query, args):
            state.seqs[env] = seq
            if live:
                e = Env(env, seq, {}, _unpack(layout) or {}, mute=_unpack(mute) or [], run=record.loaded(_unpack(run)))
                e.created, e.updated = created, updated
                state.envs[env] = e
        texts: dict[tuple[str, str], list[str]] = {}
        query = "SELECT env, win, kind, opts, content, seq FROM windows" + where
        for env, win, kind, opts, content, seq in db.execute(query, args):
            e = state.envs.get(env)
            if e is not None:
                w = Window(win, kind, _unpack(opts) or {}, e.seq if seq is None else seq)
                if kind == "text":
                    w.text_dropped = bool((_unpack(content) or {}).get("dropped"))
                    texts[(env, win)] = []
                else:
                    w.content = decode_arrays(_unpack(content)) if content else {}
                e.windows[win] = w
        for env, win, part, text in db.execute(
            f"SELECT env, win, part, text FROM texts{where} ORDER BY env, win, part", args
        ):
            pieces = texts.get((env, win))
            if pieces is not None:
                pieces.append(text)
                state.envs[env].windows[win].text_parts.append((part, len(text)))
        for (env, win), pieces in texts.items():
            w = state.envs[env].windows[win]
            w.content = {"text": (TEXT_DROPPED if w.text_dropped else "") + "".join(pieces)}
        for env, win, trace, ydtype, t0 in db.execute(
            f"SELECT env, win, trace, ydtype, t0 FROM traces{where} ORDER BY env, win, ord", args
        ):
            w = state.window(env, win)
            if w is not None:
                w.traces[trace] = Series(ydtype, t0 or 0.0)
        query = f"SELECT env, win, trace, start, n, x, y, t FROM points{where} ORDER BY env, win, trace, start"
        cursor = db.execute(query, args)
        for env, win, trace, start, n, x, y, t in cursor:
            w = state.window(env, win)
            series = w.traces.get(trace) if w else None
            if series is None or start != series.n:
                log.warning("skipping stray points of %s/%s/%s at %d", env, win, trace, start)
                continue
            series.append_stored(column(x, n, "<f8"), column(y, n, series.ydtype), column(t, n, "<f4"))
            if n < CHUNK:
                self._tails[(env, win, trace)].append((start, n))
            else:
                self._tails[(env, win, trace)].clear()
        for env, win, step, body in db.execute(
            f"SELECT env, win, step, body FROM steps{where} ORDER BY env, win, step", args
        ):
            w = state.window(env, win)
            if w is not None:
                w.steps[step] = decode_arrays(_unpack(body))
        for env, body in db.execute(f"SELECT env, body FROM alerts{where} ORDER BY id", args):
            if env in state.envs:
                state.envs[env].alerts.append({"dismissed": False} | _unpack(body))
        self._touched.update(self._tails)
        return dict(db.execute("SELECT client, seq FROM clients").fetchall())

    def start(self) -> None:
        self._thread.start()
        self._checkpointer.start()

    def _checkpoints(self) -> None:
        """Copy the WAL into the database about once a second while writes come in."""
        db = sqlite3.connect(self.file, isolation_level=None, check_same_thread=False)
        try:
            while not self._stopping.wait(CHECKPOINT_EVERY):
                if self._dirty.is_set():
                    self._dirty.clear()
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    malloc.release()
        finally:
            db.close()

    # ------------------------------------------------------------ writing

    def prepare(self, actions: list[tuple]) -> list[tuple]:
        """Encode write actions (from `State.apply`) as the writer binds them, on the caller's thread.

        Raises if a value cannot be stored (an integer beyond SQLite's, a string or blob past its
        length limit, a value msgpack cannot encode): the batch is refused before it is accepted,
        rather than failing in the writer. Points stay arrays (the writer merges and encodes them)."""
        out = []
        for action in actions:
            kind = action[0]
            if kind in ("opts", "trace", "content", "text", "step"):
                action = (*action[:4], self._fit(packb(action[4])), *action[5:])  # the window's opts
            if kind in ("layout", "mute", "run"):
                action = (kind, action[1], self._fit(packb(action[2])))
            elif kind == "content":
                action = (*action[:5], self._fit(packb(action[5])))
            elif kind == "text":
                flag = packb({"dropped": True}) if action[9] else None
                action = (*action[:7], self._fit(action[7]), self._fit(action[8]), flag)
            elif kind == "step":
                entry, dropped = action[5], action[6]
                steps = [self._fit(step) for step in dropped]
                action = (*action[:5], self._fit(entry["step"]), self._fit(packb(entry)), steps)
            elif kind == "alert":
                alert = action[2]
                action = (kind, action[1], self._fit(alert["id"]), alert["win"], self._fit(packb(alert)))
            elif kind == "dismiss":
                action = (kind, action[1], self._fit(action[2]), self._fit(packb(action[3])))
            elif kind == "points":
                if 8 * len(action[6]) > self.max_length:
                    raise ValueError(f"{len(action[6])} points in one append are more than SQLite can store")
            out.append(action)
        return out

    def _fit(self, value: Any) -> Any:
        """The value, if SQLite can bind it (else ValueError)."""
        if isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
            raise ValueError(f"{value} is beyond the 64-bit integers the store keeps")
        if isinstance(value, str) and 4 * len(value) > self.max_length:
            value_bytes = len(value.encode("utf-8", "surrogatepass"))
            if value_bytes > self.max_length:
                raise ValueError(f"a text of {value_bytes} bytes is longer than SQLite stores ({self.max_length})")
        if isinstance(value, bytes) and len(value) > self.max_length:
            raise ValueError(f"{len(value)} bytes are more than SQLite stores in one value ({self.max_length})")
        return value

    def submit(self, job: Job) -> None:
        self._queue.put(job)

    def close(self) -> None:
        """Finish every job already submitted, then stop and close the database."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._stopping.set()
        if self._checkpointer.is_alive():
            self._checkpointer.join()
        try:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self.db.close()

    def _run(self) -> None:
        stop = False
        while not stop:
            jobs = [self._queue.get()]
            while True:
                try:
                    jobs.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if jobs[-1] is None or None in jobs:
                stop = True
                jobs = [j for j in jobs if j is not None]
            if jobs:
                self._commit(jobs)
            del jobs  # do not hold the last batch's arrays while waiting for the next
            if self.failed is None:
                self._limit_wal()
            if self._queue.empty() and self.failed is None:
                try:
                    self._compact()
                except BaseException as exc:  # merging rows is only an optimisation, unless the disk failed
                    self._rollback()
                    if storage_failure(exc):
                        self.failed = exc
                    log.exception("merging rows of points failed")

    def _commit(self, jobs: list[Job]) -> None:
        """Commit the jobs in one transaction and report each done (with its error, if any).

        A failure that is not the storage's is narrowed down by committing the jobs again one by one,
        so that only the batch at fault fails and the others of its group are committed. PgPersistence
        commits through this too, with its own `_attempt`, `_is_storage_failure` and `_storage_lost`."""
        error: BaseException | None = self.failed
        if error is None:
            error = self._attempt(jobs)
            if error is not None and len(jobs) > 1 and self.failed is None and not self._is_storage_failure(error):
                log.warning("a commit of %d batches failed (%r); committing them one by one", len(jobs), error)
                for job in jobs:
                    self._commit([job])
                return
            if error is not None:
                if self.failed is None and self._is_storage_failure(error):
                    self.failed = error
                    self._storage_lost(error)
                elif self.failed is None:
                    log.error("a batch could not be written; it alone is refused", exc_info=error)
        if error is not None:
            for job in jobs:
                job.error, job.fatal = error, self.failed is not None
        for job in jobs:
            job.done(job)

    def _attempt(self, jobs: list[Job]) -> BaseException | None:
        """Write the jobs in one transaction: the error it failed with, or None once committed."""
        try:
            self._transaction(jobs)
        except BaseException as exc:  # report to every waiting request, never die silently
            return exc
        return None

    def _is_storage_failure(self, exc: BaseException) -> bool:
        return storage_failure(exc)

    def _storage_lost(self, error: BaseException) -> None:
        log.error("the store cannot write any more: %r", error, exc_info=error)

    def _transaction(self, jobs: list[Job]) -> None:
        writer = _GroupWriter(self.db, self._tails, self._touched)
        try:
            self.db.execute("BEGIN IMMEDIATE")
            writer.write_jobs(jobs)
            self.db.execute("COMMIT")
        except BaseException:
            writer.undo()
            self._rollback()
            raise
        self._dirty.set()

    def _rollback(self) -> None:
        """End a failed transaction; a database that cannot even roll back has failed."""
        try:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
        except BaseException as exc:
            log.exception("rollback failed")
            if self.failed is None:
                self.failed = exc

    def _limit_wal(self) -> None:
        """Under steady writes a passive checkpoint never gets the WAL to start over, so it grows without
        end: past WAL_LIMIT the writer checkpoints it whole and truncates it (it waits for this once)."""
        try:
            size = os.stat(f"{self.file}-wal").st_size
        except OSError:
            return
        if size > WAL_LIMIT:
            try:
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:  # the data is safe in the WAL; try again after the next commit
                log.warning("could not checkpoint the WAL (%s bytes): %s", size, exc)

    def _compact(self) -> None:
        self._touched = compact(self._tails, self._touched, self._merge_rows)

    def _merge_rows(self, key: tuple[str, str, str], starts: list[int]) -> int:
        db = self.db
        marks = ",".join("?" * len(starts))
        where = f"env=? AND win=? AND trace=? AND start IN ({marks})"
        db.execute("BEGIN IMMEDIATE")
        rows = db.execute(f"SELECT n, x, y, t FROM points WHERE {where} ORDER BY start", (*key, *starts)).fetchall()
        n = sum(r[0] for r in rows)
        ydtype = db.execute("SELECT ydtype FROM traces WHERE env=? AND win=? AND trace=?", key).fetchone()[0]
        blobs = [_blob([column(r[i], r[0], dtype) for r in rows]) for i, dtype in ((1, "<f8"), (2, ydtype), (3, "<f4"))]
        db.execute(f"DELETE FROM points WHERE {where}", (*key, *starts))
        db.execute("INSERT INTO points VALUES (?,?,?,?,?,?,?,?)", (*key, starts[0], n, *blobs))
        db.execute("COMMIT")
        return n


def compact(
    tails: dict[tuple[str, str, str], list[tuple[int, int]]],
    touched: set[tuple[str, str, str]],
    merge_rows: Callable[[tuple[str, str, str], list[int]], int],
) -> set[tuple[str, str, str]]:
    """Merge runs of MERGE_FAN small rows of the same size class at the tails that grew (`merge_rows` merges
    the rows starting at the given points into one and returns its length); returns the new, empty touched set.
    Shared by the SQLite and PostgreSQL persistences."""
    for key in touched:
        tail = tails.get(key)
        if tail is None:
            continue
        while len(tail) >= MERGE_FAN and len({_size_class(n) for _, n in tail[-MERGE_FAN:]}) == 1:
            group = tail[-MERGE_FAN:]
            del tail[-MERGE_FAN:]
            merged = merge_rows(key, [s for s, _ in group])
            if merged < CHUNK:
                tail.append((group[0][0], merged))
            else:  # a full row: the small rows before it are next to no row to come, and must not be merged
                tail.clear()  # with those (rows of 50,000 points once became one row of points out of order)
        if not tail:
            del tails[key]
    return set()


def _blob(arrays: list[np.ndarray]) -> memoryview | bytes:
    """A column's bytes: raw little-endian (no copy for a single array), or a short form.

    Evenly spaced values (steps, one time for a whole array) are stored as their first value
    and spacing, when that rebuilds every value bit for bit: the usual 1M-point x then costs
    16 bytes on disk instead of 8 MB. `column` reads both forms.
    """
    arr = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
    if len(arr) > 2:
        first, step = arr[0], arr[1] - arr[0]
        if np.array_equal(_spaced(first, step, len(arr), arr.dtype), arr):
            return np.array([first, step], dtype=arr.dtype).tobytes()
    return memoryview(np.ascontiguousarray(arr)).cast("B")


def _spaced(first: Any, step: Any, n: int, dtype: np.dtype) -> np.ndarray:
    return (first + np.arange(n, dtype=dtype) * step).astype(dtype, copy=False)


def column(blob: bytes, n: int, dtype: str | np.dtype) -> np.ndarray:
    """Rebuild n values of a stored column, raw or in the short (first, spacing) form."""
    dt = np.dtype(dtype)
    values = np.frombuffer(blob, dt)
    if len(values) == n:
        return values
    if len(values) != 2:
        raise ValueError(f"a stored column holds {len(values)} values for {n} points")
    return _spaced(values[0], values[1], n, dt)


class _GroupWriter:
    """Turns the prepared write actions of one group commit into SQL, merging appends to the same trace.

    The tails of traces it changes are noted first, so that `undo` puts them back if the transaction
    is rolled back."""

    def __init__(self, db: sqlite3.Connection, tails: dict, touched: set):
        self.db, self.tails, self.touched = db, tails, touched
        self.envs: dict[str, tuple] = {}  # env -> (seq, created, updated) of its last change
        self.wins: dict[tuple[str, str], int] = {}  # window -> env seq of its last change
        self.clients: dict[str, int] = {}
        self.pending: dict[tuple[str, str, str], list] = {}
        self.saved: dict[tuple[str, str, str], list | None] = {}

    def write(self, action: tuple) -> None:
        kind, env = action[0], action[1]
        db = self.db
        if kind == "env":
            self.envs[env] = (*action[2:5], None, None)[:3]  # seq, created, updated (times may be unknown)
            return
        if kind == "win":
            self.wins[(env, action[2])] = action[3]
            return
        if kind == "points":
            _, env, win, trace, start, t0, x, y, t = action
            key = (env, win, trace)
            run = self.pending.get(key)
            if run is not None and run[0] + run[1] == start:
                run[1] += len(x)
                run[3].append(x), run[4].append(y), run[5].append(t)
            else:
                self._flush(key)
                self.pending[key] = [start, len(x), t0, [x], [y], [t]]
            return
        self._flush_all()
        if kind == "layout":
            self._touch_env(env)
            db.execute("UPDATE envs SET layout=? WHERE env=?", (action[2], env))
        elif kind == "mute":
            self._touch_env(env)
            db.execute("UPDATE envs SET mute=? WHERE env=?", (action[2], env))
        elif kind == "run":
            self._touch_env(env)
            db.execute("UPDATE envs SET run=? WHERE env=?", (action[2], env))
        elif kind == "opts":
            self._window(env, action[2], action[3], action[4])
        elif kind == "trace":
            _, env, win, wkind, opts, trace, ydtype, order = action
            self._window(env, win, wkind, opts)
            db.execute("INSERT OR REPLACE INTO traces VALUES (?,?,?,?,?,NULL)", (env, win, trace, order, ydtype))
        elif kind == "remove_trace":
            _, env, win, trace = action
            db.execute("DELETE FROM points WHERE env=? AND win=? AND trace=?", (env, win, trace))
            db.execute("DELETE FROM traces WHERE env=? AND win=? AND trace=?", (env, win, trace))
            self._save((env, win, trace))
            self.tails.pop((env, win, trace), None)
        elif kind == "content":
            _, env, win, wkind, opts, content = action
            self._window(env, win, wkind, opts)
            db.execute("UPDATE windows SET content=? WHERE env=? AND win=?", (content, env, win))
        elif kind == "text":
            _, env, win, wkind, opts, clear, drop_below, part, text, flag = action
            self._window(env, win, wkind, opts)
            if clear:
                db.execute("DELETE FROM texts WHERE env=? AND win=?", (env, win))
            elif drop_below is not None:
                db.execute("DELETE FROM texts WHERE env=? AND win=? AND part<?", (env, win, drop_below))
            db.execute("INSERT OR REPLACE INTO texts VALUES (?,?,?,?)", (env, win, part, text))
            db.execute("UPDATE windows SET content=? WHERE env=? AND win=?", (flag, env, win))
        elif kind == "step":
            _, env, win, wkind, opts, step, body, dropped = action
            self._window(env, win, wkind, opts)
            db.execute("INSERT OR REPLACE INTO steps VALUES (?,?,?,?)", (env, win, step, body))
            db.executemany("DELETE FROM steps WHERE env=? AND win=? AND step=?", [(env, win, s) for s in dropped])
        elif kind == "alert":
            _, env, number, win, body = action
            db.execute("INSERT INTO alerts VALUES (?,?,?,?)", (number, env, win, body))
        elif kind == "dismiss":
            _, env, number, body = action
            db.execute("UPDATE alerts SET body=? WHERE id=? AND env=?", (body, number, env))
        elif kind == "close":
            win = action[2]
            for table in WINDOW_TABLES:
                db.execute(f"DELETE FROM {table} WHERE env=? AND win=?", (env, win))
            self.wins.pop((env, win), None)
            for key in [k for k in self.tails if k[:2] == (env, win)]:
                self._save(key)
                del self.tails[key]
        elif kind == "delete_env":
            for table in WINDOW_TABLES:
                db.execute(f"DELETE FROM {table} WHERE env=?", (env,))
            self._touch_env(env)
            db.execute("UPDATE envs SET live=0, layout=NULL, mute=NULL, run=NULL WHERE env=?", (env,))
            for key in [k for k in self.wins if k[0] == env]:
                del self.wins[key]
            for key in [k for k in self.tails if k[0] == env]:
                self._save(key)
                del self.tails[key]
        else:
            raise ValueError(f"unknown write action {kind!r}")

    def _save(self, key: tuple[str, str, str]) -> None:
        """Note a trace's tail before its first change in this transaction."""
        if key not in self.saved:
            tail = self.tails.get(key)
            self.saved[key] = None if tail is None else list(tail)

    def undo(self) -> None:
        """Put back the tails changed (the transaction is rolled back)."""
        for key, tail in self.saved.items():
            if tail is None:
                self.tails.pop(key, None)
            else:
                self.tails[key] = tail

    def _touch_env(self, env: str) -> None:
        change = self.envs.pop(env, None)
        if change is not None:  # a deleted env made again starts over: its created time is the new one
            self.db.execute(
                "INSERT INTO envs (env, seq, live, created, updated) VALUES (?,?,1,?,?)"
                " ON CONFLICT(env) DO UPDATE SET seq=excluded.seq, updated=excluded.updated,"
                " created=CASE WHEN live=0 THEN excluded.created ELSE created END, live=1",
                (env, *change),
            )

    def _window(self, env: str, win: str, kind: str, opts: bytes) -> None:
        self.db.execute(
            "INSERT INTO windows (env, win, kind, opts) VALUES (?,?,?,?)"
            " ON CONFLICT(env, win) DO UPDATE SET opts=excluded.opts",
            (env, win, kind, opts),
        )

    def _flush(self, key: tuple[str, str, str]) -> None:
        run = self.pending.pop(key, None)
        if run is None:
            return
        start, n, t0, xs, ys, ts = run
        blobs = [_blob(arrays) for arrays in (xs, ys, ts)]
        self.db.execute("INSERT INTO points VALUES (?,?,?,?,?,?,?,?)", (*key, start, n, *blobs))
        if start == 0:
            self.db.execute("UPDATE traces SET t0=? WHERE env=? AND win=? AND trace=?", (t0, *key))
        self._save(key)
        if n < CHUNK:
            self.tails[key].append((start, n))
            self.touched.add(key)
        else:
            self.tails.pop(key, None)

    def _flush_all(self) -> None:
        for key in list(self.pending):
            self._flush(key)

    def write_jobs(self, jobs: list[Job]) -> None:
        """Every write of the jobs and each job's client seq, then `finish` (one group commit, both backends)."""
        for job in jobs:
            for action in job.writes:
                self.write(action)
            if job.client is not None:
                self.clients[job.client] = job.seq
        self.finish()

    def finish(self) -> None:
        self._flush_all()
        for env in list(self.envs):
            self._touch_env(env)
        self.db.executemany(
            "UPDATE windows SET seq=? WHERE env=? AND win=?", [(seq, *key) for key, seq in self.wins.items()]
        )
        self.db.executemany(
            "INSERT INTO clients VALUES (?,?) ON CONFLICT(client) DO UPDATE SET seq=excluded.seq",
            list(self.clients.items()),
        )


def _unpack(blob: bytes | None) -> Any:
    return msgpack.unpackb(blob, raw=False) if blob else None
