"""Diagnosis behind ingest (its time budget spent): every alert still raised once, stored, sent to
viewers and to its writer with a later acknowledgement; the backlog stays within its bounds."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import numpy as np
from test_alerts import loss_then_nan, send_in_steps
from wire import Socket, arun, get, line_op, send_ops

from livepanel import protocol
from livepanel.server.store import Store

sys.path.insert(0, str(Path(__file__).parent / "diagnosis"))
from synthetic import PROBLEMS, labelled_runs  # noqa: E402


def _alerts(url: str, env: str = "run", wait: float = 10.0) -> list[dict]:
    """The env's alerts once there are any (diagnosis of a backlog runs when the server is idle)."""
    deadline = time.monotonic() + wait
    while True:  # bounded by the deadline
        alerts = get(url, "/api/v1/alerts", env=env)[1]["alerts"]
        if alerts or time.monotonic() > deadline:
            return alerts
        time.sleep(0.02)


def test_backlogged_alert_is_raised_once_stored_and_sent(server_factory, tmp_path):
    """Budget 0: no batch is diagnosed before its acknowledgement; the backlog is, when the server idles."""
    srv = server_factory("--diagnosis-budget", "0", data_dir=tmp_path / "data")

    async def run() -> tuple[list[dict], list[dict]]:
        sock = await Socket(srv.url).connect()
        await sock.recv()
        await sock.subscribe([{"env": "run"}])
        await sock.recv()
        x, y = loss_then_nan()
        acks = await asyncio.to_thread(send_in_steps, srv.url, x, y)
        msg = await sock.until(lambda m: m["type"] == "change" and m["op"]["op"] == "alert")
        sock.close()
        seqs = [m["seq"] for m in sock.messages if m["type"] == "change"]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs  # in order, none missing
        return acks, [msg["op"]["alert"]]

    acks, live = arun(run())
    stored = _alerts(srv.url)
    assert [a["kind"] for a in stored] == ["nonfinite"] and stored == live
    assert stored[0]["step"] == 200.0 and stored[0]["win"] == "loss" and stored[0]["trace"] == "train"
    # The writer gets it with an acknowledgement after it was found (the one of its next batch, at the latest).
    status, ack = send_ops(srv.url, [line_op("run", "other", [0.0], [1.0])], client="diag-client-1", seq=31)
    assert status == 200
    in_acks = [a for a in [*acks, ack] for a in a.get("alerts", [])]
    assert in_acks == stored
    srv.restart()
    assert get(srv.url, "/api/v1/alerts", env="run")[1]["alerts"] == stored


def test_backlogged_append_of_a_closed_window_raises_nothing(server_factory):
    srv = server_factory("--diagnosis-budget", "0", store="memory")
    x, y = loss_then_nan()
    ops = [line_op("run", "loss", x, y, "train"), {"op": "close", "env": "run", "win": "loss"}]
    status, ack = send_ops(srv.url, ops, client="closer-client")
    assert status == 200 and "alerts" not in ack
    # the same again, left open: caught (so the first one was diagnosed too, and dropped)
    assert send_ops(srv.url, ops[:1], client="closer-client", seq=2)[0] == 200
    assert [a["kind"] for a in _alerts(srv.url)] == ["nonfinite"]
    assert [w["win"] for w in get(srv.url, "/api/v1/envs")[1]["envs"][0]["windows"]] == ["loss"]


def _batches(ops_per_step: list[list[dict]], client: str) -> list[tuple[str, int, list[dict]]]:
    return [
        protocol.validate_batch(protocol.unpackb(protocol.packb({"client": client, "seq": i + 1, "ops": ops})))
        for i, ops in enumerate(ops_per_step)
    ]


def test_backlog_past_its_bound_is_caught_up_before_the_ack():
    """Batches back to back (the event loop never idles, so no timer drains the backlog): past max_bytes,
    a batch first diagnoses what waits, and its acknowledgement lists what that raised."""
    x, y = loss_then_nan()
    batches = _batches(
        [[line_op("run", "loss", x[i : i + 10], y[i : i + 10], "train")] for i in range(0, len(x), 10)], "bound-client"
    )

    async def run(max_bytes: int) -> list[list[dict]]:
        store = Store(None, diagnosis_budget=0.0)
        store.diagnosis.max_bytes = max_bytes
        raised = [(await store.ingest(client, seq, ops, 200))[1] for client, seq, ops in batches]
        assert store.diagnosis.backlog_bytes <= max_bytes + 200  # checked as a batch comes, before it queues
        return raised

    bounded = arun(run(1000))
    nan_batch = 20  # the batch holding step 200, where the loss becomes NaN
    carried = [i for i, r in enumerate(bounded) if r]
    assert len(carried) == 1 and nan_batch < carried[0] <= nan_batch + 1000 // 200 + 1, carried
    assert [a["kind"] for r in bounded for a in r] == ["nonfinite"]
    assert not any(arun(run(1 << 30)))  # within its bound, the backlog waits for an idle moment


def test_backlogged_diagnosis_catches_every_kind():
    """One labelled run of each problem, through a Store that diagnoses nothing before the acknowledgement:
    all its appends wait, and are diagnosed when the Store closes, batch by batch as they came."""
    runs = {}
    for run in labelled_runs(seed=0):
        runs.setdefault(run.label, run)
    for kind in PROBLEMS:
        run = runs[kind]
        steps = []
        for start in range(0, run.length, 50):
            ops = []
            for tr in run.traces:
                a, b = np.searchsorted(tr.x, [start, start + 50])
                if b > a:
                    ops.append(line_op("run", tr.win, tr.x[a:b], tr.y[a:b], tr.trace) | {"opts": tr.opts})
            steps.append(ops)

        async def replay(batches: list[tuple[str, int, list[dict]]]) -> Store:
            store = Store(None, diagnosis_budget=0.0)
            for client, seq, ops in batches:
                assert (await store.ingest(client, seq, ops, 0))[1] == []
            store.close()  # diagnoses what waits
            return store

        store = arun(replay(_batches(steps, "labelled-client")))
        found = [a["kind"] for a in store.state.envs["run"].alerts]
        assert kind in found, (run.name, found)
