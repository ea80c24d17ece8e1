"""Diagnosis inside the server: alerts to their writer (acks, then /alerts?client=), in the read API, to
viewers, across restarts."""

from __future__ import annotations

import numpy as np
from wire import Socket, arun, get, line_op, send_ops


def loss_then_nan(n: int = 300, bad_at: int = 200) -> tuple[np.ndarray, np.ndarray]:
    x = np.arange(n, dtype="f8")
    y = 2.0 * np.exp(-x / 60) + 0.1 + 0.01 * np.random.default_rng(0).normal(size=n)
    y[bad_at:] = np.nan
    return x, y


def send_in_steps(url: str, x, y, env="run", win="loss", name="train", chunk=10, client="diag-client-1"):
    acks = []
    for i, start in enumerate(range(0, len(x), chunk)):
        status, ack = send_ops(
            url, [line_op(env, win, x[start : start + chunk], y[start : start + chunk], name)], client=client, seq=i + 1
        )
        assert status == 200, ack
        acks.append(ack)
    return acks


def delivered(url: str, acks: list[dict], client: str = "diag-client-1") -> list[dict]:
    """Every alert a writer's batches raised, as the writer gets them: those its acknowledgements carried
    (already judged when they went), then the rest once the server has judged all it sent."""
    status, judged = get(url, "/api/v1/alerts", client=client, wait=30)
    assert status == 200, judged
    return [a for ack in acks for a in ack.get("alerts", [])] + judged["alerts"]


def test_nan_loss_raises_one_alert_everywhere(server):
    async def watch():
        sock = await Socket(server.url).connect()
        await sock.recv()
        await sock.subscribe([{"env": "run"}])
        await sock.recv()
        return sock

    x, y = loss_then_nan()
    raised = delivered(server.url, send_in_steps(server.url, x, y))
    assert [a["kind"] for a in raised] == ["nonfinite"]
    alert = raised[0]
    assert alert["env"] == "run" and alert["win"] == "loss" and alert["trace"] == "train"
    assert alert["step"] == 200.0 and alert["message"] and alert["suggestion"]
    status, listing = get(server.url, "/api/v1/alerts", env="run")
    assert status == 200 and listing["alerts"] == raised

    async def snapshot_has_it():
        sock = await watch()
        snap = sock.messages[-1]
        assert snap["type"] == "snapshot" and [a["id"] for a in snap["alerts"]] == [alert["id"]]
        sock.close()

    arun(snapshot_has_it())
    # After a restart the alert is still there, and the same ongoing problem is not raised again.
    server.restart()
    more = send_in_steps(server.url, x + 300, np.full(300, np.nan), client="diag-client-2")
    assert delivered(server.url, more, "diag-client-2") == []
    assert get(server.url, "/api/v1/alerts")[1]["alerts"] == raised


def test_alert_reaches_a_viewer_live(server):
    async def run():
        sock = await Socket(server.url).connect()
        await sock.recv()
        await sock.subscribe([{"env": "run"}])
        await sock.recv()
        x, y = loss_then_nan()
        import asyncio

        await asyncio.to_thread(send_in_steps, server.url, x, y)
        msg = await sock.until(lambda m: m["type"] == "change" and m["op"]["op"] == "alert")
        assert msg["op"]["alert"]["kind"] == "nonfinite"
        sock.close()

    arun(run())


def test_closing_the_window_drops_its_alerts(server):
    x, y = loss_then_nan()
    assert [a["kind"] for a in delivered(server.url, send_in_steps(server.url, x, y))] == ["nonfinite"]
    assert send_ops(server.url, [{"op": "close", "env": "run", "win": "loss"}], client="closer-1")[0] == 200
    assert get(server.url, "/api/v1/alerts", env="run")[1]["alerts"] == []


