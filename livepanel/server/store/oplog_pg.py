"""PostgreSQL as the sequencer of several nodes: one total order of changes per env, each client batch
applied once whichever node gets it, and a log of the changes that every node replays.

A batch is one transaction on one connection, in three steps around the event loop's own work:
`begin` takes the advisory locks of the batch's envs and client (sorted, so two transactions never wait
on each other in a circle), reads the client's last committed seq and the entries of those envs that
this node has not applied yet; the store applies those, then the batch, to its memory; `commit` writes
the batch's rows (the tables of the single-node store, through persist.py's group writer), its entries
in the log (an entry per env: the operations applied, with their arrival time, so that a replay gives
the same state and the same env seqs on every node), the envs' heads and the client's seq, and commits.
Holding the env's lock from the read of its head to the commit is what makes the order total.

The log keeps the last LOG_KEEP entries of each env; a node further behind reads that env back whole.
Driver: psycopg 3 (sync) on a small pool of connections, each used by one thread of an executor.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import queue
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import psycopg

from livepanel.server.store import persist
from livepanel.server.store.model import State
from livepanel.server.store.persist_pg import PgPersistence, _Db, connect, copy_rows, merge_rows, storage_failure
from livepanel.server.store.series import CHUNK

log = logging.getLogger("livepanel.store")
T = TypeVar("T")

LOG_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (env TEXT, lseq BIGINT, entry BYTEA NOT NULL, PRIMARY KEY (env, lseq));
CREATE TABLE IF NOT EXISTS heads (env TEXT PRIMARY KEY, lseq BIGINT NOT NULL);
CREATE SEQUENCE IF NOT EXISTS alert_ids;
"""
LOG_COLUMNS = {"env": "text", "lseq": "int8", "entry": "bytea"}
LOG_KEEP = 20_000  # entries kept per env
PRUNE_EVERY = 1_000  # an env's log is trimmed when its head passes a multiple of this
POOL = 8  # threads (and idle connections kept) per node: batches of different envs commit side by side
# Batches in their transaction at once, per node: with the reads' threads, a node holds at most POOL + TXNS
# connections; and fewer transactions than threads, so that those waiting for an env's lock in `begin`
# never take the threads that the transactions holding the locks need to commit.
TXNS = POOL // 2
SESSION_CHECK_EVERY = 2.0  # seconds between checks of the session that holds the shared lock


