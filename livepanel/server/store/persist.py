"""SQLite persistence: one writer thread, group commits, arrays as chunks of raw bytes.

Every accepted batch becomes a job of write actions (made by `State.apply`). The writer
takes all jobs waiting, runs them in one transaction, commits (WAL, synchronous=FULL), and
only then reports them done. Short appends to a trace become small rows of points; when
eight neighbouring rows of the same size class pile up at a trace's tail they are merged,
so a trace ends up in rows of about CHUNK points and the start-up read stays fast.
"""

from __future__ import annotations

import logging
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
from livepanel.server.store.model import Env, State, Window
from livepanel.server.store.series import CHUNK, Series

log = logging.getLogger("livepanel.store")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS clients (client TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS envs (env TEXT PRIMARY KEY, seq INTEGER NOT NULL, live INTEGER NOT NULL, layout BLOB);
CREATE TABLE IF NOT EXISTS windows (env TEXT, win TEXT, kind TEXT NOT NULL, opts BLOB, content BLOB,
    PRIMARY KEY (env, win));
CREATE TABLE IF NOT EXISTS traces (env TEXT, win TEXT, trace TEXT, ord INTEGER, ydtype TEXT, t0 REAL,
    PRIMARY KEY (env, win, trace));
CREATE TABLE IF NOT EXISTS points (env TEXT, win TEXT, trace TEXT, start INTEGER, n INTEGER,
    x BLOB, y BLOB, t BLOB);
CREATE UNIQUE INDEX IF NOT EXISTS points_key ON points (env, win, trace, start);
CREATE TABLE IF NOT EXISTS steps (env TEXT, win TEXT, step INTEGER, body BLOB, PRIMARY KEY (env, win, step));
CREATE TABLE IF NOT EXISTS alerts (id INTEGER PRIMARY KEY, env TEXT, win TEXT, body BLOB);
"""

MERGE_FAN = 8
CHECKPOINT_EVERY = 1.0  # seconds


def _size_class(n: int) -> int:
    return n.bit_length() // 3


class Job:
    """One accepted batch: its write actions, and the client sequence it commits."""

    __slots__ = ("writes", "client", "seq", "done", "error")

    def __init__(self, writes: list[tuple], client: str | None, seq: int | None, done: Callable[[Job], None]):
        self.writes, self.client, self.seq, self.done = writes, client, seq, done
        self.error: BaseException | None = None


class Persistence:
    def __init__(self, path: Path):
        path.mkdir(parents=True, exist_ok=True)
        self.file = path / "livepanel.sqlite3"
        self.db = sqlite3.connect(self.file, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA page_size=65536")  # takes effect on a new file: fewer, larger pages for blobs
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        # Checkpoints run on their own thread, so a commit never waits for one.
        self.db.execute("PRAGMA wal_autocheckpoint=0")
        self.db.executescript(SCHEMA)
        row = self.db.execute("SELECT value FROM meta WHERE key='store_id'").fetchone()
        if row is None:
            self.store_id = secrets.token_hex(8)
            self.db.execute("INSERT INTO meta VALUES ('store_id', ?)", (self.store_id,))
        else:
            self.store_id = row[0]
        self._tails: dict[tuple[str, str, str], list[tuple[int, int]]] = defaultdict(list)
        self._touched: set[tuple[str, str, str]] = set()  # traces whose tail grew since the last compaction
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="livepanel-writer", daemon=True)
        self._checkpointer = threading.Thread(target=self._checkpoints, name="livepanel-checkpoint", daemon=True)
        self._stopping = threading.Event()
        self._dirty = threading.Event()

    # ------------------------------------------------------------ start-up

    def load(self, state: State) -> dict[str, int]:
        """Rebuild the live state from disk; return the last committed seq per client."""
        db = self.db
        for env, seq, live, layout in db.execute("SELECT env, seq, live, layout FROM envs"):
            state.seqs[env] = seq
            if live:
                state.envs[env] = Env(env, seq, {}, _unpack(layout) or {})
        for env, win, kind, opts, content in db.execute("SELECT env, win, kind, opts, content FROM windows"):
            e = state.envs.get(env)
            if e is not None:
                w = Window(win, kind, _unpack(opts) or {}, e.seq)
                w.content = decode_arrays(_unpack(content)) if content else {}
                e.windows[win] = w
        for env, win, trace, ydtype, t0 in db.execute(
            "SELECT env, win, trace, ydtype, t0 FROM traces ORDER BY env, win, ord"
        ):
            w = state.window(env, win)
            if w is not None:
                w.traces[trace] = Series(ydtype, t0 or 0.0)
        cursor = db.execute("SELECT env, win, trace, start, n, x, y, t FROM points ORDER BY env, win, trace, start")
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
        for env, win, step, body in db.execute("SELECT env, win, step, body FROM steps ORDER BY env, win, step"):
            w = state.window(env, win)
            if w is not None:
                w.steps[step] = decode_arrays(_unpack(body))
        for env, body in db.execute("SELECT env, body FROM alerts ORDER BY id"):
            if env in state.envs:
                state.envs[env].alerts.append(_unpack(body))
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
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
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
            if self._queue.empty():
                self._compact()

    def _commit(self, jobs: list[Job]) -> None:
        try:
            self.db.execute("BEGIN IMMEDIATE")
            writer = _GroupWriter(self.db, self._tails, self._touched)
            for job in jobs:
                for action in job.writes:
                    writer.write(action)
                if job.client is not None:
                    writer.clients[job.client] = job.seq
            writer.finish()
            self.db.execute("COMMIT")
            self._dirty.set()
        except BaseException as exc:  # report to every waiting request, never die silently
            log.exception("commit failed")
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            for job in jobs:
                job.error = exc
        for job in jobs:
            job.done(job)

    def _compact(self) -> None:
        """Merge runs of MERGE_FAN small rows of the same size class at the tails that grew."""
        touched, self._touched = self._touched, set()
        for key in touched:
            tail = self._tails.get(key)
            if tail is None:
                continue
            while len(tail) >= MERGE_FAN and len({_size_class(n) for _, n in tail[-MERGE_FAN:]}) == 1:
                group = tail[-MERGE_FAN:]
                del tail[-MERGE_FAN:]
                merged = self._merge_rows(key, [s for s, _ in group])
                if merged < CHUNK:
                    tail.append((group[0][0], merged))
            if not tail:
                del self._tails[key]

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
    """Turns the write actions of one group commit into SQL, merging appends to the same trace."""

    def __init__(self, db: sqlite3.Connection, tails: dict, touched: set):
        self.db, self.tails, self.touched = db, tails, touched
        self.envs: dict[str, int] = {}
        self.clients: dict[str, int] = {}
        self.pending: dict[tuple[str, str, str], list] = {}

    def write(self, action: tuple) -> None:
        kind, env = action[0], action[1]
        db = self.db
        if kind == "env":
            self.envs[env] = action[2]
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
            db.execute("UPDATE envs SET layout=? WHERE env=?", (packb(action[2]), env))
        elif kind == "opts":
            self._window(env, action[2], action[3], action[4])
        elif kind == "trace":
            _, env, win, wkind, opts, trace, ydtype, order = action
            self._window(env, win, wkind, opts)
            db.execute(
                "INSERT OR REPLACE INTO traces VALUES (?,?,?,?,?,NULL)", (env, win, trace, order.index(trace), ydtype)
            )
        elif kind == "remove_trace":
            _, env, win, trace = action
            db.execute("DELETE FROM points WHERE env=? AND win=? AND trace=?", (env, win, trace))
            db.execute("DELETE FROM traces WHERE env=? AND win=? AND trace=?", (env, win, trace))
            self.tails.pop((env, win, trace), None)
        elif kind == "content":
            _, env, win, wkind, opts, content = action
            self._window(env, win, wkind, opts)
            db.execute("UPDATE windows SET content=? WHERE env=? AND win=?", (packb(content), env, win))
        elif kind == "step":
            _, env, win, wkind, opts, entry, dropped = action
            self._window(env, win, wkind, opts)
            db.execute("INSERT OR REPLACE INTO steps VALUES (?,?,?,?)", (env, win, entry["step"], packb(entry)))
            db.executemany("DELETE FROM steps WHERE env=? AND win=? AND step=?", [(env, win, s) for s in dropped])
        elif kind == "alert":
            alert = action[2]
            db.execute("INSERT INTO alerts VALUES (?,?,?,?)", (alert["id"], env, alert["win"], packb(alert)))
        elif kind == "close":
            win = action[2]
            for table in ("windows", "traces", "points", "steps", "alerts"):
                db.execute(f"DELETE FROM {table} WHERE env=? AND win=?", (env, win))
            for key in [k for k in self.tails if k[:2] == (env, win)]:
                del self.tails[key]
        elif kind == "delete_env":
            for table in ("windows", "traces", "points", "steps", "alerts"):
                db.execute(f"DELETE FROM {table} WHERE env=?", (env,))
            self._touch_env(env)
            db.execute("UPDATE envs SET live=0, layout=NULL WHERE env=?", (env,))
            for key in [k for k in self.tails if k[0] == env]:
                del self.tails[key]
        else:
            raise ValueError(f"unknown write action {kind!r}")

    def _touch_env(self, env: str) -> None:
        seq = self.envs.pop(env, None)
        if seq is not None:
            self.db.execute(
                "INSERT INTO envs VALUES (?,?,1,NULL) ON CONFLICT(env) DO UPDATE SET seq=excluded.seq, live=1",
                (env, seq),
            )

    def _window(self, env: str, win: str, kind: str, opts: dict) -> None:
        self.db.execute(
            "INSERT INTO windows VALUES (?,?,?,?,NULL) ON CONFLICT(env, win) DO UPDATE SET opts=excluded.opts",
            (env, win, kind, packb(opts)),
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
        if n < CHUNK:
            self.tails[key].append((start, n))
            self.touched.add(key)
        else:
            self.tails.pop(key, None)

    def _flush_all(self) -> None:
        for key in list(self.pending):
            self._flush(key)

    def finish(self) -> None:
        self._flush_all()
        for env in list(self.envs):
            self._touch_env(env)
        self.db.executemany(
            "INSERT INTO clients VALUES (?,?) ON CONFLICT(client) DO UPDATE SET seq=excluded.seq",
            list(self.clients.items()),
        )


def _unpack(blob: bytes | None) -> Any:
    return msgpack.unpackb(blob, raw=False) if blob else None