def test_no_diagnose_switch_and_opts_hint(server_factory):
    off = server_factory("--no-diagnose", store="memory")
    x, y = loss_then_nan()
    assert delivered(off.url, send_in_steps(off.url, x, y)) == []
    assert get(off.url, "/api/v1/alerts")[1]["alerts"] == []
    on = server_factory(store="memory")
    op = line_op("run", "loss", [0.0], [1.0], "train") | {"opts": {"diagnose": False}}
    assert send_ops(on.url, [op], client="hint-client")[0] == 200
    acks = send_in_steps(on.url, x + 1, y, client="hint-client-2")
    assert delivered(on.url, acks, "hint-client-2") == []
    assert get(on.url, "/api/v1/alerts")[1]["alerts"] == []


def test_panel_alerts_and_on_alert(server, tmp_path):
    import threading

    from livepanel import Panel

    seen: list[dict] = []
    sender_threads: set[str] = set()

    def callback(alert: dict) -> None:
        seen.append(alert)
        sender_threads.add(threading.current_thread().name)

    with Panel(server.url, env="client-run", spool_dir=str(tmp_path / "spool")) as panel:
        panel.on_alert(callback)
        x, y = loss_then_nan()
        for step, value in zip(x, y, strict=True):
            panel.line(step, value, win="loss", name="train")
        assert panel.flush(10)
        alerts = panel.alerts("client-run")
        assert [a["kind"] for a in alerts] == ["nonfinite"]
        assert seen == alerts and threading.current_thread().name not in sender_threads
        assert panel.alerts() == alerts
        import pytest

        with pytest.raises(TypeError, match="on_alert"):
            panel.on_alert("not a function")


def test_a_writer_gets_each_of_its_alerts_once_acked_or_judged(server):
    """Whatever the timing, an alert goes to its writer once: in an acknowledgement (when it was judged and
    stored before that ack went) or from /alerts?client= once everything the writer sent is judged."""
    x, y = loss_then_nan()
    acks = send_in_steps(server.url, x, y, client="judged-client-1")
    in_acks = [a for ack in acks for a in ack.get("alerts", [])]
    status, judged = get(server.url, "/api/v1/alerts", client="judged-client-1", wait=30)
    assert status == 200
    delivered = in_acks + judged["alerts"]
    assert [a["kind"] for a in delivered] == ["nonfinite"]
    assert delivered == get(server.url, "/api/v1/alerts", env="run")[1]["alerts"]
    # taken once: asking again gives nothing; another writer's alerts are not this one's
    assert get(server.url, "/api/v1/alerts", client="judged-client-1", wait=0)[1]["alerts"] == []
    assert get(server.url, "/api/v1/alerts", client="never-wrote-1", wait=0)[1]["alerts"] == []
    assert get(server.url, "/api/v1/alerts", client="judged-client-1", wait="soon")[0] == 400


def test_after_a_flush_alerts_lists_what_the_panels_data_raised(server, tmp_path):
    """A flush waits until the server has judged what the Panel sent: read your own alerts."""
    from livepanel import Panel

    with Panel(server.url, env="flushed-run", spool_dir=str(tmp_path / "spool")) as panel:
        x, y = loss_then_nan()
        for step, value in zip(x, y, strict=True):
            panel.line(step, value, win="loss", name="train")
        assert panel.flush(30)
        assert [a["kind"] for a in panel.alerts()] == ["nonfinite"]


def test_close_says_delivered_when_only_the_judging_is_slow(server, tmp_path):
    """A diagnosis worker that does not answer (stopped) delays no data: close() gives up waiting for the
    judging after exit_timeout and still reports every batch delivered."""
    import os
    import signal
    import time
    from pathlib import Path

    from livepanel import Panel

    children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text().split()
    assert len(children) == 1, children  # the diagnosis worker
    worker = int(children[0])
    os.kill(worker, signal.SIGSTOP)
    try:
        panel = Panel(server.url, env="slow-judge", spool_dir=str(tmp_path / "spool"), exit_timeout=1.0)
        for step in range(50):
            panel.line(step, 1.0 / (step + 1), win="loss", name="train")
        start = time.monotonic()
        assert panel.close(timeout=30) is True
        assert time.monotonic() - start < 10  # the judging's wait, not the close timeout
    finally:
        os.kill(worker, signal.SIGCONT)
    assert len(get(server.url, "/api/v1/window", env="slow-judge", win="loss")[1]["traces"][0]["x"]) == 50