def lock_key(namespace: str, name: str) -> int:
    """A signed 64-bit advisory lock key for an env or a client of this store."""
    digest = hashlib.blake2b(f"{namespace}\0{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


class Txn:
    """One batch's open transaction, between `begin` and `commit` or `rollback`."""

    __slots__ = ("db", "heads", "behind", "client_seq", "alert_ids", "touched")

    def __init__(self, db: _Db):
        self.db = db
        self.heads: dict[str, int] = {}
        # env -> the entries after what this node applied, in order; None: some are trimmed (read the env back)
        self.behind: dict[str, list[tuple[int, bytes]] | None] = {}
        self.client_seq = 0
        self.alert_ids: list[int] = []
        self.touched: set[tuple[str, str, str]] = set()


class OpLog:
    """The store's persistence on PostgreSQL for a node among several."""

    def __init__(self, url: str):
        self.pg = PgPersistence(url, exclusive=False)  # the tables, the store id, reading and encoding
        self.url = url
        self.store_id = self.pg.store_id
        conn = self.pg.db.conn
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(self.store_id, "schema"),))
        conn.execute(LOG_SCHEMA)
        # alert ids are unique in the store: above those stored by a single server before
        conn.execute("SELECT setval('alert_ids', GREATEST((SELECT last_value FROM alert_ids),"
                     " (SELECT COALESCE(MAX(id), 1) FROM alerts)))")  # fmt: skip
        conn.commit()
        self._idle: queue.SimpleQueue[_Db] = queue.SimpleQueue()
        self._executor = ThreadPoolExecutor(POOL, thread_name_prefix="livepanel-pg")
        self.opened = 0  # connections opened for batches and reads (tests)
        self.transactions = asyncio.Semaphore(TXNS)  # held by the store from `begin` to `commit` or `rollback`

    # ------------------------------------------------------------ reading (start-up, catching up)

    def load(self, state: State) -> tuple[dict[str, int], dict[str, int]]:
        """Rebuild the whole state from one snapshot: (last seq per client, log head per env)."""
        conn = self.pg.db.conn
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        try:
            heads = dict(conn.execute("SELECT env, lseq FROM heads").fetchall())
            clients = persist.Persistence.load(self.pg, state)  # type: ignore[arg-type]
        finally:
            conn.rollback()
            conn.isolation_level = None
        return clients, heads

    async def load_env(self, state: State, env: str) -> int:
        """Read one env back into `state` (a fresh one): its head in the log."""

        def read(db: _Db) -> int:
            db.conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            try:
                row = db.conn.execute("SELECT lseq FROM heads WHERE env=%s", (env,)).fetchone()
                reader = _Reader(db)
                persist.Persistence.load(reader, state, only=env)  # type: ignore[arg-type]
                return row[0] if row else 0
            finally:
                db.conn.rollback()
                db.conn.isolation_level = None

        return await self._run(read)

    async def heads(self, envs: list[str] | None = None) -> dict[str, int]:
        """The log head of these envs (all: None), as committed now."""
        if envs is None:
            return await self._run(lambda db: dict(db.conn.execute("SELECT env, lseq FROM heads").fetchall()))
        return await self._run(
            lambda db: dict(db.conn.execute("SELECT env, lseq FROM heads WHERE env = ANY(%s)", (envs,)).fetchall())
        )

    async def client_seq(self, client: str) -> int:
        query = "SELECT seq FROM clients WHERE client=%s"
        row = await self._run(lambda db: db.conn.execute(query, (client,)).fetchone())
        return row[0] if row else 0

    async def entries(self, env: str, after: int, upto: int) -> list[tuple[int, bytes]] | None:
        """The env's entries after..upto, or None if the log no longer holds them all."""
        return await self._run(lambda db: _entries(db.conn, env, after, upto))

    # ------------------------------------------------------------ a batch's transaction

    async def begin(self, envs: list[str], client: str | None, applied: dict[str, int], alerts: int = 0) -> Txn:
        """Lock the envs and the client, and read what this node needs before applying the batch."""

        def begin(db: _Db) -> Txn:
            txn = Txn(db)
            self._begin(txn, envs, client, applied, alerts)  # on an error _run closes the connection
            return txn

        return await self._run(begin, keep=True)

    def _begin(self, txn: Txn, envs: list[str], client: str | None, applied: dict[str, int], alerts: int) -> None:
        conn = txn.db.conn
        keys = {lock_key(self.store_id, "env:" + env) for env in envs}
        if client is not None:
            keys.add(lock_key(self.store_id, "client:" + client))
        ordered = sorted(keys)  # a select list is evaluated left to right: the locks are taken in this order
        conn.execute("SELECT " + ", ".join(["pg_advisory_xact_lock(%s)"] * len(ordered)), ordered)
        # a statement of its own, after the locks: its snapshot holds what the last holders committed
        rows = conn.execute(
            "SELECT 0, client, seq FROM clients WHERE client=%s"
            " UNION ALL SELECT 1, env, lseq FROM heads WHERE env = ANY(%s)",
            (client, envs),
        ).fetchall()
        txn.client_seq = next((seq for which, _, seq in rows if which == 0), 0)
        txn.heads = {env: lseq for which, env, lseq in rows if which == 1}
        for env in envs:
            head, done = txn.heads.get(env, 0), applied.get(env, 0)
            if head > done:
                txn.behind[env] = _entries(conn, env, done, head)
        if alerts:
            rows = conn.execute("SELECT nextval('alert_ids') FROM generate_series(1, %s)", (alerts,)).fetchall()
            txn.alert_ids = [r[0] for r in rows]

    async def read_env(self, txn: Txn, state: State, env: str) -> int:
        """Read an env back inside the batch's transaction (it holds the env's lock): its head."""

        def read() -> int:
            persist.Persistence.load(_Reader(txn.db), state, only=env)  # type: ignore[arg-type]
            return txn.heads.get(env, 0)

        return await self._in(txn.db, read)

    async def commit(
        self, txn: Txn, writes: list[tuple], entries: dict[str, bytes], client: str | None, seq: int | None
    ) -> dict[str, int]:
        """Write the batch and its log entries, commit, and give the connection back: the envs' new heads.
        On an error the transaction is rolled back (or in doubt, if the connection went during COMMIT)."""

        def write() -> dict[str, int]:
            db = txn.db
            writer = persist._GroupWriter(db, defaultdict(list), txn.touched)  # type: ignore[arg-type]
            for action in writes:
                writer.write(action)
            if client is not None:
                writer.clients[client] = seq
            writer.finish()
            heads, rows = {}, []
            for env, entry in entries.items():
                heads[env] = txn.heads.get(env, 0) + 1
                rows.append((env, heads[env], entry))
            db.flush()
            if len(rows) == 1:  # the usual batch: one env, one statement
                db.conn.execute(
                    "WITH entry AS (INSERT INTO log VALUES (%s, %s, %s))"
                    " INSERT INTO heads VALUES (%s, %s) ON CONFLICT (env) DO UPDATE SET lseq=excluded.lseq",
                    (*rows[0], *rows[0][:2]),
                )
            elif rows:
                copy_rows(db.conn, "log", rows, LOG_COLUMNS)
                db.conn.execute(
                    "INSERT INTO heads SELECT * FROM unnest(%s::text[], %s::bigint[])"
                    " ON CONFLICT (env) DO UPDATE SET lseq=excluded.lseq",
                    (list(heads), list(heads.values())),
                )
            for env, head in heads.items():
                if head % PRUNE_EVERY == 0 and head > LOG_KEEP:
                    db.conn.execute("DELETE FROM log WHERE env=%s AND lseq <= %s", (env, head - LOG_KEEP))
            db.conn.commit()
            return heads

        try:
            heads = await self._in(txn.db, write)
        except BaseException:
            await self.rollback(txn)
            raise
        self._give_back(txn.db)
        return heads

    async def rollback(self, txn: Txn) -> None:
        def undo() -> None:
            txn.db.pending.clear()
            txn.db.conn.rollback()

        try:
            await self._in(txn.db, undo)
        except BaseException:
            txn.db.close()  # broken: not given back
            return
        self._give_back(txn.db)

    async def compact(self, keys: set[tuple[str, str, str]]) -> None:
        """Merge the small rows of points at these traces' tails (persist.compact's rule), reading the
        tails from the database, since other nodes append to the same traces: each under its env's lock."""

        def work(db: _Db) -> None:
            conn = db.conn
            for key in sorted(keys):
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(self.store_id, "env:" + key[0]),))
                rows = conn.execute(
                    "SELECT start, n FROM points WHERE env=%s AND win=%s AND trace=%s ORDER BY start DESC LIMIT %s",
                    (*key, 8 * persist.MERGE_FAN),
                ).fetchall()
                run: list[tuple[int, int]] = []
                for start, n in rows:  # newest first: the run of small rows that meet end to start
                    if n >= CHUNK or (run and start + n != run[0][0]):
                        break
                    run.insert(0, (start, n))
                tail: list[tuple[int, int]] = []
                for row in run:  # as if merged after each append, as a single node does
                    tail.append(row)
                    persist.compact({key: tail}, {key}, lambda k, starts: merge_rows(conn, k, starts))
                conn.commit()

        await self._run(work)

    # ------------------------------------------------------------ the pool

    async def _run(self, work: Callable[[_Db], T], keep: bool = False) -> T:
        """Run `work` on a pooled connection, on an executor thread (`keep`: the caller gives it back)."""

        def call() -> T:
            db = self._take()
            try:
                result = work(db)
                if not keep:
                    db.conn.rollback()  # a read leaves its transaction open: never idle in one
            except BaseException as exc:
                db.close()
                if storage_failure(exc):  # the database went away: the idle connections went with it
                    self._close_idle()
                raise
            if not keep:
                self._give_back(db)
            return result

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def _in(self, db: _Db, work: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, work)
        except BaseException as exc:
            if storage_failure(exc):
                db.pending.clear()
                self._close_idle()
            raise

    def _take(self) -> _Db:
        try:
            db = self._idle.get_nowait()
            if not db.conn.broken and not db.conn.closed:
                return db
            db.close()
        except queue.Empty:
            pass
        self.opened += 1
        return _Db(connect(self.url))

    def _give_back(self, db: _Db) -> None:
        if db.conn.broken or db.conn.closed or self._idle.qsize() >= POOL:
            db.close()
        else:
            self._idle.put(db)

    async def check_session(self) -> None:
        """The session holding the lock shared by the nodes (which keeps a single server off the database):
        after the database restarted, reconnect and take the lock again."""

        def check() -> None:
            try:
                self.pg.db.conn.execute("SELECT 1")
                self.pg.db.conn.rollback()
                return
            except Exception as exc:
                if not storage_failure(exc):
                    raise
            self.pg.db.close()
            self.pg.db = self.pg._open()  # RuntimeError if a single server took the database meanwhile
            log.warning("the session holding the nodes' shared lock on PostgreSQL is back")

        await asyncio.get_running_loop().run_in_executor(self._executor, check)

    def prepare(self, actions: list[tuple]) -> list[tuple]:
        return self.pg.prepare(actions)

    def _close_idle(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._close_idle()
        self.pg.db.close()


class _Reader:
    """What persist.Persistence.load needs of its owner, on another connection (reading one env back)."""

    def __init__(self, db: _Db):
        self.db = db
        self._tails: dict = defaultdict(list)
        self._touched: set = set()


def _entries(conn: psycopg.Connection, env: str, after: int, upto: int) -> list[tuple[int, bytes]] | None:
    rows = conn.execute(
        "SELECT lseq, entry FROM log WHERE env=%s AND lseq > %s AND lseq <= %s ORDER BY lseq", (env, after, upto)
    ).fetchall()
    if len(rows) != upto - after:
        return None
    return [(lseq, bytes(entry)) for lseq, entry in rows]
