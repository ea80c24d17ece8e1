"""A Panel shared by threads, and used in forked children (multiprocessing, DataLoader-style workers)."""

from __future__ import annotations

import multiprocessing
import os
import threading

import numpy as np
import pytest

import livepanel

pytestmark = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")


def trace(state: dict, name: str = "") -> dict:
    return next(t for t in state["traces"] if t["name"] == name)


def test_threads_share_one_panel(server, tmp_path):
    p = livepanel.Panel(server.url, env="threads", spool_dir=tmp_path / "spool")
    n, k = 2000, 4

    def work(i: int) -> None:
        for step in range(n):
            p.line(step, float(i), win="own", name=f"t{i}")
            p.line(float(i), win="shared")
            if step % 500 == 0:
                p.histogram(np.arange(100) * i, win="h")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(k)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert p.flush(20)
    own = p.get("own")
    for i in range(k):
        np.testing.assert_array_equal(trace(own, f"t{i}")["x"], np.arange(n))
    shared = trace(p.get("shared"))
    assert shared["n"] == n * k and sorted(np.bincount(shared["y"].astype(int))) == [n] * k
    assert len(p.get("h")["steps"]) == 4 * k
    p.close()


def _child(panel: livepanel.Panel, i: int, flush: bool) -> None:
    for step in range(100):
        panel.line(step, float(i), win="workers", name=f"w{i}")
    if flush:
        panel.flush(10)
    # otherwise: leaving the process must deliver (multiprocessing finalizer)


@pytest.mark.parametrize("flush", [True, False])
def test_multiprocessing_fork_children(server, tmp_path, flush):
    p = livepanel.Panel(server.url, env=f"fork{int(flush)}", spool_dir=tmp_path / "spool")
    p.line(0.0, win="parent")  # the parent's sender is running when the children fork
    parent_id = p.client_id
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_child, args=(p, i, flush)) for i in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    p.line(1.0, win="parent")
    state = p.get("workers")
    for i in range(3):
        np.testing.assert_array_equal(trace(state, f"w{i}")["x"], np.arange(100))
    assert trace(p.get("parent"))["n"] == 2
    assert p.client_id == parent_id
    p.close()


def test_os_fork_child_gets_own_client_id(server, tmp_path):
    p = livepanel.Panel(server.url, env="osfork", spool_dir=tmp_path / "spool")
    p.line(0.0, win="w")
    p.flush(5)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: log, flush, report the id, leave without atexit
        code = 1
        try:
            p.line(1.0, win="w", name="child")
            ok = p.flush(10)
            os.write(w, p.client_id.encode())
            code = 0 if ok else 2
        finally:
            os._exit(code)
    os.close(w)
    child_id = os.read(r, 100).decode()
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert child_id and child_id != p.client_id
    assert trace(p.get("w"), "child")["y"].tolist() == [1.0]
    p.close()
