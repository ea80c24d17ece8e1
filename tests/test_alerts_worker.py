"""Diagnosis in its own process: alerts found while other batches wait for the worker go to their writer
with a later acknowledgement, stale ones are dropped, a worker far behind holds acknowledgements back,
and a worker that dies is started again while ingest goes on."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_alerts import loss_then_nan
from wire import arun, get, line_op, send_ops

from livepanel import protocol
from livepanel.server.store import Store
from livepanel.server.store import diagnosis as diagnosis_module

sys.path.insert(0, str(Path(__file__).parent / "diagnosis"))
from synthetic import PROBLEMS, labelled_runs  # noqa: E402


def _batch(client: str, seq: int, ops: list[dict]) -> tuple[str, int, list[dict], bytes]:
    """A batch as the ingest handler has it: validated ops and the body they came in."""
    body = protocol.packb({"client": client, "seq": seq, "ops": ops})
    return (*protocol.validate_batch(protocol.unpackb(body)), body)


def _nan_ops(win: str = "loss") -> list[dict]:
    x, y = loss_then_nan()
    return [line_op("run", win, x, y, "train")]


async def _behind_another(store: Store, first: tuple, then: tuple) -> tuple[list[dict], list[dict]]:
    """Ingest `first`, and `then` while first's ack waits for the worker: then's ack does not wait
    (another batch waits for the worker), so what it raises comes later."""
    a = asyncio.ensure_future(store.ingest(*first))
    await asyncio.sleep(0)  # first is handed over and waits for its answer
    raised_then = (await store.ingest(*then))[1]
    return (await a)[1], raised_then


async def _answered(store: Store, seconds: float = 30) -> None:
    """Wait until the worker has answered every batch handed over (`seconds` at most)."""
    deadline = time.monotonic() + seconds
    while store.diagnosis.flight and time.monotonic() < deadline:  # bounded by the deadline
        await asyncio.sleep(0.01)


async def _worker_up() -> Store:
    """A memory Store whose worker is up and has answered a first batch (none in flight)."""
    store = Store(None)
    await store.ingest(*_batch("start-client", 1, [line_op("ready", "w", [0.0], [1.0])]))
    await _answered(store)
    return store


def test_alert_found_behind_another_batch_comes_with_the_next_ack():
    async def run() -> tuple[list, list, list, Store]:
        store = Store(None)
        first = _batch("other-client-1", 1, [line_op("run", "other", [0.0, 1.0], [1.0, 1.0])])
        raised_first, raised_nan = await _behind_another(store, first, _batch("nan-client-1", 1, _nan_ops()))
        await _answered(store, 10)
        later = await store.ingest(*_batch("nan-client-1", 2, [line_op("run", "other", [2.0], [1.0])]))
        store.close()
        return raised_first, raised_nan, later[1], store

    raised_first, raised_nan, later, store = arun(run())
    assert raised_first == [] and raised_nan == []
    stored = store.state.envs["run"].alerts
    assert [a["kind"] for a in stored] == ["nonfinite"] and later == stored
    assert stored[0]["step"] == 200.0 and stored[0]["id"] == 1


def test_append_of_a_window_closed_since_raises_nothing():
    """Closed in the same batch (the worker drops it) or in a later one answered after it (the server does),
    or closed and drawn again (the alert would land on the new window): no alert."""
    close = {"op": "close", "env": "run", "win": "loss"}

    async def run() -> Store:
        store = Store(None)
        assert (await store.ingest(*_batch("closer-client", 1, [*_nan_ops(), close])))[1] == []
        first = asyncio.ensure_future(store.ingest(*_batch("other-client-1", 1, [line_op("run", "o", [0.0], [1.0])])))
        await asyncio.sleep(0)  # first is handed over and waits for its answer: the acks below do not wait
        assert (await store.ingest(*_batch("closer-client", 2, _nan_ops())))[1] == []
        again = [close, line_op("run", "loss", [0.0], [1.0], "train")]
        assert (await store.ingest(*_batch("closer-client", 3, again)))[1] == []  # before batch 2 is answered
        await first
        store.close()
        assert store.diagnosis.mail_for("closer-client") == []
        return store

    store = arun(run())
    assert store.state.envs["run"].alerts == []
    assert "loss" in store.state.envs["run"].windows

    # the same left open: caught (so the ones above were diagnosed, and dropped). Checked in the state, as
    # above: the ack of a fresh store's first batch may go before the worker has started (WAIT)
    async def open_one() -> Store:
        store = Store(None)
        await store.ingest(*_batch("closer-client", 1, _nan_ops()))
        store.close()
        return store

    assert [a["kind"] for a in arun(open_one()).state.envs["run"].alerts] == ["nonfinite"]


def test_worker_past_its_bound_holds_acks_back():
    """Batches back to back from several writers: past max_bytes not yet answered, an ack waits until
    the worker is back within it, and lists what it raised meanwhile."""
    x, y = loss_then_nan()

    async def writer(store: Store, w: int) -> list[dict]:
        raised = []
        for i in range(0, len(x), 10):
            ops = [line_op(f"run{w}", "loss", x[i : i + 10], y[i : i + 10], "train")]
            raised += (await store.ingest(*_batch(f"bound-client-{w}", i // 10 + 1, ops)))[1]
            assert store.diagnosis.flight_bytes <= store.diagnosis.max_bytes or not store.diagnosis.flight
        return raised

    async def run() -> list[list[dict]]:
        store = Store(None)
        store.diagnosis.max_bytes = 1000
        raised = await asyncio.gather(*(writer(store, w) for w in range(4)))
        store.close()
        return raised

    raised = arun(run())
    assert [[a["kind"] for a in r] for r in raised] == [["nonfinite"]] * 4


def test_a_worker_that_dies_is_started_again(server):
    """Killed mid-run: ingest goes on, and the new worker catches what comes after."""
    status, ack = send_ops(server.url, [line_op("run", "warm", [0.0], [1.0], "train")], client="kill-client-1")
    assert status == 200
    children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text().split()
    assert len(children) == 1, children  # the diagnosis worker
    os.kill(int(children[0]), signal.SIGKILL)
    x, y = loss_then_nan()
    status, ack = send_ops(server.url, [line_op("run", "loss", x, y, "train")], client="kill-client-1", seq=2)
    assert status == 200
    raised = ack.get("alerts", [])
    for seq in range(3, 50):  # bounded; the batch the dead worker had may go undiagnosed
        if raised:
            break
        ops = [line_op(f"run{seq}", "loss", x, y, "train")]
        status, ack = send_ops(server.url, ops, client="kill-client-1", seq=seq)
        assert status == 200
        raised = ack.get("alerts", [])
        time.sleep(0.05)
    # an ack right after the writer's last one does not wait: it may list several batches' alerts
    assert raised and {a["kind"] for a in raised} == {"nonfinite"}, raised
    for alert in raised:
        assert get(server.url, "/api/v1/alerts", env=alert["env"])[1]["alerts"] == [alert]
    new = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text().split()
    assert len(new) == 1 and new != children
    assert "the diagnosis worker stopped (exit status -9)" in server.log.read_text()


def test_a_large_body_is_handed_over_without_what_diagnosis_ignores(monkeypatch):
    monkeypatch.setattr(diagnosis_module, "WHOLE", 0)
    text = {"op": "text", "env": "run", "win": "notes", "text": "x" * 1000}

    async def run() -> Store:
        store = Store(None)
        await store.ingest(*_batch("large-client", 1, [text, *_nan_ops()]))
        store.close()
        return store

    # in the state: the ack of a fresh store's first batch may go before the worker has started (WAIT)
    assert [a["kind"] for a in arun(run()).state.envs["run"].alerts] == ["nonfinite"]


def test_every_kind_is_caught_through_the_worker_when_acks_do_not_wait():
    """One labelled run of each problem, in batches of 50 steps from writers that never wait for the
    worker (another writer's batch always waits first): every kind is still caught."""
    runs = {}
    for run in labelled_runs(seed=0):
        runs.setdefault(run.label, run)

    async def replay(batches: list[tuple]) -> Store:
        store = Store(None)
        first = asyncio.ensure_future(store.ingest(*_batch("first-client", 1, [line_op("e", "w", [0.0], [1.0])])))
        await asyncio.sleep(0)
        for batch in batches:
            await store.ingest(*batch[:3])  # no body: the store encodes the ops for the worker
        await first
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

    async def run() -> tuple[bool, list[dict], Store]:
        store = Store(None)
        duplicate, raised = await store.ingest(*_batch("no-worker-client", 1, _nan_ops()))
        store.close()
        return duplicate, raised, store

    duplicate, raised, store = arun(run())
    assert not duplicate and raised == [] and not store.diagnosis.enabled
    assert store.state.envs["run"].windows["loss"].traces["train"].n == 300
    assert "cannot start the diagnosis worker" in caplog.text


def test_a_stuck_worker_is_stopped_and_ingest_goes_on(caplog):
    """Past the bound, acks wait for the worker; one that answers nothing (stopped here) is killed, and
    a new one takes the batches after."""

    async def run() -> tuple[float, list[dict]]:
        store = Store(None)
        diagnosis = store.diagnosis
        diagnosis.max_bytes, diagnosis.stuck = 0, 0.5  # every batch waits for its answer; stuck after 0.5 s
        assert (await store.ingest(*_batch("stuck-client", 1, [line_op("run", "o", [0.0], [1.0])])))[1] == []
        os.kill(diagnosis.proc.pid, signal.SIGSTOP)
        start = time.monotonic()
        await store.ingest(*_batch("stuck-client", 2, [line_op("run", "o", [1.0], [1.0])]))
        waited = time.monotonic() - start
        raised = (await store.ingest(*_batch("stuck-client", 3, _nan_ops())))[1]
        store.close()
        return waited, raised

    waited, raised = arun(run())
    assert 0.4 < waited < 5, waited
    assert "answered nothing" in caplog.text
    assert [a["kind"] for a in raised] == ["nonfinite"]


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


def test_alerts_of_a_backlog_go_to_the_writers_that_raised_them():
    """Two writers' batches wait for a paused worker; once it goes on (and diagnoses them together),
    each writer's next ack lists the alert its own data raised."""

    async def run() -> tuple[list[dict], list[dict], list[dict]]:
        store = Store(None)
        diagnosis = store.diagnosis
        await store.ingest(*_batch("start-client", 1, [line_op("ready", "w", [0.0], [1.0])]))
        diagnosis.wait = 0.0  # acks do not wait for the worker's answer
        os.kill(diagnosis.proc.pid, signal.SIGSTOP)
        try:
            raised = []
            for seq in (1, 2):
                for w in ("a", "b"):
                    ops = [line_op(w, "loss", *loss_then_nan(), "train")] if seq == 1 else []
                    ops.append(line_op(w, "other", [float(seq)], [1.0]))
                    raised += (await store.ingest(*_batch(f"writer-{w}", seq, ops)))[1]
            assert raised == []
        finally:
            os.kill(diagnosis.proc.pid, signal.SIGCONT)
        await _answered(store, 10)
        later = [(await store.ingest(*_batch(f"writer-{w}", 3, [line_op(w, "other", [3.0], [1.0])])))[1] for w in "ab"]
        store.close()
        return later[0], later[1], [a for e in store.state.envs.values() for a in e.alerts]

    to_a, to_b, stored = arun(run())
    assert [(a["kind"], a["env"]) for a in to_a] == [("nonfinite", "a")]
    assert [(a["kind"], a["env"]) for a in to_b] == [("nonfinite", "b")]
    assert sorted(a["env"] for a in stored) == ["a", "b"]


def test_an_ack_waiting_for_its_answer_stops_waiting_when_another_batch_comes():
    """A lone batch's ack waits for the worker's answer (here paused); another batch arriving ends that
    wait at once, and the worker runs at a lower priority than the server."""

    async def run() -> tuple[float, int]:
        store = await _worker_up()
        diagnosis = store.diagnosis
        pid = diagnosis.proc.pid
        nice = os.getpriority(os.PRIO_PROCESS, pid) - os.getpriority(os.PRIO_PROCESS, 0)
        diagnosis.wait, diagnosis.crowd = 20.0, 0.0  # no other writer counts as just before
        os.kill(pid, signal.SIGSTOP)
        try:
            lone = asyncio.ensure_future(store.ingest(*_batch("lone-client", 1, _nan_ops())))
            await asyncio.sleep(0.2)
            assert not lone.done()  # it waits for its answer
            start = time.monotonic()
            await store.ingest(*_batch("other-client", 1, [line_op("other", "w", [0.0], [1.0])]))
            await lone
            waited = time.monotonic() - start
        finally:
            os.kill(pid, signal.SIGCONT)
        store.close()
        return waited, nice

    waited, nice = arun(run())
    assert waited < 5, waited
    assert nice > 0, nice


@pytest.mark.parametrize("first", ["other-client", "nan-client"], ids=["another-writers-batch", "its-own-ack"])
def test_an_ack_does_not_wait_for_its_answer_right_after_another_writers_batch_or_its_own_ack(first):
    """With other writers at work, or a writer sending back to back, an ack does not wait for its own
    answer (here the worker is paused, and would answer only after `wait`): it comes at once, and the
    alerts come with the writer's next ack."""

    async def run() -> tuple[float, list, list]:
        store = await _worker_up()
        diagnosis = store.diagnosis
        # another writer's batch, or its own ack, in the last 10 s: busy
        diagnosis.wait, diagnosis.crowd, diagnosis.back_to_back = 20.0, 10.0, 10.0
        await store.ingest(*_batch(first, 1, [line_op("other", "w", [0.0], [1.0])]))
        await _answered(store)
        seq = 2 if first == "nan-client" else 1  # the writer's own first batch took seq 1
        os.kill(diagnosis.proc.pid, signal.SIGSTOP)
        try:
            start = time.monotonic()
            raised = (await store.ingest(*_batch("nan-client", seq, _nan_ops())))[1]
            waited = time.monotonic() - start
        finally:
            os.kill(diagnosis.proc.pid, signal.SIGCONT)
        await _answered(store)
        later = (await store.ingest(*_batch("nan-client", seq + 1, [line_op("other", "w", [1.0], [1.0])])))[1]
        store.close()
        return waited, raised, later

    waited, raised, later = arun(run())
    assert waited < 5, waited  # not the 20 s of `wait`
    assert raised == [] and [a["kind"] for a in later] == ["nonfinite"]


def test_a_batch_coming_while_acks_wait_for_a_slow_worker_does_not_stop_it(caplog):
    """Past the byte bound acks wait for the worker (here paused for a second); another batch handed
    over meanwhile wakes them, but only `stuck` seconds without an answer stop the worker."""

    async def run() -> tuple[int, int, list[list[dict]]]:
        store = await _worker_up()
        diagnosis = store.diagnosis
        pid = diagnosis.proc.pid
        diagnosis.max_bytes, diagnosis.stuck, diagnosis.wait = 100, 20.0, 0.0
        os.kill(pid, signal.SIGSTOP)
        try:
            first = asyncio.ensure_future(store.ingest(*_batch("slow-client-1", 1, _nan_ops())))
            await asyncio.sleep(0.2)  # its ack waits: the worker is past the bound
            ops = [line_op("run2", "loss", *loss_then_nan(), "train")]
            second = asyncio.ensure_future(store.ingest(*_batch("slow-client-2", 1, ops)))
            await asyncio.sleep(0.5)
        finally:
            os.kill(pid, signal.SIGCONT)
        raised = [(await first)[1], (await second)[1]]
        after = diagnosis.proc.pid
        store.close()
        return pid, after, raised

    with caplog.at_level("ERROR", logger="livepanel.diagnosis"):
        pid, after, raised = arun(run())
    assert after == pid and "answered nothing" not in caplog.text
    assert [[a["kind"] for a in r] for r in raised] == [["nonfinite"], ["nonfinite"]]


def test_an_acknowledged_alert_is_on_disk(tmp_path):
    """Alerts the worker found are committed after their batch: an ack that lists one waits for that commit."""
    import sqlite3

    async def run() -> list[bool]:
        store = Store(tmp_path / "data")
        file = store.persist.file
        found = []
        for seq in range(1, 21):  # bounded; each batch's alert is acknowledged by it or the next
            ops = [line_op(f"run{seq}", "loss", *loss_then_nan(), "train")]
            raised = (await store.ingest(*_batch("durable-client", seq, ops)))[1]
            if raised:
                with sqlite3.connect(file) as db:  # another connection: what is committed
                    on_disk = {r[0] for r in db.execute("SELECT id FROM alerts")}
                found += [a["id"] in on_disk for a in raised]
        store.close()
        return found

    found = arun(run())  # alerts acknowledged, whether each was on disk then
    assert len(found) >= 10 and all(found), found
