"""The store keeps what it is sent as a restart reads it back."""

from __future__ import annotations

import numpy as np
from wire import send_ops, window

# ---------------------------------------------------------------- steps in step order


def test_steps_sent_out_of_order_read_the_same_after_a_restart(server):
    """Steps are kept in step order, in memory as on disk (memory once kept them as they came)."""
    for seq, step in enumerate([5, 2, 9, 2], start=1):
        op = {"op": "histogram", "env": "e", "win": "h", "counts": np.array([step]), "edges": np.array([0.0, 1])}
        assert send_ops(server.url, [dict(op, step=step)], seq=seq)[0] == 200
    before = [s["step"] for s in window(server.url, "e", "h")["steps"]]
    assert before == [2, 5, 9]
    server.restart()
    assert [s["step"] for s in window(server.url, "e", "h")["steps"]] == before
