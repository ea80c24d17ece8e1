"""Diagnosis in its own process, beside the store: acknowledgements never wait for it, each alert goes to
its writer once (a later ack, or /alerts?client= once judged), stale ones are dropped, a worker past its
bound gets the points it missed once it catches up, and a worker that dies or is stuck is started again
while ingest goes on.

No test here depends on how fast the worker is: a worker that must not answer yet is stopped (SIGSTOP),
and every wait polls a condition until a deadline."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from test_alerts import loss_then_nan
from wire import arun, get, line_op, send_ops

from livepanel import protocol
from livepanel.server import diagnosis as diagnosis_module
from livepanel.server.diagnosis import Diagnosis
from livepanel.server.store import Store

sys.path.insert(0, str(Path(__file__).parent / "diagnosis"))
from synthetic import PROBLEMS, labelled_runs  # noqa: E402

DEADLINE = 30.0  # seconds any condition below may take to hold, at most


def _batch(client: str, seq: int, ops: list[dict]) -> tuple[str, int, list[dict], bytes]:
    """A batch as the ingest handler has it: validated ops and the body they came in."""
    body = protocol.packb({"client": client, "seq": seq, "ops": ops})
    return (*protocol.validate_batch(protocol.unpackb(body)), body)


def _nan_ops(win: str = "loss", env: str = "run") -> list[dict]:
    x, y = loss_then_nan()
    return [line_op(env, win, x, y, "train")]


def _kinds(alerts: list[dict]) -> list[tuple[str, str]]:
    return [(a["kind"], a["env"]) for a in alerts]


async def _until(condition: Callable[[], object], what: str) -> None:
    """Poll a condition until it holds (DEADLINE seconds at most)."""
    deadline = time.monotonic() + DEADLINE
    while not condition():  # bounded by the deadline
        assert time.monotonic() < deadline, f"not within {DEADLINE} s: {what}"
        await asyncio.sleep(0.01)


def _stored(store: Store) -> list[dict]:
    return [a for e in store.state.envs.values() for a in e.alerts]


def test_an_alert_goes_to_its_writer_once_with_a_later_ack_or_judged():
    """The ack of a batch is sent once it is stored (here the worker is stopped: it cannot have judged
    it); the alert, once judged and stored, waits in the writer's mail for its next ack, or for
    /alerts?client=, and is taken once."""

    async def run() -> None:
        store = Store(None)
        diagnosis = Diagnosis(store)
        pid = diagnosis.proc.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            assert await store.ingest(*_batch("nan-client-1", 1, _nan_ops())) is False  # stored, not judged
            assert diagnosis.mail_for("nan-client-1") == []
            assert await diagnosis.judged("nan-client-1", 0.05) == []  # not judged yet: nothing to give
        finally:
            os.kill(pid, signal.SIGCONT)
        await _until(lambda: diagnosis.mail.get("nan-client-1"), "the alert waits in the writer's mail")
        mailed = diagnosis.mail_for("nan-client-1")  # what the writer's next ack lists
        assert _kinds(mailed) == [("nonfinite", "run")] and mailed == _stored(store)
        assert mailed[0]["step"] == 200.0 and mailed[0]["id"] == 1
        assert diagnosis.mail_for("nan-client-1") == [] and await diagnosis.judged("nan-client-1", 0) == []
        # the same through judged: it waits until the worker has answered and the alert is stored
        await store.ingest(*_batch("nan-client-2", 1, _nan_ops(env="run2")))
        assert _kinds(await diagnosis.judged("nan-client-2", DEADLINE)) == [("nonfinite", "run2")]
        assert diagnosis.mail_for("nan-client-2") == [] and await diagnosis.judged("nan-client-1", 0) == []
        diagnosis.close()
        store.close()

    arun(run())


def test_append_of_a_window_closed_since_raises_nothing():
    """Closed in the same batch (the worker drops it), in a later batch handed over before the answer
    (the server does), or closed and drawn again (the alert would land on the new window): no alert."""
    close = {"op": "close", "env": "run", "win": "loss"}

    async def run() -> Store:
        store = Store(None)
        diagnosis = Diagnosis(store)
        await store.ingest(*_batch("closer-client", 1, [*_nan_ops(), close]))
        pid = diagnosis.proc.pid
        os.kill(pid, signal.SIGSTOP)  # the batches below are all handed over before any answer
        try:
            await store.ingest(*_batch("closer-client", 2, _nan_ops()))
            await store.ingest(*_batch("closer-client", 3, [close, line_op("run", "loss", [0.0], [1.0], "train")]))
        finally:
            os.kill(pid, signal.SIGCONT)
        assert await diagnosis.judged("closer-client", DEADLINE) == []
        diagnosis.close()
        store.close()
        return store

    store = arun(run())
    assert store.state.envs["run"].alerts == []
    assert "loss" in store.state.envs["run"].windows

    async def open_one() -> Store:  # the same left open: caught (so the ones above were diagnosed, and dropped)
        store = Store(None)
        diagnosis = Diagnosis(store)
        await store.ingest(*_batch("closer-client", 1, _nan_ops()))
        assert _kinds(await diagnosis.judged("closer-client", DEADLINE)) == [("nonfinite", "run")]
        diagnosis.close()
        store.close()
        return store

    assert [a["kind"] for a in arun(open_one()).state.envs["run"].alerts] == ["nonfinite"]


def test_past_its_bound_ingest_goes_on_and_the_worker_gets_what_it_missed():
    """With the worker stopped, ingest goes on (no ack waits for it) and, past the byte bound, batches
    are no longer handed over; once it goes on, it gets the points it missed, and each writer gets the
    alert its own data raised. A series closed meanwhile is not caught up; one replaced meanwhile is
    judged from its replacement on. The worker runs at a lower priority than the server."""
    x, y = loss_then_nan()

    async def run() -> tuple[dict[str, list[dict]], Store, int]:
        store = Store(None)
        diagnosis = Diagnosis(store)
        diagnosis.max_bytes, diagnosis.stuck = 1000, 600.0  # a few batches; never "stuck" here
        pid = diagnosis.proc.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            for i in range(0, len(x), 10):
                for w in range(3):
                    ops = [line_op(f"run{w}", "loss", x[i : i + 10], y[i : i + 10], "train")]
                    await store.ingest(*_batch(f"bound-client-{w}", i // 10 + 1, ops))
            assert diagnosis.gap and len(diagnosis.flight) < 10  # counted, not handed over
            # a NaN loss whose window is closed; a NaN loss replaced by a healthy start, then NaN again
            await store.ingest(*_batch("closed-client", 1, [*_nan_ops(env="closed")]))
            await store.ingest(*_batch("closed-client", 2, [{"op": "close", "env": "closed", "win": "loss"}]))
            await store.ingest(*_batch("replaced-client", 1, _nan_ops(env="replaced")))
            healthy = line_op("replaced", "loss", x[:200], y[:200], "train", update="replace")
            await store.ingest(*_batch("replaced-client", 2, [healthy]))
            await store.ingest(*_batch("replaced-client", 3, [line_op("replaced", "loss", x[200:], y[200:], "train")]))
            assert await diagnosis.judged("bound-client-0", 0.05) == []  # not judged yet
            assert diagnosis.proc.pid == pid
        finally:
            os.kill(pid, signal.SIGCONT)
        got = {c: await diagnosis.judged(c, DEADLINE) for c in ("closed-client", "replaced-client")}
        got |= {f"bound-client-{w}": await diagnosis.judged(f"bound-client-{w}", DEADLINE) for w in range(3)}
        assert diagnosis.gap is None and diagnosis.proc.pid == pid
        nice = os.getpriority(os.PRIO_PROCESS, pid) - os.getpriority(os.PRIO_PROCESS, 0)  # it has answered: set
        diagnosis.close()
        store.close()
        return got, store, nice

    got, store, nice = arun(run())
    assert {c: _kinds(a) for c, a in got.items()} == {
        "closed-client": [],
        "replaced-client": [("nonfinite", "replaced")],
        "bound-client-0": [("nonfinite", "run0")],
        "bound-client-1": [("nonfinite", "run1")],
        "bound-client-2": [("nonfinite", "run2")],
    }
    assert sorted(a["env"] for a in _stored(store)) == ["replaced", "run0", "run1", "run2"]
    assert nice > 0, nice


def test_alerts_of_a_backlog_go_to_the_writers_that_raised_them():
    """Two writers' batches wait for a stopped worker (within its bound); once it goes on (and diagnoses
    them together), each writer gets the alert its own data raised, with its next ack."""

    async def run() -> tuple[list[dict], list[dict], list[dict]]:
        store = Store(None)
        diagnosis = Diagnosis(store)
        pid = diagnosis.proc.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            for seq in (1, 2):
                for w in ("a", "b"):
                    ops = [line_op(w, "loss", *loss_then_nan(), "train")] if seq == 1 else []
                    ops.append(line_op(w, "other", [float(seq)], [1.0]))
                    await store.ingest(*_batch(f"writer-{w}", seq, ops))
            assert diagnosis.gap is None and len(diagnosis.flight) == 4
        finally:
            os.kill(pid, signal.SIGCONT)
        await _until(lambda: not diagnosis.coming and not diagnosis.flight, "the backlog is judged and stored")
        later = [diagnosis.mail_for(f"writer-{w}") for w in "ab"]  # what their next acks list
        diagnosis.close()
        store.close()
        return later[0], later[1], _stored(store)

    to_a, to_b, stored = arun(run())
    assert _kinds(to_a) == [("nonfinite", "a")] and _kinds(to_b) == [("nonfinite", "b")]
    assert sorted(a["env"] for a in stored) == ["a", "b"]


def test_a_worker_that_dies_is_started_again(server):
    """Killed mid-run: ingest goes on, a new worker starts with the stored alerts (an ongoing problem is
    not raised again), and catches what comes after."""
    x, y = loss_then_nan()
    acks = [send_ops(server.url, _nan_ops(), client="kill-client-1")[1]]
    assert _kinds(
        acks[0].get("alerts", []) + get(server.url, "/api/v1/alerts", client="kill-client-1", wait=30)[1]["alerts"]
    ) == [("nonfinite", "run")]
    children_path = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children")
    children = children_path.read_text().split()
    assert len(children) == 1, children  # the diagnosis worker
    os.kill(int(children[0]), signal.SIGKILL)

    async def restarted() -> None:
        await _until(lambda: (new := children_path.read_text().split()) and new != children, "a new worker")

    arun(restarted())
    assert "the diagnosis worker stopped (exit status -9)" in server.log.read_text()
    more = line_op("run", "loss", x + 300, np.full(300, np.nan), "train")  # the same problem, going on
    fresh = line_op("run2", "loss", x, y, "train")
    status, ack = send_ops(server.url, [more, fresh], client="kill-client-1", seq=2)
    assert status == 200
    raised = ack.get("alerts", []) + get(server.url, "/api/v1/alerts", client="kill-client-1", wait=30)[1]["alerts"]
    assert _kinds(raised) == [("nonfinite", "run2")]
    assert get(server.url, "/api/v1/alerts", env="run2")[1]["alerts"] == raised
    assert len(get(server.url, "/api/v1/alerts", env="run")[1]["alerts"]) == 1
    assert len(children_path.read_text().split()) == 1


def test_a_large_body_is_handed_over_without_what_diagnosis_ignores(monkeypatch):
    monkeypatch.setattr(diagnosis_module, "WHOLE", 0)
    text = {"op": "text", "env": "run", "win": "notes", "text": "x" * 1000}

    async def run() -> list[dict]:
        store = Store(None)
        diagnosis = Diagnosis(store)
        await store.ingest(*_batch("large-client", 1, [text, *_nan_ops()]))
        judged = await diagnosis.judged("large-client", DEADLINE)
        diagnosis.close()
        store.close()
        return judged

    assert _kinds(arun(run())) == [("nonfinite", "run")]


def test_every_kind_is_caught_through_the_worker():
    """One labelled run of each problem, in batches of 50 steps (ops the store encodes for the worker, as
    from a viewer's socket): every kind is caught."""
    runs = {}
    for run in labelled_runs(seed=0):
        runs.setdefault(run.label, run)

    async def replay(batches: list[tuple]) -> Store:
        store = Store(None)
        diagnosis = Diagnosis(store)
        for batch in batches:
            await store.ingest(*batch[:3])  # no body: diagnosis encodes the ops for the worker
        diagnosis.close()
        store.close()
        return store

    for kind in PROBLEMS:
        run = runs[kind]
        batches = []
        for start in range(0, run.length, 50):
            ops = []
            for tr in run.traces:
                a, b = np.searchsorted(tr.x, [start, start + 50])
                if b > a:
                    ops.append(line_op("run", tr.win, tr.x[a:b], tr.y[a:b], tr.trace) | {"opts": tr.opts})
            batches.append(_batch("labelled-client", len(batches) + 1, ops))
        store = arun(replay(batches))
        found = [a["kind"] for a in store.state.envs["run"].alerts]
        assert kind in found, (run.name, found)


def test_a_worker_that_cannot_start_leaves_ingest_working(monkeypatch, caplog):
    monkeypatch.setattr(diagnosis_module.sys, "executable", "/nonexistent/python")

    async def run() -> tuple[bool, list[dict], Store, Diagnosis]:
        store = Store(None)
        diagnosis = Diagnosis(store)
        duplicate = await store.ingest(*_batch("no-worker-client", 1, _nan_ops()))
        judged = await diagnosis.judged("no-worker-client", DEADLINE)
        diagnosis.close()
        store.close()
        return duplicate, judged, store, diagnosis

    duplicate, judged, store, diagnosis = arun(run())
    assert not duplicate and judged == [] and not diagnosis.enabled
    assert store.state.envs["run"].windows["loss"].traces["train"].n == 300
    assert "cannot start the diagnosis worker" in caplog.text


def test_a_stuck_worker_is_stopped_and_ingest_goes_on(caplog):
    """A worker that answers nothing (stopped here) while batches wait for it is killed after `stuck`
    seconds; ingest never waited for it, and a new one takes the batches after."""

    async def run() -> list[dict]:
        store = Store(None)
        diagnosis = Diagnosis(store)
        diagnosis.stuck = 0.5
        pid = diagnosis.proc.pid
        os.kill(pid, signal.SIGSTOP)
        for seq in range(1, 4):  # acks never wait for the stopped worker
            await store.ingest(*_batch("stuck-client", seq, [line_op("run", "o", [float(seq)], [1.0])]))
        await _until(lambda: diagnosis.proc is not None and diagnosis.proc.pid != pid, "a new worker")
        await store.ingest(*_batch("stuck-client", 4, _nan_ops()))
        judged = await diagnosis.judged("stuck-client", DEADLINE)
        diagnosis.close()
        store.close()
        return judged

    with caplog.at_level("ERROR", logger="livepanel.diagnosis"):
        judged = arun(run())
    assert "answered nothing" in caplog.text
    assert _kinds(judged) == [("nonfinite", "run")]


def test_the_worker_follows_role_hints_as_the_store_merges_opts():
    """An opts op names an unrecognised series a training loss (then its NaN is raised); a hint set to
    None is removed, and a close forgets the window's hints."""
    from livepanel.diagnosis.worker import Worker

    x, y = loss_then_nan()
    worker = Worker([], [])

    def body(*ops: dict) -> bytes:
        return protocol.packb({"ops": list(ops)})

    assert Worker([], []).batch(body(line_op("run", "metric", x, y))) == []  # by its name alone: not watched

    hint = {"op": "opts", "env": "run", "win": "metric", "opts": {"role": "train_loss"}}
    assert worker.batch(body(hint, line_op("run", "metric", x[:100], y[:100]))) == []
    assert [a["kind"] for a in worker.batch(body(line_op("run", "metric", x[100:], y[100:])))] == ["nonfinite"]
    unset = {"op": "opts", "env": "run", "win": "metric", "opts": {"role": None}}
    worker.batch(body(unset))
    assert ("run", "metric") not in worker.hints
    started = Worker([], [["run", "metric", {"role": "train_loss"}]])  # as the store held it at start
    assert [a["kind"] for a in started.batch(body(line_op("run", "metric", x, y)))] == ["nonfinite"]
    started.batch(body({"op": "close", "env": "run", "win": "metric"}))
    assert started.hints == {}


def test_a_backlog_is_diagnosed_together_and_each_alert_goes_with_its_batch():
    """Batches given to the worker at once (it fell behind) raise what they raise one by one, each alert
    with the batch that last appended to its trace, and none about a window a later batch closed (a
    trace's appends of other dtypes joined too)."""
    from livepanel.diagnosis.worker import Worker

    x, y = loss_then_nan()
    first = line_op("a", "loss", x[:100], y[:100], "train")
    first["x"], first["y"] = x[:100].astype("<i4"), y[:100].astype("<f4")  # joined with f8 points after
    bodies = [
        protocol.packb({"ops": ops})
        for ops in (
            [first],
            [line_op("b", "loss", x, y, "train")],
            [line_op("a", "loss", x[100:], y[100:], "train"), line_op("c", "loss", x, y, "train")],
            [line_op("d", "loss", x[:100], y[:100], "train"), {"op": "close", "env": "c", "win": "loss"}],
            [line_op("d", "loss", x[100:], y[100:], "train")],
        )
    ]
    together = Worker([], []).batches(bodies)
    assert [[(a["kind"], a["env"]) for a in found] for found in together] == [
        [],
        [("nonfinite", "b")],
        [("nonfinite", "a")],
        [],
        [("nonfinite", "d")],
    ]
    alone = Worker([], [])
    assert [[(a["kind"], a["env"]) for a in alone.batch(b)] for b in bodies] == [
        [],
        [("nonfinite", "b")],
        [("nonfinite", "a"), ("nonfinite", "c")],  # c's, raised before its close is applied, the store drops
        [],
        [("nonfinite", "d")],
    ]
    assert [a["step"] for found in together for a in found] == [200.0] * 3


def test_a_mailed_alert_is_on_disk(tmp_path):
    """Alerts the worker found are committed after their batch, and wait in their writer's mail (for its
    next ack) only once committed."""
    import sqlite3

    async def run() -> tuple[list[dict], set[int]]:
        store = Store(tmp_path / "data")
        diagnosis = Diagnosis(store)
        file = store.persist.file
        for seq in range(1, 6):
            await store.ingest(*_batch("durable-client", seq, _nan_ops(env=f"run{seq}")))
        await _until(lambda: len(diagnosis.mail.get("durable-client", [])) == 5, "five alerts in the mail")
        mailed = diagnosis.mail_for("durable-client")
        with sqlite3.connect(file) as db:  # another connection: what is committed
            on_disk = {r[0] for r in db.execute("SELECT id FROM alerts")}
        diagnosis.close()
        store.close()
        return mailed, on_disk

    mailed, on_disk = arun(run())
    assert sorted(a["env"] for a in mailed) == [f"run{s}" for s in range(1, 6)]
    assert {a["id"] for a in mailed} <= on_disk


def test_an_alert_answered_before_a_later_close_is_committed_is_dropped(tmp_path):
    """A batch that closes a window and draws it again is applied before the worker answers an earlier
    append there; whether its commit (and hand-over) comes before that answer or after it, the alert
    does not land on the new window."""

    async def run() -> tuple[list[dict], Store]:
        store = Store(tmp_path / "data")
        diagnosis = Diagnosis(store)
        pid = diagnosis.proc.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            await store.ingest(*_batch("reopen-client", 1, _nan_ops()))
            again = [{"op": "close", "env": "run", "win": "loss"}, line_op("run", "loss", [0.0], [1.0], "train")]
            later = asyncio.ensure_future(store.ingest(*_batch("reopen-client", 2, again)))
            await _until(lambda: store.batches_applied == 2, "the close applied to memory")
        finally:
            os.kill(pid, signal.SIGCONT)
        await later
        judged = await diagnosis.judged("reopen-client", DEADLINE)
        diagnosis.close()
        store.close()
        return judged, store

    judged, store = arun(run())
    assert judged == [] and store.state.envs["run"].alerts == []
    assert store.state.envs["run"].windows["loss"].traces["train"].n == 1
