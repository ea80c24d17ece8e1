"""`livepanel serve --logdir`: a log directory imported at start and followed while writers run."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorboard")
pytest.importorskip("google_crc32c")

from tensorboard.compat.proto import event_pb2  # noqa: E402

from livepanel import Panel  # noqa: E402
from livepanel.tensorboard.records import frame  # noqa: E402


def wait_for(check, timeout: float = 10.0):
    """Poll until check() returns something truthy; return it and the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            value = check()
        except KeyError:  # the window is not there yet
            value = None
        if value:
            return value, time.monotonic() - start
        time.sleep(0.01)
    raise AssertionError(f"not seen within {timeout} s")


def points(panel: Panel, win: str, env: str, trace: str = "") -> np.ndarray:
    for t in panel.get(win, env, flush=False)["traces"]:
        if t["name"] == trace:
            return t["x"]
    return np.array([])


def scalar_record(step: int, value: float, tag: str = "loss") -> bytes:
    ev = event_pb2.Event(wall_time=1.7e9 + step, step=step)
    v = ev.summary.value.add()
    v.tag, v.simple_value = tag, value
    return frame(ev.SerializeToString())


def test_live_tail_new_events_files_and_runs(server_factory, tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    logdir = tmp_path / "runs"
    w = SummaryWriter(str(logdir / "exp"))
    for step in range(1, 6):
        w.add_scalar("loss", 1.0 / step, step)
    w.flush()
    srv = server_factory("--logdir", str(logdir))
    panel = Panel(srv.url, spool_dir=tmp_path / "spool", replay_spool=False)
    try:
        wait_for(lambda: len(points(panel, "loss", "exp")) == 5)  # imported at start
        delays = []
        for step in range(6, 11):  # the writer goes on: each flushed event shows up within a second
            w.add_scalar("loss", 1.0 / step, step)
            w.flush()
            delays.append(wait_for(lambda n=step: len(points(panel, "loss", "exp")) == n)[1])
        assert statistics.median(delays) < 1.0 and max(delays) < 3.0, delays
        w.add_histogram("weights", np.arange(100.0), 10)
        w.add_text("notes", "live *text*", 10)
        w.flush()
        wait_for(lambda: panel.get("notes", "exp", flush=False)["text"] == "**step 10**\n\nlive *text*\n\n")
        wait_for(lambda: panel.get("weights", "exp", flush=False)["steps"][0]["stats"]["n"] == 100)

        w2 = SummaryWriter(str(logdir / "exp2" / "seed1"))  # a new run directory, two levels down
        w2.add_scalar("acc", 0.5, 1)
        w2.flush()
        _, delay = wait_for(lambda: len(points(panel, "acc", "exp2/seed1")) == 1)
        assert delay < 3.0
        w2.close()
        w.close()
        np.testing.assert_array_equal(points(panel, "loss", "exp"), np.arange(1, 11))
    finally:
        panel.close()

    srv.restart()  # imported again at start: nothing twice
    wait_for(lambda: srv.log.read_text().count(f"livepanel: imported {logdir}") == 2)  # its first pass is done
    with Panel(srv.url, spool_dir=tmp_path / "spool2", replay_spool=False) as panel:
        np.testing.assert_array_equal(points(panel, "loss", "exp"), np.arange(1, 11))
        assert len(points(panel, "acc", "exp2/seed1")) == 1
        assert len(panel.get("weights", "exp", flush=False)["steps"]) == 1
    assert "Traceback" not in srv.log.read_text()


def test_tail_waits_for_a_record_being_written_and_skips_a_corrupt_one(server_factory, tmp_path):
    logdir = tmp_path / "logs"
    run = logdir / "run"
    run.mkdir(parents=True)
    path = run / "events.out.tfevents.1700000000.host"
    path.write_bytes(scalar_record(1, 1.0))
    srv = server_factory("--logdir", str(logdir), "--token", "s3cret")  # the tail uses the server's token
    with Panel(srv.url, token="s3cret", spool_dir=tmp_path / "spool", replay_spool=False) as panel:
        wait_for(lambda: len(points(panel, "loss", "run")) == 1)
        record = scalar_record(2, 2.0)
        with open(path, "ab") as f:  # half a record: a writer mid-write
            f.write(record[:15])
        time.sleep(0.6)
        with open(path, "ab") as f:
            f.write(record[15:])
        wait_for(lambda: len(points(panel, "loss", "run")) == 2)
        assert "corrupt" not in srv.log.read_text()

        offset = path.stat().st_size
        bad = bytearray(scalar_record(3, 3.0))
        bad[-6] ^= 0xFF  # the value's bytes: the data CRC no longer matches
        with open(path, "ab") as f:
            f.write(bytes(bad) + scalar_record(4, 4.0))
        wait_for(lambda: len(points(panel, "loss", "run")) == 3)
        np.testing.assert_array_equal(points(panel, "loss", "run"), [1, 2, 4])
    log = srv.log.read_text()
    assert log.count("corrupt record") == 1
    assert f"{path}: corrupt record at offset {offset}" in log


def test_logdir_that_appears_later(server_factory, tmp_path: Path):
    """A log directory that does not exist yet (the training starts after the server) is picked up."""
    logdir = tmp_path / "later"
    srv = server_factory("--logdir", str(logdir), store="memory")
    (logdir / "r").mkdir(parents=True)
    (logdir / "r" / "events.out.tfevents.1.host").write_bytes(scalar_record(7, 0.5))
    with Panel(srv.url, spool_dir=tmp_path / "spool", replay_spool=False) as panel:
        wait_for(lambda: len(points(panel, "loss", "r")) == 1)
