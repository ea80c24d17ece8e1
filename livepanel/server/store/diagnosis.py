"""The server side of diagnosis: line appends go to the engine, what it finds becomes alert operations.

An alert is an env change like any other (it gets an env seq, is stored, and reaches viewers in
order), so it survives restarts and resumes. The engine (livepanel.diagnosis) is told at start
which alerts are stored, so an ongoing problem is not raised again.

Diagnosis may take only a share of the server's time while ingest is busy (`budget`), so it never
costs ingest more than that share of its throughput. Credit accrues with wall time at that share
(BURST at most). While there is credit and nothing waits, a batch is diagnosed before it is
acknowledged, and its acknowledgement lists the alerts it raised: the usual case, as a training run
takes a small part of the server. Once the credit is spent, appends wait in a backlog, in order, and
are diagnosed when the server is idle (no batch for IDLE) or as credit comes back; the alerts found
there are applied as changes of their own and go to their writer with its next acknowledgement. The
backlog is bounded (MAX_LAG seconds behind, MAX_BYTES of points): past a bound, each batch first
diagnoses the oldest appends until the backlog is back within it, whatever that costs ingest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from livepanel.diagnosis import Alert, Diagnoser
from livepanel.server.store.model import State

log = logging.getLogger("livepanel.diagnosis")

BUDGET = 0.08  # share of the server's time diagnosis may take while ingest is busy (the default)
BURST = 0.002  # seconds of credit at most: an idle spell does not buy a long stall of ingest later
IDLE = 0.005  # seconds without a batch: the server is idle, and the backlog is diagnosed freely
SLICE = 0.005  # seconds of backlog work at most before the event loop gets a turn again
MAX_LAG = 10.0  # seconds the oldest waiting append may be behind, at most...
MAX_BYTES = 256 << 20  # ...and bytes of points waiting, at most
GROUP = 64  # backlog batches diagnosed between two looks at the clock, at most...
GROUP_BYTES = 64 << 10  # ...or as many as hold this many bytes (a few milliseconds of work at most)
MAIL_MAX = 1000  # alerts kept for one writer until its next acknowledgement
FOLLOWED = frozenset(("line", "close", "delete_env"))  # operations diagnosis looks at, once applied


class Diagnosis:
    def __init__(self, state: State, enabled: bool = True, budget: float = BUDGET):
        self.engine = Diagnoser() if enabled else None
        self.state = state
        self.budget = budget
        stored = [a for env in state.envs.values() for a in env.alerts]
        self.next_id = 1 + max((int(a.get("id", 0)) for a in stored), default=0)
        if self.engine is not None and stored:
            self.engine.known([Alert.from_dict(a) for a in stored])
        # set by the Store: apply alert operations found from the backlog, store and publish them
        self.raise_alerts: Callable[[list[dict[str, Any]]], None] = lambda ops: None
        self.credit = BURST if budget > 0 else 0.0  # seconds diagnosis may still take now
        self._accrued = self._last_batch = time.perf_counter()
        # batches waiting: (client, its line, close and delete_env operations, bytes, when queued)
        self.backlog: deque[tuple[str | None, list[dict[str, Any]], int, float]] = deque()
        self.backlog_bytes = 0
        # closes, env deletions, trace replacements and removals waiting in the backlog, by what they end:
        # an alert from an append before one of them would land on what replaced it (or on nothing)
        self.barriers: dict[tuple[str, ...], int] = {}
        self.mail: dict[str, list[dict[str, Any]]] = {}  # client -> alerts its backlogged appends raised
        self.max_lag, self.max_bytes = MAX_LAG, MAX_BYTES
        self._timer: asyncio.TimerHandle | asyncio.Handle | None = None
        self._warned = False

    # ------------------------------------------------------------ what the Store calls

    def admit(self) -> bool:
        """At the start of a batch: whether to diagnose it now, before its acknowledgement (credit
        left, nothing waiting). Otherwise its appends go to the backlog (defer), after what waits."""
        now = time.perf_counter()
        self._last_batch = now
        self._accrue(now)
        if self.backlog and (now - self.backlog[0][3] > self.max_lag or self.backlog_bytes > self.max_bytes):
            self._catch_up(now)
        return not self.backlog and self.credit > 0

    def spend(self, seconds: float) -> None:
        """Charge the time a batch's diagnosis took."""
        self.credit -= seconds

    def defer(self, client: str | None, ops: list[dict[str, Any]], size: int) -> None:
        """Queue a batch's applied operations (those follow takes) for diagnosis later, in order."""
        followed = [op for op in ops if op["op"] in FOLLOWED]
        for op in followed:
            key = _barrier(op)
            if key is not None:
                self.barriers[key] = self.barriers.get(key, 0) + 1
        if not followed:
            return
        self.backlog.append((client, followed, size, self._last_batch))
        self.backlog_bytes += size
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(IDLE, self._drain)

    def mail_for(self, client: str | None) -> list[dict[str, Any]]:
        """Alerts a writer's backlogged appends raised since its last acknowledgement (taken once)."""
        return self.mail.pop(client, []) if client is not None and self.mail else []

    def close(self) -> None:
        """Diagnose everything waiting, now (the Store closes)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._process(lambda: True, charge=False)

    def follow(self, op: dict[str, Any], state: State) -> list[dict[str, Any]] | tuple[()]:
        """The alert operations that an applied line, close or delete_env operation raises (usually none)."""
        engine = self.engine
        if engine is None:
            return ()
        kind, env = op["op"], op["env"]
        if kind == "line":
            win, name = op["win"], op["name"]
            if op["update"] != "append":
                engine.forget(env, win, name)
                if op["update"] == "remove":
                    return ()
            e = state.envs.get(env)  # state.window(env, win), inlined: this runs for every line append
            w = e.windows.get(win) if e else None
            found = engine.observe(env, win, name, op["x"], op["y"], w.opts if w else None)
            if not found:
                return ()
        elif kind == "close":
            engine.forget(env, op["win"])
            return ()
        elif kind == "delete_env":
            engine.forget(env)
            return ()
        else:
            return ()
        return self._ops(found)

    def settle(self) -> list[dict[str, Any]] | tuple[()]:
        """After a batch (also one diagnosed from the backlog): the alert operations of findings that waited for a later
        call (the engine confirms some on the next call; a batch holds all its writer had)."""
        engine = self.engine
        return self._ops(engine.settle()) if engine is not None and engine.unconfirmed() else ()

    def _ops(self, found: list[Alert]) -> list[dict[str, Any]]:
        ops = []
        for alert in found:
            body = alert.to_dict() | {"id": self.next_id, "t": time.time()}
            self.next_id += 1
            ops.append({"op": "alert", "env": alert.env, "alert": body})
        return ops

    # ------------------------------------------------------------ the backlog

    def _accrue(self, now: float) -> None:
        self.credit = min(self.credit + self.budget * (now - self._accrued), BURST)
        self._accrued = now

    def _drain(self) -> None:
        """Timer: diagnose waiting appends, freely when the server is idle, else as far as credit goes."""
        self._timer = None
        now = time.perf_counter()
        self._accrue(now)
        idle = now - self._last_batch >= IDLE
        end = now + SLICE
        if idle:
            self._process(lambda: time.perf_counter() < end, charge=False)
        else:
            self._process(lambda: self.credit > 0 and time.perf_counter() < end, charge=True)
        if self.backlog:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_soon(self._drain) if idle else loop.call_later(IDLE, self._drain)

    def _catch_up(self, now: float) -> None:
        """Past a bound: diagnose the oldest waiting appends until the backlog is back within both
        (outside the budget: a backlog that keeps growing must slow ingest, or it would grow forever)."""
        if not self._warned:
            self._warned = True
            log.warning("diagnosis is %.1f s behind ingest; it now slows ingest to catch up", now - self.backlog[0][3])
        oldest = now - self.max_lag
        self._process(lambda: self.backlog[0][3] < oldest or self.backlog_bytes > self.max_bytes, charge=False)

    def _process(self, more: Callable[[], bool], charge: bool) -> None:
        """Diagnose backlog batches, oldest first, while `more()` (checked every GROUP batches or
        GROUP_BYTES), each as it would have been before its acknowledgement; raise what they find."""
        found: list[dict[str, Any]] = []
        backlog, state = self.backlog, self.state
        while backlog and more():  # bounded by the backlog, which only shrinks here
            start, size, count = time.perf_counter(), 0, 0
            while backlog and count < GROUP and size < GROUP_BYTES:
                client, ops, nbytes, _ = backlog.popleft()
                size += nbytes
                count += 1
                for op in ops:
                    alerts = self.follow(op, state)
                    key = _barrier(op)
                    if key is not None:
                        left = self.barriers.pop(key) - 1
                        if left:
                            self.barriers[key] = left
                    self._keep(alerts, client, found)
                self._keep(self.settle(), client, found)
            self.backlog_bytes -= size
            if charge:
                self.credit -= time.perf_counter() - start
        if found:
            self.raise_alerts(found)

    def _keep(self, alerts: list[dict[str, Any]] | tuple[()], client: str | None, found: list[dict]) -> None:
        """Add the alerts still about something that exists to `found`, and to their writer's mail."""
        for alert in alerts:
            if self._ended(alert):
                continue  # its window or trace was closed, replaced or deleted since the append
            found.append(alert)
            if client is not None:
                mail = self.mail.setdefault(client, [])
                if len(mail) < MAIL_MAX:
                    mail.append(alert["alert"])

    def _ended(self, alert: dict[str, Any]) -> bool:
        """Whether an alert found from the backlog is about something gone since (a close, a deletion,
        a replacement still waiting after the append, or already applied to the state)."""
        env, body = alert["env"], alert["alert"]
        e = self.state.envs.get(env)
        if e is None or body["win"] not in e.windows:
            return True
        barriers = self.barriers
        return bool(barriers) and (
            ("env", env) in barriers
            or ("win", env, body["win"]) in barriers
            or ("trace", env, body["win"], body["trace"]) in barriers
        )


def _barrier(op: dict[str, Any]) -> tuple[str, ...] | None:
    """What a close, delete_env, replace or remove ends (the key of Diagnosis.barriers); None for an append."""
    if op["op"] == "delete_env":
        return ("env", op["env"])
    if op["op"] == "close":
        return ("win", op["env"], op["win"])
    return None if op["update"] == "append" else ("trace", op["env"], op["win"], op["name"])
