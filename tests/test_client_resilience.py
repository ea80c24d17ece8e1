"""Never losing a point: server killed and restarted, down at start, spool at exit, replay, 4xx."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest
from client_helpers import messages, spooled, wait_for

import livepanel
from livepanel.client.spool import replay_all


def trace(state: dict, name: str = "") -> dict:
    return next(t for t in state["traces"] if t["name"] == name)


def test_server_killed_mid_run_and_restarted(server, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="livepanel.client")
    p = livepanel.Panel(server.url, env="kill", spool_dir=tmp_path / "spool", max_backoff=0.2, timeout=2)
    n = 3000
    for step in range(n):
        p.line(step, float(step), win="w")
        if step % 100 == 0:
            p.log({"m/a": step * 2.0}, step=step)
        if step == 1000:
            server.kill()  # SIGKILL: a batch may be committed without its ack reaching us
        if step == 2000:
            server.start()
        if step % 50 == 0:
            time.sleep(0.001)
    assert p.flush(30)
    state = p.get("w")
    t = trace(state)
    assert t["n"] == n  # exactly once
    np.testing.assert_array_equal(t["x"], np.arange(n))  # and in order
    np.testing.assert_array_equal(t["y"], np.arange(n))
    np.testing.assert_array_equal(trace(p.get("m"), "a")["x"], np.arange(0, n, 100))
    assert len(messages(caplog, "unreachable")) == 1
    assert len(messages(caplog, "reachable again")) == 1
    p.close()


def test_client_started_while_server_down(server_factory, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="livepanel.client")
    srv = server_factory(start=False)
    p = livepanel.Panel(srv.url, env="late", spool_dir=tmp_path / "spool", max_backoff=0.2)
    for step in range(500):
        p.line(step, step * 0.1, win="w")
    p.image(np.zeros((3, 8, 8), np.uint8), win="img")
    p.text("queued while down", win="t")
    assert not p.flush(0.3)  # nothing can be acknowledged yet
    srv.start()
    assert p.flush(30)
    np.testing.assert_allclose(trace(p.get("w"))["y"], np.arange(500) * 0.1)
    assert len(p.get("img")["steps"]) == 1 and p.get("t")["text"] == "queued while down"
    assert len(messages(caplog, "unreachable")) == 1
    p.close()


def test_buffer_overflow_spills_to_disk_and_replays_in_order(server_factory, tmp_path):
    srv = server_factory(start=False)
    root = tmp_path / "spool"
    p = livepanel.Panel(srv.url, env="spill", spool_dir=root, max_buffer=20_000, max_backoff=0.2)
    p._sender.seal_bytes = 4_000  # small batches, so that the memory bound is passed quickly
    n = 5000
    for step in range(n):
        p.line(step, float(step), win="w")
    assert wait_for(lambda: len(spooled(root)) > 3, 10)  # the memory buffer overflowed to disk
    srv.start()
    assert p.flush(30)
    t = trace(p.get("w"))
    assert t["n"] == n
    np.testing.assert_array_equal(t["x"], np.arange(n))
    p.close()
    assert spooled(root) == []


def test_exit_leaves_spool_for_next_panel(server_factory, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="livepanel.client")
    srv = server_factory(start=False)
    root = tmp_path / "spool"
    a = livepanel.Panel(srv.url, env="spool", spool_dir=root)
    a.line(np.arange(100), np.arange(100), win="w")
    a.histogram(np.arange(10), win="h")
    assert a.close(timeout=0.3) is False  # bounded: gives up and spools
    assert spooled(root) and messages(caplog, "not delivered")
    srv.start()
    b = livepanel.Panel(srv.url, env="spool", spool_dir=root)
    b.line(1.0, win="other")  # the first call starts the sender, which replays the leftovers
    assert wait_for(lambda: not spooled(root))
    assert b.flush(10)
    assert trace(b.get("w"))["n"] == 100 and len(b.get("h")["steps"]) == 1
    assert b.stats["replayed"] >= 1
    b.close()


def test_replay_all_is_exactly_once(server_factory, tmp_path):
    srv = server_factory(start=False)
    root = tmp_path / "spool"
    a = livepanel.Panel(srv.url, env="replay", spool_dir=root)
    for step in range(50):
        a.line(step, 1.0, win="w")
    a.close(timeout=0.2)
    files = spooled(root)
    assert files
    copies = {f: f.read_bytes() for f in files}
    with pytest.raises(RuntimeError, match="could not deliver"):
        replay_all(str(root), None, None)  # server still down: the batches stay
    assert spooled(root) == files
    srv.start()
    assert replay_all(str(root), None, None) == len(files)
    assert replay_all(str(root), None, None) == 0
    for f, data in copies.items():  # a second delivery of the same batches (a crash before delete)
        f.parent.mkdir(exist_ok=True)
        f.write_bytes(data)
    assert replay_all(str(root), srv.url, None) == len(files)  # acknowledged as duplicates
    reader = livepanel.Panel(srv.url, env="replay", spool_dir=tmp_path / "r")
    assert trace(reader.get("w"))["n"] == 50
    reader.close()


def test_wrong_token_is_not_a_delivery(server_factory, tmp_path, caplog):
    """401 refuses the client, not the batch: kept and spooled, not counted as rejected."""
    caplog.set_level(logging.WARNING, logger="livepanel.client")
    srv = server_factory("--token", "right-token")
    p = livepanel.Panel(srv.url, env="auth", token="wrong-token", spool_dir=tmp_path / "spool")
    p.line(1.0, win="w")
    assert p.flush(10) is False  # refused: not delivered, and not dropped
    errors = messages(caplog, "refused")
    assert len(errors) == 1 and "401" in errors[0]
    assert p.stats["rejected"] == 0 and p.stats["refused"] >= 1
    assert p.close() is False and spooled(tmp_path / "spool")
    good = livepanel.Panel(srv.url, env="auth", token="right-token", spool_dir=tmp_path / "spool2")
    good.line(2.0, win="w")
    assert trace(good.get("w"))["y"].tolist() == [2.0]
    good.close()


def test_an_operation_only_the_server_can_refuse_loses_nothing_else(server, tmp_path, caplog):
    """A histogram sent to a line window is refused by the server; the points around it still arrive."""
    caplog.set_level(logging.WARNING, logger="livepanel.client")
    p = livepanel.Panel(server.url, env="refuse", spool_dir=tmp_path / "spool")
    p.line(0, 1.0, win="loss")
    assert p.flush(10)
    with p.batch():  # one request: the refused operation sits between good ones
        p.line(1, 0.5, win="loss")
        p.histogram([1.0, 2.0, 3.0], win="loss")
        p.line(0, 7.0, win="other")
        p.text("kept", win="notes")
    assert p.flush(10)
    assert trace(p.get("loss"))["y"].tolist() == [1.0, 0.5]
    assert trace(p.get("other"))["y"].tolist() == [7.0]
    assert p.get("notes")["text"] == "kept"
    errors = messages(caplog, "rejected")
    assert len(errors) == 1 and "histogram of window 'loss'" in errors[0] and "is a line window" in errors[0]
    assert p.stats["rejected"] == 1 and p.stats["batches"] == 2
    p.close()


def test_token_from_environment(server_factory, tmp_path, monkeypatch):
    srv = server_factory("--token", "env-token")
    monkeypatch.setenv("LIVEPANEL_TOKEN", "env-token")
    p = livepanel.Panel(srv.url, env="envtok", spool_dir=tmp_path / "spool")
    p.line(3.0, win="w")
    assert trace(p.get("w"))["y"].tolist() == [3.0]
    p.close()


SCRIPT = """
import sys, livepanel
p = livepanel.Panel(sys.argv[1], env="atexit", spool_dir=sys.argv[2], exit_timeout=float(sys.argv[3]))
for step in range(1000):
    p.line(step, float(step), win="w")
# no close(): the interpreter's exit must flush (bounded) or spool
"""


def test_process_exit_flushes_or_spools(server_factory, tmp_path):
    import os
    import subprocess
    import sys

    srv = server_factory(start=False)
    root = tmp_path / "spool"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    run = [sys.executable, "-c", SCRIPT, srv.url, str(root)]
    done = subprocess.run([*run, "0.2"], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert spooled(root) and "not delivered" in done.stderr  # server down: spooled at exit, and said so
    srv.start()
    done = subprocess.run([*run, "10"], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert spooled(root) == []  # the second process replayed the first one's spool
    reader = livepanel.Panel(srv.url, env="atexit", spool_dir=tmp_path / "r")
    t = trace(reader.get("w"))
    assert t["n"] == 2000
    reader.close()
