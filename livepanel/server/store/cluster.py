"""A store that is one node among several on one PostgreSQL database (`--store postgresql://... --hub redis://...`).

Every node holds the state in memory, as a single server does, and PostgreSQL decides the order: a batch
is applied to this node's memory inside a transaction that holds its envs' locks, after the entries other
nodes committed for those envs (oplog_pg.py), and its own entries join the log in the same commit. Each
node thus applies the same operations in the same order with the same times, and every env's seqs are
the same on every node: a viewer can resume on any of them. A batch whose commit fails is taken back from
memory; if that commit went through after all, its entry is read back from the log like another node's.

Committed entries go to the other nodes through the relay (Redis: livepanel/server/relay_redis.py), which
they apply at once for the envs their viewers watch; any gap, and every env nobody watches here, is read
from the log when it is next needed (`fresh`: a subscription, a read, a batch).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgpack

from livepanel.protocol import ProtocolError, decode_arrays, packb
from livepanel.server.store import MAX_SEQ_GAP, BatchError, Store, StoreError
from livepanel.server.store.model import Limits, State, Undo
from livepanel.server.store.oplog_pg import SESSION_CHECK_EVERY, OpLog
from livepanel.server.store.persist_pg import storage_failure

log = logging.getLogger("livepanel.store")
# (env, lseq, entry, notable): a committed entry, for the relay; notable when envs or windows came or went
EntryListener = Callable[[str, int, bytes, bool], None]
COMPACT_EVERY = 1.0  # seconds between merges of small rows of points


class ClusterStore(Store):
    shared = True

    def __init__(self, url: str, limits: Limits | None = None):
        super().__init__(None, limits)
        self.oplog = OpLog(url)
        self.persist = self.oplog  # type: ignore[assignment]  # encodes writes (Store._apply) and closes
        self.store_id = self.oplog.store_id
        self.clients, self.applied = self.oplog.load(self.state)
        self.entry_listeners: list[EntryListener] = []
        self.relay: Any = None  # set by `attach`
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task] = set()
        self.replayed = 0  # entries of other nodes applied here
        self.watching: tuple[set[str], bool] = (set(), False)  # envs viewers here watch; every env
        self._touched: set[tuple[str, str, str]] = set()  # traces with new rows of points, to merge
        self._compacting: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------ writing

    async def ingest(
        self, client: str | None, seq: int | None, ops: list[dict], body: bytes | bytearray | None = None
    ) -> bool:
        if client is not None and seq <= self.clients.get(client, 0):
            return True  # committed (here or elsewhere) before this node last heard of the client
        return await self._commit(client, seq, ops, body) is None

    def apply_internal(self, ops: list[dict], done: Callable[[bool], None] | None = None) -> None:
        """Alerts and projections: through the log like a batch (alert ids from the database's sequence)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # shutting down: no viewer is left to tell
            if done is not None:
                done(False)
            return

        async def run() -> None:
            try:
                await self._commit(None, None, ops, None, internal=True)
                ok = True
            except Exception:
                log.exception("operations of the server could not be stored")
                ok = False
            if done is not None:
                done(ok)

        task = loop.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _commit(
        self,
        client: str | None,
        seq: int | None,
        ops: list[dict],
        body: bytes | bytearray | None,
        internal: bool = False,
    ) -> dict[str, int] | None:
        """Apply and commit a batch once: its envs' new heads, or None for a duplicate."""
        envs = _envs(ops)
        alerts = [op["alert"] for op in ops if op["op"] == "alert"]
        async with self._hold(envs), self.oplog.transactions:
            txn = await self._begin(envs, client, len(alerts))
            try:
                await self._catch_up(txn)
                if client is not None:
                    last = txn.client_seq
                    self.clients[client] = max(last, self.clients.get(client, 0))
                    if seq <= last:
                        await self.oplog.rollback(txn)
                        return None
                    if last and seq > last + MAX_SEQ_GAP:
                        raise ProtocolError(
                            f"batch seq {seq} is more than {MAX_SEQ_GAP} above the last one of client {client!r} "
                            f"({last}): a client numbers its batches 1, 2, 3, ...; is another writer using this id?"
                        )
                for alert, number in zip(alerts, txn.alert_ids, strict=True):
                    alert["id"] = number  # in place: diagnosis mails the same dict to the writer
                if not internal:  # the server's own operations are made right (as Store.apply_internal)
                    self.state.check(ops)
                before = self._shape(envs)
                now, applied, undo = time.time(), [], Undo(self.state)
                messages, writes = self._apply(ops, now, applied, undo)
            except BaseException as exc:
                await self.oplog.rollback(txn)
                if isinstance(exc, Exception) and not isinstance(exc, ProtocolError) and storage_failure(exc):
                    raise StoreError(f"PostgreSQL failed while catching up ({type(exc).__name__}): send again") from exc
                raise
            entries = {env: _entry(now, [op for op in applied if op["env"] == env]) for env in envs}
            entries = {env: entry for env, entry in entries.items() if entry is not None}
            try:
                heads = await self.oplog.commit(txn, writes, entries, client, seq)
            except BaseException as exc:
                undo.rollback()  # if the commit went through after all, the log gives it back (_catch_up)
                if storage_failure(exc):
                    raise StoreError(f"could not commit to PostgreSQL ({type(exc).__name__}): send again") from exc
                raise BatchError(f"the store could not write this batch: {exc!r}") from exc
            self.applied.update(heads)
            self._compact_later(txn.touched)
            if client is not None:
                self.clients[client] = seq
            if not internal:  # counted as Store counts them: diagnosis compares the two counts
                self.batches_applied += 1
            notable = self._shape(envs) != before
            self._publish(messages, None if internal else (client, ops, body))  # no batch listener sees its own
            for env, head in heads.items():
                for listener in self.entry_listeners:
                    listener(env, head, entries[env], notable)
        return heads

    def _compact_later(self, touched: set[tuple[str, str, str]]) -> None:
        """Merge small rows of points now and then (not on the ack path), as the single-node stores do."""
        self._touched |= touched
        if self._touched and self._compacting is None:
            self._compacting = asyncio.get_running_loop().call_later(COMPACT_EVERY, self._compact)

    def _compact(self) -> None:
        keys, self._touched = self._touched, set()

        async def run() -> None:
            try:
                await self.oplog.compact(keys)
            finally:
                self._compacting = None
                if self._touched:
                    self._compact_later(set())

        self._spawn(run())

    async def _begin(self, envs: list[str], client: str | None, alerts: int) -> Any:
        try:
            return await self.oplog.begin(envs, client, {e: self.applied.get(e, 0) for e in envs}, alerts)
        except Exception as exc:
            if storage_failure(exc):
                raise StoreError(f"PostgreSQL cannot be reached ({type(exc).__name__}): send again") from exc
            raise

    async def client_seq(self, client: str) -> int:
        """As committed by any node."""
        seq = await self.oplog.client_seq(client)
        self.clients[client] = max(seq, self.clients.get(client, 0))
        return seq

    def _shape(self, envs: list[str]) -> list[int]:
        """What the env pickers show of these envs: whether each exists, and its window count."""
        return [len(e.windows) if (e := self.state.envs.get(env)) is not None else -1 for env in envs]

    # ------------------------------------------------------------ following the other nodes

    async def _catch_up(self, txn: Any) -> None:
        """Apply what other nodes committed for the batch's envs (read in its transaction)."""
        for env, entries in txn.behind.items():
            if entries is None or not self._replay(env, entries):
                fresh = State(self.state.limits)
                self._took_over(env, fresh, await self.oplog.read_env(txn, fresh, env))

    def _replay(self, env: str, entries: list[tuple[int, bytes]]) -> bool:
        """Apply entries in order; False if one could not be (a bug): the caller reads the env back whole."""
        for lseq, entry in entries:
            if lseq != self.applied.get(env, 0) + 1:
                continue  # applied already
            try:
                at, ops = _decoded(entry)
                messages = [self.state.apply(op, at)[0] for op in ops]
            except Exception:
                log.exception("entry %d of env %r could not be replayed: reading the env back", lseq, env)
                return False
            self.applied[env] = lseq
            self.replayed += 1
            self._publish(messages)
        return True

    def _took_over(self, env: str, fresh: State, head: int) -> None:
        """An env read back whole (this node was further behind than the log keeps)."""
        if env in fresh.envs:
            self.state.envs[env] = fresh.envs[env]
        else:
            self.state.envs.pop(env, None)
        if env in fresh.seqs:
            self.state.seqs[env] = fresh.seqs[env]
        self.applied[env] = head
        for listener in self.recovery_listeners:  # the hub resends snapshots
            listener()

    async def fresh(self, envs: list[str] | None = None) -> None:
        """Catch these envs (all: None) up with what is committed, before they are read or watched. While the
        database is away, reads go on from what this node has."""
        try:
            heads = await self.oplog.heads(envs)
            for env in sorted(e for e, head in heads.items() if head > self.applied.get(e, 0)):
                await self.follow(env, heads[env])
        except Exception as exc:
            if not storage_failure(exc):
                raise
            log.warning("PostgreSQL is away: answering from this node's memory (%s)", type(exc).__name__)

    async def follow(self, env: str, upto: int, entry: bytes | None = None) -> None:
        """Apply the env's entries up to `upto` (`entry`: that one, as the relay brought it), in order."""
        async with self._hold([env]):
            done = self.applied.get(env, 0)
            if upto <= done:
                return
            entries = [(upto, entry)] if entry is not None and upto == done + 1 else None
            if entries is None and self.relay is not None:
                with contextlib.suppress(Exception):  # Redis is a shortcut: the log has them too
                    entries = await self.relay.history(env, done, upto)
            if entries is None:
                entries = await self.oplog.entries(env, done, upto)
            if entries is None or not self._replay(env, entries):
                fresh = State(self.state.limits)
                self._took_over(env, fresh, await self.oplog.load_env(fresh, env))

    def keep_session(self) -> None:
        """Check now and then the session that keeps a single server off the database (call on the loop)."""

        async def run() -> None:
            while True:
                await asyncio.sleep(SESSION_CHECK_EVERY)
                try:
                    await self.oplog.check_session()
                except Exception as exc:  # the database is still away, or a single server took it meanwhile
                    log.warning("the nodes' shared lock on PostgreSQL is not held: %s", exc)

        self._spawn(run())

    def on_entry(self, env: str, lseq: int, entry: bytes | None) -> None:
        """An entry another node committed, from the relay."""
        if lseq > self.applied.get(env, 0):
            self._spawn(self.follow(env, lseq, entry))

    def on_head(self, env: str, lseq: int, notable: bool) -> None:
        """A commit in any env: followed when it changes what the pickers show, or when viewers here watch the
        env (an entry committed between a subscription's catch-up and its channel going live comes only so)."""
        watched = self.watching[1] or env in self.watching[0]
        if (notable or watched) and lseq > self.applied.get(env, 0):
            self._spawn(self.follow(env, lseq))

    def watch(self, envs: set[str], everything: bool) -> None:
        """The hub's watchers hook: the envs viewers on this node watch."""
        self.watching = (envs, everything)

    def on_resync(self) -> None:
        """The relay lost messages: catch every env up from the log."""
        self._spawn(self.fresh())

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._quietly(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _quietly(self, work: Any) -> None:
        try:
            await work
        except Exception as exc:  # the next read or batch catches up from the log again
            log.warning("catching up with the other nodes failed: %r", exc)

    @contextlib.asynccontextmanager
    async def _hold(self, envs: list[str]) -> AsyncIterator[None]:
        """This node's own lock of each env (sorted): its batches and catch-ups of an env go one at a time."""
        held: list[asyncio.Lock] = []
        try:
            for env in envs:
                lock = self._locks.get(env)
                if lock is None:
                    lock = self._locks[env] = asyncio.Lock()
                await lock.acquire()
                held.append(lock)
            yield
        finally:
            for lock in reversed(held):
                lock.release()

    def close(self) -> None:
        if self._compacting is not None:
            self._compacting.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self.persist is not None:
            self.oplog.close()
            self.persist = None


def _envs(ops: list[dict]) -> list[str]:
    """The envs a batch changes or reads (a fork's source), sorted: the order their locks are taken in."""
    names = {op["env"] for op in ops}
    names.update(op["source"] for op in ops if op["op"] == "fork")
    return sorted(names)


def _entry(at: float, ops: list[dict]) -> bytes | None:
    return packb({"at": at, "ops": ops}) if ops else None


def _decoded(entry: bytes) -> tuple[float, list[dict]]:
    body = msgpack.unpackb(entry, raw=False, strict_map_key=False)
    return body["at"], decode_arrays(body["ops"])
