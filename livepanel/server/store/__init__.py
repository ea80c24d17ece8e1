"""The store: the one place that changes window state, in order, exactly once per client sequence.

A batch is checked against the state, applied to memory, its writes encoded, handed to the writer
thread, and acknowledged only once it is on disk; then, in commit order, its changes go to the
listeners (`listeners`: the hub's fan-out to viewers) and the batch itself to the batch listeners
(`batch_listeners`: diagnosis, livepanel/server/diagnosis.py). Nothing on the ack path waits for a
listener. Changes the server makes itself (alerts) go through `apply_internal`: stored and published
like a batch's.

A failure is one batch's or the store's. A batch whose writes cannot be encoded or bound is taken
back from memory and refused (BatchError, a 400) before it is accepted; one that still fails in the
writer fails alone (its group is committed without it). Only a failure of the storage itself (disk
full, I/O error, unreadable database) stops all writes (StoreError, a 503) until a restart, or, with
a persistence that can recover (PostgreSQL: the connection comes back), until it has read the
committed state back: batches in flight then get a 503 too, and their retries land once.

Persistence is chosen by where the store lives (backend.open_backend): a directory for SQLite, a
postgresql:// URL for PostgreSQL; the state, the handlers and the wire do not know which.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from livepanel.protocol import ProtocolError
from livepanel.server.store import backend, fork
from livepanel.server.store.model import Limits, State, Undo, Window, window_state
from livepanel.server.store.persist import Job

__all__ = ["Store", "StoreError", "BatchError", "State", "Window", "Limits", "window_state"]

Listener = Callable[[list[dict]], None]
# a committed batch: its client id (None for a viewer's op), its validated ops, its msgpack body if it came as one
BatchListener = Callable[[str | None, list[dict], bytes | bytearray | None], None]
log = logging.getLogger("livepanel.store")
# A batch seq this far above the last one of its client id is refused: stored, it would make that
# client's next batches look like duplicates (acknowledged, never applied). A Python client counts
# 1, 2, 3, ... (gaps only where batches were refused); the TensorBoard importer counts records.
MAX_SEQ_GAP = 1_000_000


class StoreError(RuntimeError):
    """The store could not commit; the server stops accepting writes rather than lose them."""


class BatchError(StoreError, ProtocolError):
    """One batch could not be stored (the store goes on): refused like malformed input, with a 400."""

    def __init__(self, message: str, op: int | None = None):
        ProtocolError.__init__(self, message, op)


class Store:
    shared = False  # one node among several (cluster.ClusterStore): reads catch up first (`fresh`)

    def __init__(self, path: Path | str | None = None, limits: Limits | None = None):
        """`path`: a data directory (SQLite), a postgresql:// URL, or None (memory only)."""
        self.state = State(limits)
        self.listeners: list[Listener] = []  # called with each commit's viewer messages, in commit order
        self.batch_listeners: list[BatchListener] = []  # then with each committed batch, in the same order
        # called after a recovery took over the state read back (the hub resends snapshots: a batch whose
        # commit went through while its answer was lost is in that state, but was never published)
        self.recovery_listeners: list[Callable[[], None]] = []
        # batches applied to memory, and those of them handed to the listeners (the rest wait for their commit)
        self.batches_applied = 0
        self.batches_published = 0
        self._pending: dict[str, asyncio.Future] = {}
        self._failed: BaseException | None = None
        self._generation = 0  # counts recoveries: a job submitted before the last one is answered with a 503
        self._recovering = False
        self.persist: backend.Backend | None = None
        if path is None:
            self.store_id = secrets.token_hex(8)
            self.clients: dict[str, int] = {}
        else:
            self.persist = backend.open_backend(path)
            self.store_id = self.persist.store_id
            self.clients = self.persist.load(self.state)
            self.persist.start()

    async def ingest(
        self, client: str | None, seq: int | None, ops: list[dict], body: bytes | bytearray | None = None
    ) -> bool:
        """Apply a validated batch once and return once it is durably stored: whether it was a duplicate.
        Raises ProtocolError.

        `body`: the batch as it came (msgpack), if it did: the batch listeners get it with the ops."""
        if self._failed is not None:
            until = "its database is back" if hasattr(self.persist, "recover") else "restarted"
            raise StoreError(f"the store failed earlier and accepts no more writes until {until}: {self._failed}")
        last = self.clients.get(client, 0) if client is not None else 0
        if client is not None and seq <= last:
            pending = self._pending.get(client)
            if pending is not None and not pending.done():
                await asyncio.shield(pending)
            return True
        if last and seq > last + MAX_SEQ_GAP:
            raise ProtocolError(
                f"batch seq {seq} is more than {MAX_SEQ_GAP} above the last one of client {client!r} ({last}): "
                "a client numbers its batches 1, 2, 3, ...; is another writer using this client id?"
            )
        self.state.check(ops)
        messages, writes = self._apply(ops)
        self.batches_applied += 1
        batch = (client, ops, body)
        if client is not None:
            self.clients[client] = seq
        if self.persist is None:
            self._publish(messages, batch)
            return False
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if client is not None:
            self._pending[client] = future
        generation = self._generation

        def done(job: Job) -> None:
            try:
                loop.call_soon_threadsafe(self._committed, job, messages, future, last, batch, generation)
            except RuntimeError:  # loop closed during shutdown; the data is on disk
                pass

        self.persist.submit(Job(writes, client, seq, done))
        try:
            await future
        finally:
            if client is not None and self._pending.get(client) is future:
                del self._pending[client]
        return False

    def _committed(
        self, job: Job, messages: list[dict], future: asyncio.Future, last: int, batch: tuple, generation: int = 0
    ) -> None:
        if generation != self._generation:  # applied to a state the store has since read back from its database
            future.set_exception(StoreError("the store reconnected to its database meanwhile: send this batch again"))
            return
        if job.fatal:
            self._failed = job.error
            future.set_exception(StoreError(f"could not write to the store: {job.error}"))
            self._recover()
            return
        if job.error is not None:  # this batch alone (not anticipated by Persistence.prepare: a bug)
            log.error("a batch of %r could not be written; memory holds it until a restart", job.client)
            if job.client is not None and self.clients.get(job.client) == job.seq:
                if last:  # not taken: a batch under this seq may come again
                    self.clients[job.client] = last
                else:
                    del self.clients[job.client]
            future.set_exception(BatchError(f"the store could not write this batch: {job.error!r}"))
            asyncio.get_running_loop().call_soon(self._publish, messages, batch)  # viewers keep showing memory
            return
        future.set_result(None)  # the acknowledgement goes out first; listeners right after, in commit order
        asyncio.get_running_loop().call_soon(self._publish, messages, batch)

    def apply_internal(self, ops: list[dict], done: Callable[[bool], None] | None = None) -> None:
        """Apply, store and publish operations the server makes itself (alerts), after what is applied
        already; `done(stored)` is called once they are on disk (False: they could not be applied or
        stored). No batch listener sees them."""
        if self._failed is not None:
            if done is not None:
                done(False)
            return
        try:
            messages, writes = self._apply(ops)
        except BatchError:
            log.exception("operations of the server could not be stored")
            if done is not None:
                done(False)
            return
        if self.persist is None:
            self._publish(messages)
            if done is not None:
                done(True)
            return
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # outside the loop (shutting down): stored by close(), no viewer is left
            loop = None
        generation = self._generation

        def written(job: Job) -> None:
            try:
                if loop is not None:
                    loop.call_soon_threadsafe(self._stored, job, messages, done, generation)
            except RuntimeError:  # loop closed during shutdown; the operations are on disk
                pass

        self.persist.submit(Job(writes, None, None, written))
        if loop is None and done is not None:
            done(True)

    def _apply(
        self, ops: list[dict], now: float | None = None, applied: list[dict] | None = None, undo: Undo | None = None
    ) -> tuple[list[dict], list[tuple]]:
        """Apply checked operations to the state, in order: (their viewer messages, their prepared writes).
        `applied` collects the operations as applied (a fork expanded, a finished run reopened): replayed
        with the same time, they make the same state (cluster nodes, livepanel/server/store/cluster.py).

        If an operation cannot be applied or its writes cannot be encoded for storage, the state is put
        back as it was before the batch and BatchError names that operation."""
        now = time.time() if now is None else now
        messages: list[dict] = []
        writes: list[tuple | None] = []
        contents: dict[tuple[str, str], int] = {}  # where a window's last content write of the batch is
        apply, undo = self.state.apply, undo or Undo(self.state)
        prepare = self.persist.prepare if self.persist is not None else None
        for i, op in enumerate(ops):
            if self.state.noop(op):
                continue
            reopen = self.state.reopening(op)  # data for a finished run: running again, first
            each_op = (op,) if reopen is None else (reopen, op)
            if op["op"] == "fork":  # a copy of another env: the ops that make it (livepanel/server/store/fork.py)
                each_op = tuple(fork.expand(self.state, op))
            for each in each_op:
                try:
                    message, actions = apply(each, now, undo)
                    if prepare is not None:
                        actions = prepare(actions)
                except Exception as exc:
                    undo.rollback()
                    raise BatchError(f"operation {i}: cannot be stored: {exc}", op=i) from exc
                messages.append(message)
                if applied is not None:
                    applied.append(each)
                for action in actions:
                    if action[0] == "content":  # a window's whole content: only the batch's last one is written
                        key = (action[1], action[2])
                        if key in contents:
                            writes[contents[key]] = None  # (heatmap rows appended one op at a time)
                        contents[key] = len(writes)
                    writes.append(action)
        return messages, [w for w in writes if w is not None]

    def _stored(self, job: Job, messages: list[dict], done: Callable[[bool], None] | None, generation: int = 0) -> None:
        if generation != self._generation:
            if done is not None:
                done(False)
            return
        if job.fatal:
            self._failed = job.error
            self._recover()
        if done is not None:
            done(job.error is None)
        if job.fatal:
            return
        # after the publication of the batches committed with it or before it (_committed's call_soon)
        asyncio.get_running_loop().call_soon(self._publish, messages)

    def _recover(self) -> None:
        """After a storage failure, ask a persistence that can (PostgreSQL) to reconnect and read the
        committed state back; `_recovered` takes it over. Without one, writes stay refused until a restart."""
        recover = getattr(self.persist, "recover", None)
        if recover is None or self._recovering:
            return
        self._recovering = True
        loop = asyncio.get_running_loop()
        limits = self.state.limits

        def recovered(state: State, clients: dict[str, int]) -> None:  # on the writer thread
            try:
                loop.call_soon_threadsafe(self._recovered, state, clients)
            except RuntimeError:  # loop closed: shutting down
                pass

        recover(lambda: State(limits), recovered)

    def _recovered(self, state: State, clients: dict[str, int]) -> None:
        """Take over the state read back from the database: in place, since the hub and diagnosis hold
        this State. What memory held beyond it was never acknowledged; clients send it again."""
        if self.persist is None:
            return
        self._generation += 1
        self._recovering = False
        self.state.envs, self.state.seqs = state.envs, state.seqs
        self.clients = clients
        self._failed = None
        self.persist.resume()  # type: ignore[attr-defined]
        log.warning("the store takes writes again")
        for listener in self.recovery_listeners:
            try:
                listener()
            except Exception:  # a listener's bug must not keep the store from taking writes
                log.exception("a recovery listener failed")

    def _publish(self, messages: list[dict], batch: tuple | None = None) -> None:
        for listener in self.listeners:
            listener(messages)
        if batch is None:
            return
        self.batches_published += 1
        for batch_listener in self.batch_listeners:
            try:
                batch_listener(*batch)
            except Exception:  # a listener's bug must not fail ingest (nor the listeners after it)
                log.exception("a batch listener failed")

    async def fresh(self, envs: list[str] | None = None) -> None:
        """Catch envs up with changes committed elsewhere before reading them: nothing to do on one server."""

    async def client_seq(self, client: str) -> int:
        """The last batch seq committed for a client id (0: none)."""
        return self.clients.get(client, 0)

    def close(self) -> None:
        """Commit everything accepted so far and close the database (close diagnosis first: its last
        alerts are stored through this store)."""
        if self.persist is not None:
            self.persist.close()
            self.persist = None
