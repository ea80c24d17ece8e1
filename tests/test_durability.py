"""Acknowledged data survives restarts and SIGKILL, exactly once."""

from __future__ import annotations

import signal
import threading
import time

import numpy as np
from test_ingest import image_op
from wire import line_op, send_ops, window

WINDOWS = ["loss", "acc32", "h", "t", "b", "hm", "im"]


def _all_kinds(url: str) -> None:
    ops = [
        line_op("e", "loss", np.arange(1000.0), np.random.default_rng(1).normal(size=1000), name="train"),
        line_op("e", "loss", [3, 4], [np.nan, np.inf], name="val"),
        {"op": "line", "env": "e", "win": "acc32", "x": np.arange(3.0), "y": np.array([0.1, 0.2, 0.3], "f4")},
        {
            "op": "histogram",
            "env": "e",
            "win": "h",
            "counts": np.array([1, 2]),
            "edges": np.array([0.0, 1, 2]),
            "step": 7,
            "stats": {"mean": 1.0},
        },
        {"op": "text", "env": "e", "win": "t", "text": "# hi <script>"},
        {"op": "bar", "env": "e", "win": "b", "y": np.array([1.0, 2.0]), "labels": ["x", "y"]},
        {"op": "heatmap", "env": "e", "win": "hm", "z": np.arange(4.0).reshape(2, 2)},
        image_op("e", "im", step=3),
        {"op": "opts", "env": "e", "win": "loss", "opts": {"title": "Loss", "ylog": True}},
    ]
    assert send_ops(url, ops)[0] == 200
    for i in range(2, 30):  # many small appends, to exercise row merging
        assert send_ops(url, [line_op("e", "loss", [1000 + i], [i], name="train")], seq=i)[0] == 200


def _states(url: str) -> dict:
    return {w: {k: v for k, v in window(url, "e", w, full=1).items() if k != "seq"} for w in WINDOWS}


def _assert_identical(a, b):
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.tobytes() == b.tobytes()
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_identical(a[k], b[k])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_identical(x, y)
    else:
        assert a == b


def test_restart_reads_back_bit_identical(server):
    _all_kinds(server.url)
    before = _states(server.url)
    assert server.stop() == 0  # SIGTERM: clean exit
    server.start()
    _assert_identical(before, _states(server.url))


def test_sigkill_during_ingest_from_several_writers(server):
    writers, batches, points = 4, 60, 50
    acked: dict[int, set[int]] = {w: set() for w in range(writers)}
    stop_at = time.monotonic() + 90

    def writer(w: int) -> None:
        for seq in range(1, batches + 1):
            x = w * 1_000_000 + seq * 1000 + np.arange(points, dtype="f8")
            op = line_op("kill", f"w{w}", x, np.full(points, seq, "f8"))
            while time.monotonic() < stop_at:  # retry the same batch until acknowledged
                try:
                    status, answer = send_ops(server.url, [op], client=f"writer-{w:04d}", seq=seq)
                except OSError:
                    time.sleep(0.05)
                    continue
                if status == 200:
                    acked[w].add(seq)
                    break
                time.sleep(0.05)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    while sum(map(len, acked.values())) < writers * batches // 3:
        time.sleep(0.01)
    server.stop(signal.SIGKILL)
    server.start()
    for t in threads:
        t.join(100)
    for w in range(writers):
        assert acked[w] == set(range(1, batches + 1))
        x = window(server.url, "kill", f"w{w}")["traces"][0]["x"]
        expected = np.concatenate(
            [w * 1_000_000 + s * 1000 + np.arange(points, dtype="f8") for s in range(1, batches + 1)]
        )
        np.testing.assert_array_equal(x, expected)  # every batch once, in order


def test_data_survives_sigterm_right_after_ack(server):
    for i in range(1, 20):
        assert send_ops(server.url, [line_op("e", "w", [i], [i])], seq=i)[0] == 200
    server.stop(signal.SIGTERM)
    server.start()
    assert window(server.url, "e", "w")["traces"][0]["n"] == 19
