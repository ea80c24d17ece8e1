"""Diagnosis, a consumer of committed batches beside the hub: it hands each batch to the diagnosis
worker, and what the worker finds becomes alerts.

The detectors run in a process of their own (livepanel.diagnosis.worker), so they use another core
and ingest pays for handing over each committed batch's body only (a write to a pipe, never waiting).
An acknowledgement means "durably stored" and waits for nothing here. An alert is an env change like
any other: applied through the store (Store.apply_internal), it gets an env seq, is stored and
reaches viewers in order, so it survives restarts and resumes; the worker is told at start which
alerts are stored, so an ongoing problem is not raised again (a dismissed alert stays stored, marked, for
that). A kind muted in an env, or on a window (its `mute` option), is filtered here, as the worker's
alerts are raised: the engine does not know about mutes, and never needs to.

Each alert goes to the writer whose batch raised it, once: once stored, it waits in that writer's mail
and goes with its next acknowledgement (mail_for) or to GET /api/v1/alerts?client= (judged), which
waits until the worker has judged everything that writer sent. A Panel's flush asks for it, so
on_alert has every alert of what it sent when the flush returns.

The worker behind ingest is bounded without slowing ingest: past a bound (MAX_LAG seconds since the
oldest batch not yet answered was handed over, MAX_BYTES of bodies not yet answered) batches are no
longer handed over; what their line appends added is counted per series (env, window, trace), and
only their closes, deletions, replacements, removals and role hints go to the worker. Once it has
answered everything, the points it missed are read from the store's memory and handed over as one
append per series (to the worker's catch-up pass), and batches go to it again. A series closed,
deleted, replaced or removed meanwhile is not caught up (what it had is gone; a replacement goes
whole). A worker that answers nothing for STUCK seconds while batches wait for it is killed; one that
dies is started again (with the stored alerts; the batches it had not answered are not diagnosed), up
to RESTARTS times. It runs at a lower priority, and diagnoses what waits for it together (worker.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgpack

import livepanel
from livepanel import protocol
from livepanel.diagnosis.worker import FOLLOWED, HINTS, LENGTH, NUMBER, barrier, ended_by, frame, frames

if TYPE_CHECKING:
    from livepanel.server.store import Store

try:
    import fcntl
except ImportError:  # not POSIX: pipes keep their default size
    fcntl = None

log = logging.getLogger("livepanel.diagnosis")

MAX_LAG = 10.0  # seconds the oldest batch not yet answered may be behind, at most...
MAX_BYTES = 256 << 20  # ...and bytes of bodies not yet answered, at most (past either, batches are counted, not sent)
MAIL_MAX = 1000  # alerts kept for one writer until it takes them
RESTARTS = 5  # a worker that keeps dying is given up (diagnosis stops, ingest goes on)
STUCK = 30.0  # seconds without an answer while batches wait for it: the worker is stuck, and is killed
PIPE_BYTES = 1 << 20  # the pipes' size asked for (Linux; the default is 64 KiB)
WHOLE = 1 << 20  # a body larger than this with ops diagnosis ignores (images) is re-encoded without them
CATCH_UP_POINTS = 1 << 19  # points per frame of a catch-up, at most (8 MiB of f8 x and y)

Series = tuple[str, str, str]  # env, window, trace
Found = list[tuple[str | None, dict[str, Any]]]  # alerts found, each with the writer whose batch raised it


class Diagnosis:
    """Hands the store's committed batches to the worker; raises the alerts it finds through the store."""

    def __init__(self, store: Store, enabled: bool = True):
        self.enabled = enabled
        self.store = store
        self.state = store.state
        stored = [a for env in self.state.envs.values() for a in env.alerts]
        self.next_id = 1 + max((int(a.get("id", 0)) for a in stored), default=0)
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
        # past a bound: series -> [points appended since the worker last got some, writer of the last append]
        self.gap: dict[Series, list[Any]] | None = None
        # alerts answered while batches applied before were not yet committed: raised once those are handed
        # over (their closes known), as (store.batches_applied then, alerts)
        self.held: deque[tuple[int, Found]] = deque()
        self.coming: dict[str | None, int] = {}  # writer -> its alerts found, not yet stored (nor in its mail)
        self.mail: dict[str, list[dict[str, Any]]] = {}  # writer -> alerts its batches raised, until taken
        self.latest: dict[str, int] = {}  # writer -> the number of its last batch handed over
        self.max_lag, self.max_bytes, self.stuck = MAX_LAG, MAX_BYTES, STUCK
        self._answers: asyncio.Future | None = None  # done at the next answer, hand-over or stored alert
        self._progress = time.monotonic()  # the last answer
        self._timer: asyncio.TimerHandle | None = None  # the check for a stuck worker
        self._warned = False
        if enabled:
            store.batch_listeners.append(self.committed)
            self._start()

    # ------------------------------------------------------------ what the store and the handlers call

    def committed(self, client: str | None, ops: list[dict[str, Any]], body: bytes | bytearray | None) -> None:
        """A committed batch (its ops, and its msgpack body when it has one): hand it to the worker, or,
        past a bound, count what it appends."""
        if not self.enabled:
            return
        if self.gap is None and self.flight and self._behind():
            self.gap = {}
        if self.gap is None:
            self._hand(client, ops, body)
        else:
            self._skip(client, ops)
            self._catch_up()
        self._release()

    def mail_for(self, client: str | None) -> list[dict[str, Any]]:
        """The stored alerts a writer's batches raised that it has not taken yet (taken once): what its
        acknowledgement lists. Never waits."""
        return self.mail.pop(client, []) if client is not None and self.mail else []

    async def judged(self, client: str, timeout: float) -> list[dict[str, Any]]:
        """The alerts a writer's batches raised that it has not taken yet (taken once), after the worker
        has answered every batch of it committed so far and their alerts are stored (`timeout` seconds at
        most): how a client gets the alerts of its last batches, whose acknowledgements went first."""
        number = self.latest.get(client, 0)
        flight = self.flight

        def waiting() -> bool:
            return bool(
                (flight and flight[0][0] <= number)
                or self.coming.get(client)
                or (self.gap and any(c == client for _, c in self.gap.values()))
            )

        if self.enabled or self.coming:
            await self._wait(timeout, waiting)
        return self.mail.pop(client, [])

    def close(self) -> None:
        """Let the worker answer everything committed (the points it missed too), raise what it finds, and
        stop it. Before the store closes: the alerts are stored through it."""
        if self.committed in self.store.batch_listeners:
            self.store.batch_listeners.remove(self.committed)
        proc = self.proc
        if proc is None:
            self._release(everything=True)
            return
        self._catch_up(closing=True)
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
        self._release(everything=True)
        self.enabled = False

    # ------------------------------------------------------------ handing over

    def _hand(self, client: str | None, ops: list[dict[str, Any]], body: bytes | bytearray | None) -> None:
        """Hand a batch to the worker (if anything in it is for diagnosis)."""
        if self.proc is None and not self._start():
            return
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
            return
        if body is None or (followed < len(ops) and len(body) > WHOLE):
            body = protocol.packb({"ops": [op for op in ops if op["op"] in FOLLOWED]})
        self.sent += 1
        if client is not None:
            self.latest[client] = self.sent
        self.flight.append((self.sent, client, keys, len(body), time.monotonic()))
        self.flight_bytes += len(body)
        self._write(LENGTH.pack(NUMBER.size + len(body)) + NUMBER.pack(self.sent), memoryview(body))
        self._wake()

    def _skip(self, client: str | None, ops: list[dict[str, Any]]) -> None:
        """Past a bound: count a batch's appends per series; hand over only what ends or re-hints something
        (a trace replaced or removed, a window closed, an env deleted, a role hint), so the worker forgets
        it in order. A hint applies from then on for the worker, before the points it missed."""
        gap = self.gap
        control = []
        for op in ops:
            kind = op["op"]
            if kind not in FOLLOWED:
                continue
            env = op["env"]
            opts = op.get("opts")
            hints = {k: opts[k] for k in HINTS if k in opts} if opts else None
            if kind == "line":
                key = (env, op["win"], op["name"])
                if hints:
                    control.append({"op": "opts", "env": env, "win": op["win"], "opts": hints})
                if op["update"] == "append":
                    missed = gap.get(key)
                    if missed is None:
                        gap[key] = [len(op["y"]), client]
                    else:
                        missed[0] += len(op["y"])
                        missed[1] = client
                    continue
                gap.pop(key, None)  # replaced (its points go whole) or removed
            elif kind == "close":
                for key in [k for k in gap if k[0] == env and k[1] == op["win"]]:
                    del gap[key]
            elif kind == "delete_env":
                for key in [k for k in gap if k[0] == env]:
                    del gap[key]
            elif not hints:
                continue
            control.append(op)
        if control:
            self._hand(client, control, None)

    def _catch_up(self, closing: bool = False) -> None:
        """Once the worker has answered everything (or the server closes), and every batch applied is
        committed (the store's memory is then what the worker was given and missed): hand it the points it
        missed, one append per series (frames of CATCH_UP_POINTS at most), each batch of them as from the
        writer of the series' last append; then batches go to it again."""
        store = self.store
        if self.gap is None or (self.flight and not closing) or store.batches_applied != store.batches_published:
            return
        gap, self.gap = self.gap, None
        if not gap or (self.proc is None and not self._start()):
            return
        envs = self.state.envs
        frames_of: dict[str | None, list[list[dict[str, Any]]]] = {}
        for (env, win, name), (count, client) in gap.items():
            e = envs.get(env)
            w = e.windows.get(win) if e is not None else None
            series = w.traces.get(name) if w is not None and w.kind == "line" else None
            if series is None or not count:
                continue
            x, y = series.tail(count)
            pieces = frames_of.setdefault(client, [[]])
            for start in range(0, len(x), CATCH_UP_POINTS):
                if sum(len(op["x"]) for op in pieces[-1]) >= CATCH_UP_POINTS:
                    pieces.append([])
                end = start + CATCH_UP_POINTS
                op = {"op": "line", "env": env, "win": win, "name": name, "update": "append"}
                pieces[-1].append(op | {"x": x[start:end], "y": y[start:end]})
        caught = 0
        for client, pieces in frames_of.items():
            for ops in pieces:
                if ops:
                    caught += sum(len(op["x"]) for op in ops)
                    self._hand(client, ops, None)
        log.info("diagnosis caught up with ingest: %d points of %d series handed over", caught, len(gap))

    # ------------------------------------------------------------ the worker process

    def _start(self) -> bool:
        """Start the worker with what the store holds; False when diagnosis is off or was given up."""
        if not self.enabled:
            return False
        if self.restarts > RESTARTS:
            self.enabled = False
            self.gap = None
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
            self.gap = None
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
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
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
            if self._timer is None and self.flight:
                self._timer = self._loop.call_later(self.stuck, self._check_stuck)
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

    def _check_stuck(self) -> None:
        """A worker that has answered nothing for `stuck` seconds while batches wait for it is killed (its
        end starts another)."""
        self._timer = None
        if not self.flight or self.proc is None:
            return
        idle = time.monotonic() - max(self._progress, self.flight[0][4])
        if idle >= self.stuck:
            log.error("the diagnosis worker answered nothing in %.0f s; stopping it", idle)
            self.proc.kill()  # its end (_readable) releases what waits for it
            return
        self._timer = self._loop.call_later(self.stuck - idle, self._check_stuck)

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
        found: Found = []
        for number, *_ in list(self.flight):  # what it had not answered is not diagnosed
            self._answered(number, [], found)
        if self._start():
            self._catch_up()  # what it missed while past a bound goes to the new one
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
        found: Found = []
        for payload in frames(self._in):
            number, alerts = msgpack.unpackb(payload, raw=False)
            self._answered(number, alerts, found)
        self._progress = time.monotonic()
        if found:
            store = self.store
            if store.batches_published < store.batches_applied:  # their closes are not handed over yet
                self.held.append((store.batches_applied, found))
            else:
                self._raise(found)
        self._catch_up()
        self._wake()

    def _answered(self, number: int, alerts: list[dict[str, Any]], found: Found) -> None:
        """A batch's answer: its barriers end (alerts held from before it about what it ends are dropped),
        and its alerts still about something that exists are kept (in `found`)."""
        head, client, keys, size, _ = self.flight.popleft()
        assert head == number, (head, number)
        self.flight_bytes -= size
        barriers = self.barriers
        for key in keys:
            left = barriers.pop(key) - 1
            if left:
                barriers[key] = left
        if keys and self.held:
            ended = set(keys)
            for _, held in self.held:
                kept = []
                for c, a in held:
                    if ended.isdisjoint(ended_by(a["env"], a["win"], a["trace"])):
                        kept.append((c, a))
                    else:
                        self._came(c)
                held[:] = kept
        for body in alerts:
            if self._ended(body):
                continue  # its window or trace was closed, replaced or deleted since the append
            found.append((client, body))
            self.coming[client] = self.coming.get(client, 0) + 1

    def _came(self, client: str | None) -> None:
        """One alert of a writer's is no longer coming (stored, or dropped)."""
        left = self.coming.get(client, 0) - 1
        if left > 0:
            self.coming[client] = left
        else:
            self.coming.pop(client, None)

    def _release(self, everything: bool = False) -> None:
        """Raise the alerts held until the batches applied before their answer were handed over."""
        published = self.store.batches_published
        while self.held and (everything or self.held[0][0] <= published):  # bounded by the alerts held
            self._raise(self.held.popleft()[1])

    def _raise(self, found: Found) -> None:
        """Apply, store and publish alerts through the store (those still about something that exists);
        once stored, each waits in its writer's mail."""
        ops, mailed = [], []
        now = time.time()
        for client, body in found:
            if self._ended(body) or self._muted(body):
                self._came(client)
                continue
            body = body | {"id": self.next_id, "t": now, "dismissed": False}
            self.next_id += 1
            ops.append({"op": "alert", "env": body["env"], "alert": body})
            mailed.append((client, body))
        if not ops:
            self._wake()
            return

        def stored(ok: bool) -> None:
            for client, body in mailed:
                self._came(client)
                if ok and client is not None:
                    mail = self.mail.setdefault(client, [])
                    if len(mail) < MAIL_MAX:
                        mail.append(body)
            self._wake()

        self.store.apply_internal(ops, stored)

    def _muted(self, body: dict[str, Any]) -> bool:
        """Whether the alert's kind is muted where it is (in its env, or by its window's `mute` option): then
        it is not raised. The worker has noted its key, so the same ongoing problem does not come back
        after an unmute either (until a restart of the worker, which knows only the stored alerts)."""
        e = self.state.envs.get(body["env"])
        return e is not None and e.muted(body.get("kind", ""), body["win"])

    def _ended(self, body: dict[str, Any]) -> bool:
        """Whether an alert is about something gone since its append (a close, deletion or replacement in a
        batch not yet answered, or already applied to the state)."""
        e = self.state.envs.get(body["env"])
        if e is None or body["win"] not in e.windows:
            return True
        barriers = self.barriers
        return bool(barriers) and any(k in barriers for k in ended_by(body["env"], body["win"], body["trace"]))

    def _behind(self) -> bool:
        """Past a bound: the worker is too far behind ingest (batches are counted, not handed over)."""
        lag = time.monotonic() - self.flight[0][4]
        behind = self.flight_bytes > self.max_bytes or lag > self.max_lag
        if behind and not self._warned:
            self._warned = True
            log.warning("diagnosis is behind ingest by %.1f s; it gets the points it missed once it catches up", lag)
        return behind

    async def _wait(self, seconds: float, waiting: Callable[[], Any]) -> None:
        """Wait while waiting() holds, `seconds` at most: it is checked again at each answer, each batch
        handed over and each alert stored (each wakes the waiters)."""
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
