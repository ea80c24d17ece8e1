"""The store: the one place that changes window state, in order, exactly once per client sequence.

A batch is checked against the state, applied to memory, its writes encoded, handed to the writer
thread, and acknowledged (and published to viewers, in commit order) only once it is on disk.

A failure is one batch's or the store's. A batch whose writes cannot be encoded or bound is taken
back from memory and refused (BatchError, a 400) before it is accepted; one that still fails in the
writer fails alone (its group is committed without it). Only a failure of the storage itself (disk
full, I/O error, unreadable database) stops all writes (StoreError, a 503) until a restart.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from livepanel.protocol import ProtocolError
from livepanel.server.store.diagnosis import Diagnosis
from livepanel.server.store.model import Limits, State, Undo, Window, window_state
from livepanel.server.store.persist import Job, Persistence

__all__ = ["Store", "StoreError", "BatchError", "State", "Window", "Limits", "window_state"]

Listener = Callable[[list[dict]], None]
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
    def __init__(self, path: Path | None = None, limits: Limits | None = None, diagnose: bool = True):
        self.state = State(limits)
        self.listeners: list[Listener] = []
        self._pending: dict[str, asyncio.Future] = {}
        self._failed: BaseException | None = None
        self.persist: Persistence | None = None
        if path is None:
            self.store_id = secrets.token_hex(8)
            self.clients: dict[str, int] = {}
        else:
            self.persist = Persistence(path)
            self.store_id = self.persist.store_id
            self.clients = self.persist.load(self.state)
            self.persist.start()
        self.diagnosis = Diagnosis(self.state, diagnose)
        self.diagnosis.raise_alerts = self._raise
        self._alerts_stored: asyncio.Future | None = None  # the commit of the last alerts raised

    async def ingest(
        self,
        client: str | None,
        seq: int | None,
        ops: list[dict],
        body: bytes | None = None,
        arrived: float | None = None,
    ) -> tuple[bool, list[dict]]:
        """Apply a validated batch once; return (was it a duplicate, alerts it raised). Raises ProtocolError.

        `body`: the batch as it came (msgpack), if it did: what diagnosis is handed (else it encodes the ops).
        `arrived`: when its request came (time.monotonic()), if not just now: diagnosis tells by it a writer
        sending back to back (see diagnosis.py)."""
        if self._failed is not None:
            raise StoreError(f"the store failed earlier and accepts no more writes until restarted: {self._failed}")
        last = self.clients.get(client, 0) if client is not None else 0
        if client is not None and seq <= last:
            pending = self._pending.get(client)
            if pending is not None and not pending.done():
                await asyncio.shield(pending)
            return True, []
        if last and seq > last + MAX_SEQ_GAP:
            raise ProtocolError(
                f"batch seq {seq} is more than {MAX_SEQ_GAP} above the last one of client {client!r} ({last}): "
                "a client numbers its batches 1, 2, 3, ...; is another writer using this client id?"
            )
        self.state.check(ops)
        messages, writes = self._apply(ops)
        diagnosis = self.diagnosis
        number = diagnosis.submit(client, ops, body, arrived) if diagnosis.enabled else 0
        if client is not None:
            self.clients[client] = seq
        if self.persist is None:
            self._publish(messages)
            return False, await self._alerts_for(client, number)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if client is not None:
            self._pending[client] = future

        def done(job: Job) -> None:
            try:
                loop.call_soon_threadsafe(self._committed, job, messages, future, last)
            except RuntimeError:  # loop closed during shutdown; the data is on disk
                pass

        self.persist.submit(Job(writes, client, seq, done))
        try:
            await future
        finally:
            if client is not None and self._pending.get(client) is future:
                del self._pending[client]
        return False, await self._alerts_for(client, number)

    async def _alerts_for(self, client: str | None, number: int) -> list[dict]:
        """The alerts an acknowledgement lists: once the batch's diagnosis is settled (diagnosis.py), and
        once they are on disk too, as the batch is."""
        await self.diagnosis.settled(number)
        raised = self.diagnosis.mail_for(client)
        stored = self._alerts_stored
        if raised and stored is not None and not stored.done():
            await asyncio.shield(stored)
        return raised

    def _committed(self, job: Job, messages: list[dict], future: asyncio.Future, last: int) -> None:
        if job.fatal:
            self._failed = job.error
            future.set_exception(StoreError(f"could not write to the store: {job.error}"))
            return
        if job.error is not None:  # this batch alone (not anticipated by Persistence.prepare: a bug)
            log.error("a batch of %r could not be written; memory holds it until a restart", job.client)
            if job.client is not None and self.clients.get(job.client) == job.seq:
                if last:  # not taken: a batch under this seq may come again
                    self.clients[job.client] = last
                else:
                    del self.clients[job.client]
            future.set_exception(BatchError(f"the store could not write this batch: {job.error!r}"))
            asyncio.get_running_loop().call_soon(self._publish, messages)  # viewers keep showing memory
            return
        future.set_result(None)  # the acknowledgement goes out first; viewers right after, in commit order
        asyncio.get_running_loop().call_soon(self._publish, messages)

    def _raise(self, alerts: list[dict]) -> None:
        """Apply, store and publish alert operations the diagnosis worker found (after their batches)."""
        if self._failed is not None:
            return
        try:
            messages, writes = self._apply(alerts)
        except BatchError:
            log.exception("alerts could not be stored")
            return
        if self.persist is None:
            self._publish(messages)
            return
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # closed outside the loop: the alerts are stored, no viewer is left
            loop = None

        stored = loop.create_future() if loop is not None else None

        def done(job: Job) -> None:
            try:
                if loop is not None:
                    loop.call_soon_threadsafe(self._stored, job, messages, stored)
            except RuntimeError:  # loop closed during shutdown; the alerts are on disk
                pass

        self._alerts_stored = stored
        self.persist.submit(Job(writes, None, None, done))

    def _apply(self, ops: list[dict]) -> tuple[list[dict], list[tuple]]:
        """Apply checked operations to the state, in order: (their viewer messages, their prepared writes).

        If an operation cannot be applied or its writes cannot be encoded for storage, the state is put
        back as it was before the batch and BatchError names that operation."""
        now = time.time()
        messages: list[dict] = []
        writes: list[tuple] = []
        apply, undo = self.state.apply, Undo(self.state)
        prepare = self.persist.prepare if self.persist is not None else None
        for i, op in enumerate(ops):
            try:
                message, actions = apply(op, now, undo)
                if prepare is not None:
                    actions = prepare(actions)
            except Exception as exc:
                undo.rollback()
                raise BatchError(f"operation {i}: cannot be stored: {exc}", op=i) from exc
            messages.append(message)
            writes.extend(actions)
        return messages, writes

    def _stored(self, job: Job, messages: list[dict], stored: asyncio.Future | None) -> None:
        if stored is not None and not stored.done():
            stored.set_result(None)
        if job.fatal:
            self._failed = job.error
            return
        # after the publication of the batches committed with it or before it (_committed's call_soon)
        asyncio.get_running_loop().call_soon(self._publish, messages)

    def _publish(self, messages: list[dict]) -> None:
        for listener in self.listeners:
            listener(messages)

    def close(self) -> None:
        """Raise what diagnosis still finds, commit everything accepted so far and close the database."""
        self.diagnosis.close()
        if self.persist is not None:
            self.persist.close()
            self.persist = None
