"""Issue 17, the client's part: a refused token keeps the data, close() is bounded, visdom's hasattr."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from client_helpers import messages, spooled, wait_for
from serverproc import ServerProcess, free_port

import livepanel
from livepanel.client.spool import replay_all


def replay_cli(root: Path, token: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("LIVEPANEL_TOKEN", "LIVEPANEL_URL", "LIVEPANEL_SPOOL")}
    if token is not None:
        env["LIVEPANEL_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "livepanel", "replay", "--spool", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def points(url: str, token: str | None, env: str, win: str, tmp_path: Path) -> tuple[list, list]:
    reader = livepanel.Panel(url, env=env, token=token, spool_dir=tmp_path / "reader", replay_spool=False)
    try:
        tr = next(t for t in reader.get(win)["traces"] if t["name"] == "")
        return tr["x"].tolist(), tr["y"].tolist()
    finally:
        reader.close(timeout=5)


def test_refused_token_keeps_the_data_and_replay_delivers_it(server_factory, tmp_path, caplog, monkeypatch):
    """401 is not a delivery: flush() is False at once, close() says how to fix it, replay sends it once."""
    caplog.set_level(logging.WARNING, logger="livepanel.client")
    monkeypatch.delenv("LIVEPANEL_TOKEN", raising=False)
    srv = server_factory("--token", "abc")
    root = tmp_path / "spool"
    p = livepanel.Panel(srv.url, env="refused", spool_dir=root, max_backoff=0.2)
    for step in range(100):
        p.line(step, step * 0.5, win="loss")
    start = time.monotonic()
    assert p.flush(30) is False  # refused: known at the first answer, not after the timeout
    assert time.monotonic() - start < 10
    # Refused, not judged: nothing dropped, and the sender backs off (here 50, 100, 200, 200 ms ...).
    start, first = time.monotonic(), p.stats["refused"]
    assert wait_for(lambda: p.stats["refused"] >= first + 3, 10)
    assert time.monotonic() - start >= 0.3  # at least 0.1 + 0.2 + 0.2 s of backoff between them
    assert p.stats["rejected"] == 0 and p.stats["batches"] == 0
    assert spooled(root)  # on disk already, while the process still runs
    p.line(100, 50.0, win="loss")  # calls go on, queued and kept
    assert p.close() is False
    told = messages(caplog, "livepanel replay")
    assert len(told) == 1, told
    assert "401" in told[0] and "LIVEPANEL_TOKEN" in told[0] and str(root) in told[0]
    files = spooled(root)
    assert files
    # Without the token the replay fails, says why, and keeps the batches.
    out = replay_cli(root, None)
    assert out.returncode == 1 and "401" in out.stderr and "LIVEPANEL_TOKEN" in out.stderr
    assert spooled(root) == files
    out = replay_cli(root, "abc")
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"delivered {len(files)} batch" in out.stdout
    assert spooled(root) == []
    xs, ys = points(srv.url, "abc", "refused", "loss", tmp_path)
    assert xs == list(range(101)) and ys == [step * 0.5 for step in range(101)]  # every point, once


def test_server_that_accepts_again_gets_the_held_batches(server_factory, tmp_path, monkeypatch):
    """A refusal is retried with backoff: when the server takes the token again, nothing was lost."""
    monkeypatch.delenv("LIVEPANEL_TOKEN", raising=False)
    srv = server_factory("--token", "old")
    p = livepanel.Panel(srv.url, env="rotate", token="new", spool_dir=tmp_path / "spool", max_backoff=0.2)
    for step in range(20):
        p.line(step, 1.0, win="w")
    assert p.flush(30) is False
    srv.stop()
    srv.extra[srv.extra.index("old")] = "new"
    srv.start()
    assert p.flush(30) is True
    assert p.close(timeout=5) is True
    assert points(srv.url, "new", "rotate", "w", tmp_path)[0] == list(range(20))


def test_judged_batch_is_dropped_loudly(server_factory, tmp_path, caplog):
    """Only a batch the server judged bad (413 here, 400 alike) is dropped: logged, counted, not retried."""
    caplog.set_level(logging.WARNING, logger="livepanel.client")
    srv = server_factory("--max-payload", "2K")
    p = livepanel.Panel(srv.url, env="big", spool_dir=tmp_path / "spool")
    p.line(np.arange(2000.0), win="w")
    assert p.flush(10) is True  # resolved: judged and dropped, not held
    errors = messages(caplog, "rejected")
    assert len(errors) == 1 and "413" in errors[0] and "dropped" in errors[0]
    assert p.stats["rejected"] == 1 and p.stats["refused"] == 0 and p.stats["retries"] == 0
    p.line(1.0, win="small")
    assert p.flush(10) is True
    assert p.close(timeout=5) is True
    assert spooled(tmp_path / "spool") == []


def test_close_with_server_down_is_bounded_and_spools(tmp_path, caplog):
    """Leaving `with Panel(...)` with the server down takes `exit_timeout`, not `timeout`; replay delivers."""
    caplog.set_level(logging.WARNING, logger="livepanel.client")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    root = tmp_path / "spool"
    with livepanel.Panel(url, env="down", spool_dir=root, exit_timeout=1.0, max_backoff=0.2) as p:
        for step in range(100):
            p.line(step, float(step), win="w")
        assert wait_for(lambda: p.stats["retries"] >= 1, 10)
        start = time.monotonic()
    took = time.monotonic() - start
    assert took < 2.5, f"close took {took:.1f} s with exit_timeout=1"
    assert spooled(root) and messages(caplog, "not delivered")
    srv = ServerProcess(tmp_path / "data", port=port).start()
    try:
        assert replay_all(str(root), None, None) >= 1
        assert spooled(root) == []
        assert points(url, None, "down", "w", tmp_path)[0] == list(range(100))
    finally:
        srv.stop()


def test_visdom_unsupported_methods_answer_hasattr(tmp_path):
    from livepanel.visdom import Visdom

    viz = Visdom(port=free_port(), spool_dir=tmp_path / "spool")
    assert hasattr(viz, "replay_log") is False
    assert hasattr(viz, "no_such_method") is False
    assert hasattr(viz, "line") is True
    with pytest.raises(NotImplementedError, match=r"replay_log\(\).*docs/client.md"):
        viz.replay_log("log.txt")
    with pytest.raises(AttributeError, match=r"replay_log\(\)"):
        _ = viz.replay_log
    with pytest.raises(AttributeError):
        _ = viz.no_such_method
    viz.panel.close(timeout=0)
