"""The server side of diagnosis: accepted batches go to the diagnosis worker, what it finds becomes alerts.

The detectors run in a process of their own (livepanel.diagnosis.worker), so they use another core
and ingest pays for handing over each batch's body only (a write to a pipe). An alert is an env
change like any other (it gets an env seq, is stored, and reaches viewers in order), so it survives
restarts and resumes; the worker is told at start which alerts are stored, so an ongoing problem is
not raised again.

Alerts found in a batch go to its writer with an acknowledgement: that batch's own when nothing else
waits for the worker, no other writer's batch came just before (CROWD) and the writer did not send it
right after its last ack (BACK_TO_BACK): the ack then waits for the answer, which comes within a
millisecond or so, WAIT at most, unless another batch comes first. Else its next one: with other
writers at work, or a writer sending back to back, an ack that waits would slow ingest and the next
ack is near.
A worker behind ingest is bounded (MAX_LAG seconds, MAX_BYTES of bodies not yet answered): past a
bound acknowledgements wait until it is back within both, so a server saturated for longer than that
slows to what diagnosis can follow; a worker that answers nothing for STUCK seconds then is killed.
A worker that dies is started again (with the stored alerts, and from then on: what it had not
answered is not diagnosed). The worker runs at a lower priority, and diagnoses what waits for it
together (see worker.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import select
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import Any

import msgpack

import livepanel
from livepanel import protocol
from livepanel.diagnosis.worker import FOLLOWED, HINTS, LENGTH, NUMBER, barrier, ended_by, frame, frames
from livepanel.server.store.model import State

try:
    import fcntl
except ImportError:  # not POSIX: pipes keep their default size
    fcntl = None

log = logging.getLogger("livepanel.diagnosis")

WAIT = 0.25  # seconds an acknowledgement waits for its batch's diagnosis, at most (when nothing else waits)
CROWD = 0.01  # seconds: a batch from another writer this recent means others are at work (acks do not wait)
BACK_TO_BACK = 0.005  # seconds from a writer's ack to its next request, at most, when it sends back to back
# (its acks do not wait either): half a Panel's send_interval, which a Panel logging at its pace leaves
# between requests (6-9 ms from ack to request here; 1-4 ms for a writer sending as fast as it can)
MAX_LAG = 10.0  # seconds the oldest batch not yet answered may be behind, at most...
MAX_BYTES = 256 << 20  # ...and bytes of bodies not yet answered, at most
MAIL_MAX = 1000  # alerts kept for one writer until its next acknowledgement
RESTARTS = 5  # a worker that keeps dying is given up (diagnosis stops, ingest goes on)
STUCK = 30.0  # seconds without an answer while acks wait for the worker: it is stuck, and is killed
PIPE_BYTES = 1 << 20  # the pipes' size asked for (Linux; the default is 64 KiB)
WHOLE = 1 << 20  # a body larger than this with ops diagnosis ignores (images) is re-encoded without them


class Diagnosis:
    def __init__(self, state: State, enabled: bool = True):
        self.enabled = enabled
        self.state = state
        stored = [a for env in state.envs.values() for a in env.alerts]
        self.next_id = 1 + max((int(a.get("id", 0)) for a in stored), default=0)
        # set by the Store: apply alert operations, store and publish them (after their batches)
        self.raise_alerts: Callable[[list[dict[str, Any]]], None] = lambda ops: None
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._out: deque[memoryview | bytes] = deque()  # frames (in pieces) not yet taken by the worker's pipe
        self._in = bytearray()
        self.sent = 0  # batches handed over (their numbers count from 1)
        # batches handed over, not yet answered: (number, client, what they end, bytes, when)
        self.flight: deque[tuple[int, str | None, list[tuple[str, ...]], int, float]] = deque()
        self.flight_bytes = 0
        # closes, env deletions, trace replacements and removals in batches not yet answered, by what they
        # end: an alert from an append before one of them would land on what replaced it (or on nothing)
        self.barriers: dict[tuple[str, ...], int] = {}
        self.mail: dict[str, list[dict[str, Any]]] = {}  # client -> alerts its batches raised, until taken
        self.latest: dict[str, int] = {}  # client -> the number of its last batch handed over
        self.max_lag, self.max_bytes, self.wait, self.stuck, self.crowd = MAX_LAG, MAX_BYTES, WAIT, STUCK, CROWD
        self.back_to_back = BACK_TO_BACK
        self._last: tuple[str | None, float] = (None, -math.inf)  # the writer and time of the last batch
        self._acked: tuple[str | None, float] = (None, -math.inf)  # the writer and time of the last ack
        self._crowded = 0  # the last batch handed over that came right after another writer's, or its own ack
        self._answers: asyncio.Future | None = None  # done at the next answer (acks waiting for the worker)
        self._warned = False
        if enabled:
            self._start()

    # ------------------------------------------------------------ what the Store calls

    def submit(
        self, client: str | None, ops: list[dict[str, Any]], body: bytes | None, arrived: float | None = None
    ) -> int:
        """Hand an applied batch (its ops, and its msgpack body when it has one; `arrived`: when its request
        came) to the worker; its number (0: nothing in it for diagnosis)."""
        if self.proc is None and not self._start():
            return 0
        followed = 0
        barriers = self.barriers
        keys = []
        for op in ops:
            kind = op["op"]
            if kind == "line" and op["update"] == "append":  # the usual op: it ends nothing
                followed += 1
            elif kind in FOLLOWED:
                followed += 1
                key = barrier(op)
                if key is not None:
                    keys.append(key)
                    barriers[key] = barriers.get(key, 0) + 1
        if not followed:
            return 0
        if body is None or (followed < len(ops) and len(body) > WHOLE):
            body = protocol.packb({"ops": [op for op in ops if op["op"] in FOLLOWED]})
        self.sent += 1
        if client is not None:
            self.latest[client] = self.sent
        self._write(LENGTH.pack(NUMBER.size + len(body)) + NUMBER.pack(self.sent), memoryview(body))
        now = time.monotonic()
        # busy: another writer's batch just came, or this writer sends back to back (its last ack just went;
        # counted to the request's arrival, as reading and applying a large batch takes a while)
        came = now if arrived is None else arrived
        if (self._last[0] != client and now - self._last[1] < self.crowd) or (
            self._acked[0] == client and came - self._acked[1] < self.back_to_back
        ):
            self._crowded = self.sent
        self._last = (client, now)
        self.flight.append((self.sent, client, keys, len(body), now))
        self.flight_bytes += len(body)
        self._wake()  # an ack waiting for its own answer need wait no more (see settled, _wait)
        return self.sent

    async def settled(self, number: int) -> None:
        """Before a batch's acknowledgement: wait while the worker is past a bound, and for the batch's own
        answer when nothing else waits for the worker, neither another writer's batch nor this writer's own
        last ack came just before it (CROWD, BACK_TO_BACK), and no other batch comes meanwhile (so the
        alerts of a lone writer that is not sending back to back come with this very ack)."""
        if not number:
            return
        flight = self.flight
        if len(flight) == 1 and flight[0][0] == number and self.wait > 0 and self._crowded != number:
            # until its answer, or another batch comes (the server is busy: the alerts go with the next ack)
            await self._wait(self.wait, lambda: flight and flight[0][0] <= number and self.sent == number)
        while flight and self._behind():  # bounded: each answer shrinks flight; a dead worker's end empties it
            answered = self.sent - len(flight)  # batches answered so far (or given up with a dead worker)
            await self._wait(self.stuck, lambda done=answered: flight and self.sent - len(flight) == done)
            if self.sent - len(flight) == answered and flight and self.proc is not None:
                log.error("the diagnosis worker answered nothing in %.0f s; stopping it", self.stuck)
                self.proc.kill()  # its end (_readable) releases what waits for it
                await self._next_answer(self.stuck)

    def mail_for(self, client: str | None) -> list[dict[str, Any]]:
        """Alerts a writer's batches raised since its last acknowledgement (taken once), as that ack goes."""
        self._acked = (client, time.monotonic())
        return self.mail.pop(client, []) if client is not None and self.mail else []

    async def judged(self, client: str, timeout: float) -> list[dict[str, Any]]:
        """The alerts a writer's batches raised that no acknowledgement carried yet (taken once), after the
        worker has answered every batch of it handed over so far (`timeout` seconds at most): how a client
        gets the alerts of its last batches, whose acknowledgements went before their answer."""
        number = self.latest.get(client, 0)
        flight = self.flight
        await self._wait(timeout, lambda: flight and flight[0][0] <= number)
        return self.mail.pop(client, [])

    def close(self) -> None:
        """Let the worker answer everything handed over, raise what it finds, and stop it (the Store closes)."""
        proc = self.proc
        if proc is None:
            return
        self._unwatch()
        out, inp = proc.stdin.fileno(), proc.stdout.fileno()
        try:
            while True:  # bounded: the worker ends once it has answered what it was given
                if not self._out and not proc.stdin.closed:
                    proc.stdin.close()  # all handed over: the worker ends after its last answer
                writing = [out] if self._out else []
                readable, writable, _ = select.select([inp], writing, [], 60)
                if not readable and not writable:
                    raise OSError("no answer in 60 s")
                if writable:  # both ways at once: a worker whose answers are not read stops reading
                    self._flush()
                if readable:
                    data = os.read(inp, 1 << 20)
                    if not data:
                        break
                    self._received(data)
        except OSError as exc:
            log.error("diagnosis worker: %s", exc)
        self._stop()

    # ------------------------------------------------------------ the worker process

    def _start(self) -> bool:
        """Start the worker with what the store holds; False when diagnosis is off or was given up."""
        if not self.enabled or self.restarts > RESTARTS:
            return False
        root = str(Path(livepanel.__file__).resolve().parent.parent)
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1")  # its sums need no BLAS threads spinning on cores
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "livepanel.diagnosis.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
        except OSError as exc:
            log.error("cannot start the diagnosis worker (%s): diagnosis is off", exc)
            self.enabled = False
            return False
        for f in (self.proc.stdin, self.proc.stdout):
            os.set_blocking(f.fileno(), False)  # POSIX pipes (as the event loop's add_reader needs)
            if hasattr(fcntl, "F_SETPIPE_SZ"):  # Linux: room for a few batches, fewer wake-ups
                try:
                    fcntl.fcntl(f.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
                except OSError:
                    pass
        known = [a for e in self.state.envs.values() for a in e.alerts]
        hints = [
            [e.name, w.win, {k: w.opts[k] for k in HINTS if k in w.opts}]
            for e in self.state.envs.values()
            for w in e.windows.values()
            if w.kind == "line" and any(k in w.opts for k in HINTS)
        ]
        self._write(frame(msgpack.packb({"known": known, "hints": hints}, use_bin_type=True)), b"")
        return True

    def _watch(self) -> None:
        """Read the worker's answers from the running event loop (from the first batch handed over)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            loop.add_reader(self.proc.stdout.fileno(), self._readable)

    def _unwatch(self) -> None:
        if self._loop is not None and self.proc is not None and not self._loop.is_closed():
            self._loop.remove_reader(self.proc.stdout.fileno())
            self._loop.remove_writer(self.proc.stdin.fileno())
        self._loop = None

    def _write(self, head: bytes, body: memoryview | bytes) -> None:
        """Queue a frame for the worker without blocking (nor copying): what its pipe does not take now
        waits here, and goes when the pipe has room."""
        if self.proc is None:
            return
        waiting = bool(self._out)
        self._out.append(head)
        if body:
            self._out.append(body)
        if not waiting:  # else the pipe is full, and _writable goes on when it has room
            self._flush()
        try:
            self._watch()
            if self._out:
                self._loop.add_writer(self.proc.stdin.fileno(), self._writable)
        except RuntimeError:  # no event loop yet (the start frame): the first batch will start watching
            pass

    def _flush(self) -> None:
        """Write what waits, as far as the pipe takes it."""
        out, fd = self._out, self.proc.stdin.fileno()
        while out:  # bounded: each pass writes at least a byte, or stops
            try:
                done = os.writev(fd, list(islice(out, 64)))
            except BlockingIOError:
                return
            except OSError:  # the worker is gone: its answers' end says so (_readable)
                out.clear()
                return
            while done:  # bounded by the pieces written
                n = len(out[0])
                if done < n:
                    out[0] = memoryview(out[0])[done:]
                    break
                done -= n
                out.popleft()

    def _writable(self) -> None:
        self._flush()
        if not self._out:
            self._loop.remove_writer(self.proc.stdin.fileno())

    def _readable(self) -> None:
        try:
            data = os.read(self.proc.stdout.fileno(), 1 << 20)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self._received(data)
            return
        proc = self.proc
        self._unwatch()
        self._stop()
        log.error("the diagnosis worker stopped (exit status %s); starting it again", proc.returncode)
        self.restarts += 1
        for number, *_ in list(self.flight):  # what it had not answered is not diagnosed
            self._answered(number, [], [])
        self._wake()

    def _stop(self) -> None:
        proc, self.proc = self.proc, None
        self._out.clear()
        self._in.clear()
        for f in (proc.stdin, proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    # ------------------------------------------------------------ answers

    def _received(self, data: bytes) -> None:
        self._in += data
        found: list[dict[str, Any]] = []
        for payload in frames(self._in):
            number, alerts = msgpack.unpackb(payload, raw=False)
            self._answered(number, alerts, found)
        if found:
            self.raise_alerts(found)
        self._wake()

    def _answered(self, number: int, alerts: list[dict[str, Any]], found: list[dict[str, Any]]) -> None:
        """A batch's answer: its barriers end, and its alerts still about something that exists are kept
        (in `found`, and in its writer's mail)."""
        head, client, keys, size, _ = self.flight.popleft()
        assert head == number, (head, number)
        self.flight_bytes -= size
        barriers = self.barriers
        for key in keys:
            left = barriers.pop(key) - 1
            if left:
                barriers[key] = left
        for body in alerts:
            if self._ended(body):
                continue  # its window or trace was closed, replaced or deleted since the append
            body = body | {"id": self.next_id, "t": time.time()}
            self.next_id += 1
            found.append({"op": "alert", "env": body["env"], "alert": body})
            if client is not None:
                mail = self.mail.setdefault(client, [])
                if len(mail) < MAIL_MAX:
                    mail.append(body)

    def _ended(self, body: dict[str, Any]) -> bool:
        """Whether an alert is about something gone since its append (a close, deletion or replacement in a
        batch not yet answered, or already applied to the state)."""
        e = self.state.envs.get(body["env"])
        if e is None or body["win"] not in e.windows:
            return True
        barriers = self.barriers
        return bool(barriers) and any(k in barriers for k in ended_by(body["env"], body["win"], body["trace"]))

    def _behind(self) -> bool:
        """Past a bound: the worker is too far behind ingest (acknowledgements wait for it)."""
        lag = time.monotonic() - self.flight[0][4]
        behind = self.flight_bytes > self.max_bytes or lag > self.max_lag
        if behind and not self._warned:
            self._warned = True
            log.warning("diagnosis is behind ingest by %.1f s; acknowledgements now wait for it", lag)
        return behind

    async def _wait(self, seconds: float, waiting: Callable[[], Any]) -> None:
        """Wait while waiting() holds, `seconds` at most: it is checked again at each answer and at each
        batch handed over (either wakes the waiters)."""
        deadline = time.monotonic() + seconds
        while waiting():  # bounded by the deadline
            left = deadline - time.monotonic()
            if left <= 0:
                return
            await self._next_answer(left)

    async def _next_answer(self, timeout: float | None) -> None:
        if self._answers is None or self._answers.done():
            self._answers = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(asyncio.shield(self._answers), timeout)
        except TimeoutError:
            pass

    def _wake(self) -> None:
        if self._answers is not None and not self._answers.done():
            self._answers.set_result(None)
