"""Runs (issue 19): an env's config, summary and status with the real server and client; runs() and its
filter; the run record reaching a websocket viewer."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re

import numpy as np
import pytest
from client_helpers import wait_for
from wire import Socket, arun, get, line_op, send_ops

import livepanel
from livepanel import protocol, runs_filter


@pytest.fixture
def panel(server, tmp_path):
    p = livepanel.Panel(server.url, env="runs/a", spool_dir=tmp_path / "spool", max_backoff=0.2)
    yield p
    p.close(timeout=5)


def run_of(p: livepanel.Panel, env: str) -> dict:
    return next(r for r in p.runs() if r["env"] == env)


# ------------------------------------------------------------ config and summary


def test_config_and_summary_round_trip_flattened_and_merged(panel):
    panel.config({"optimizer": {"name": "adam", "betas": (0.9, 0.999)}, "lr": 1e-3, "seed": 7, "note": None})
    panel.config({"lr": 3e-4, "epochs": 10, "amp": True, "size": np.int64(5)})  # merged into the first
    panel.summary({"acc/test": 0.91})
    run = run_of(panel, "runs/a")
    assert run["config"] == {
        "optimizer.name": "adam",
        "optimizer.betas": "(0.9, 0.999)",  # kept as its repr
        "lr": 3e-4,
        "seed": 7,
        "note": None,
        "epochs": 10,
        "amp": True,
        "size": 5,
    }
    assert run["summary"] == {"acc/test": 0.91}
    panel.config({"only": 1}, merge=False)
    assert run_of(panel, "runs/a")["config"] == {"only": 1}


def test_config_given_to_the_panel_namespace_and_dataclass(server, tmp_path):
    @dataclasses.dataclass
    class Optim:
        name: str = "sgd"
        momentum: float = 0.9

    @dataclasses.dataclass
    class Cfg:
        lr: float = 0.1
        optim: Optim = dataclasses.field(default_factory=Optim)

    with livepanel.Panel(server.url, env="runs/dc", config=Cfg(), spool_dir=tmp_path / "s") as p:
        p.config(argparse.Namespace(seed=3, data="mnist"))
        assert run_of(p, "runs/dc")["config"] == {
            "lr": 0.1,
            "optim.name": "sgd",
            "optim.momentum": 0.9,
            "seed": 3,
            "data": "mnist",
        }


@pytest.mark.parametrize(
    ("values", "error", "text"),
    [
        ({1: 2}, TypeError, "keys must be strings"),
        ({"a": {2: 1}}, TypeError, "keys must be strings"),
        ({f"k{i}": i for i in range(10_001)}, ValueError, "more than 10000 keys"),
        ({"big": 2**64}, ValueError, "64-bit"),
        ({"long": "x" * 1001}, ValueError, "the limit is 1000"),
        ({"list": list(range(1000))}, ValueError, "repr"),
        ({"k" * 201: 1}, ValueError, "1 to 200 characters"),
        ([1, 2], TypeError, "must be a dict"),
    ],
)
def test_bad_config_raises_at_the_call_and_sends_nothing(panel, values, error, text):
    panel.config({"kept": 1})
    panel.flush()
    before = panel.stats["batches"]
    with pytest.raises(error, match=text):
        panel.config(values)
    with pytest.raises(error, match=text):
        panel.summary(values)
    panel.flush()
    assert panel.stats["batches"] == before
    run = run_of(panel, "runs/a")
    assert run["config"] == {"kept": 1} and run["summary"] == {}


def test_config_and_summary_survive_a_restart(server, tmp_path):
    with livepanel.Panel(server.url, env="runs/kept", spool_dir=tmp_path / "s") as p:
        p.config({"lr": 0.01, "opt": {"name": "adam"}})
        p.summary({"acc": 0.5})
        p.line(1.0, win="loss")
        p.flush()
    server.restart()
    status, body = get(server.url, "/api/v1/runs", format="json")
    assert status == 200
    (run,) = json.loads(body)["runs"]
    assert run["config"] == {"lr": 0.01, "opt.name": "adam"} and run["summary"] == {"acc": 0.5}
    assert run["status"] == "finished" and run["created"] <= run["updated"]


@pytest.mark.parametrize(
    ("op", "field"),
    [
        ({"config": {"a": [1]}}, "run config 'a'"),
        ({"config": {"": 1}}, "run config: a key"),
        ({"config": {"a": 2**63}}, "run config 'a'"),
        ({"summary": {"a": "x" * 1001}}, "run summary 'a'"),
        ({"summary": [1]}, "run summary must be a map"),
        ({"config": {f"k{i}": 0 for i in range(10_001)}}, "10000"),
        ({"status": "done"}, "run status"),
        ({"merge": 1}, "run merge"),
        ({"color": 5}, "run color"),
        ({"extra": 1}, "unknown field"),
    ],
)
def test_bad_run_ops_get_a_400_naming_the_field(server, op, field):
    status, answer = send_ops(server.url, [{"op": "run", "env": "w", **op}])
    assert status == 400, answer
    assert field in answer["error"] and answer["op"] == 0
    assert get(server.url, "/api/v1/runs")[1]["runs"] == []


def test_a_viewer_gets_the_run_record_in_a_snapshot_and_live(server):
    assert send_ops(server.url, [{"op": "run", "env": "v", "config": {"lr": 0.1}}])[0] == 200

    async def watch():
        sock = await Socket(server.url).connect()
        try:
            await sock.recv()  # hello
            await sock.subscribe([{"env": "v"}])
            snap = await sock.until(lambda m: m["type"] == "snapshot")
            assert snap["run"]["config"] == {"lr": 0.1} and snap["run"]["status"] is None
            op = {"op": "run", "env": "v", "summary": {"acc": 1.0}, "status": "finished"}
            assert send_ops(server.url, [op], seq=2)[0] == 200
            change = await sock.until(lambda m: m["type"] == "change" and m["op"]["op"] == "run")
            assert change["seq"] == snap["seq"] + 1
            assert change["op"]["run"] == {
                "config": {"lr": 0.1},
                "summary": {"acc": 1.0},
                "status": "finished",
                "color": None,
            }
            assert send_ops(server.url, [line_op("v", "loss", [0], [1.0])], seq=3)[0] == 200  # data: running again
            again = await sock.until(lambda m: m["type"] == "change")
            assert again["seq"] == change["seq"] + 1 and again["op"]["run"]["status"] == "running"
            line = await sock.until(lambda m: m["type"] == "change")
            assert line["seq"] == again["seq"] + 1 and line["op"]["op"] == "line"
        finally:
            sock.close()

    arun(watch())


# ------------------------------------------------------------ runs()


def test_runs_metrics_status_and_alerts(server, tmp_path):
    a = livepanel.Panel(server.url, env="cmp/a", spool_dir=tmp_path / "a")
    b = livepanel.Panel(server.url, env="cmp/b", spool_dir=tmp_path / "b")
    for step, loss in enumerate([3.0, 1.0, float("nan"), 2.0]):
        a.log({"loss/train": loss, "acc": step / 10}, step=step)
    a.line([5.0, 4.0], win="other", name="x")
    b.line([1.0, 0.5], win="loss", name="train")
    a.flush()
    assert wait_for(lambda: run_of(b, "cmp/a")["alerts"] >= 1)  # the NaN: an alert (nonfinite)
    rows = {r["env"]: r for r in a.runs()}
    m = rows["cmp/a"]["metrics"]
    assert m["loss/train"] == {"last": 2.0, "min": 1.0, "max": 3.0, "step": 3.0}
    assert m["acc"]["last"] == pytest.approx(0.3) and m["other/x"]["step"] == 1.0
    assert rows["cmp/a"]["steps"] == 3 and rows["cmp/b"]["alerts"] == 0
    assert {r["status"] for r in rows.values()} == {"running"}
    assert [r["env"] for r in a.runs(stale=0)] and {r["status"] for r in a.runs(stale=0)} == {"stale"}
    a.close()
    rows = {r["env"]: r for r in b.runs()}
    assert rows["cmp/a"]["status"] == "finished" and rows["cmp/b"]["status"] == "running"
    b.line([0.5], win="loss", name="train", env="cmp/a")  # data again: running again
    assert run_of(b, "cmp/a")["status"] == "running"
    b.close()


def test_runs_filter_expressions(server, tmp_path):
    for name, opt, lr in (("f/adam1", "adam", 0.001), ("f/adam2", "adam", 0.1), ("f/sgd", "sgd", 0.001)):
        with livepanel.Panel(server.url, env=name, config={"optimizer": opt, "lr": lr}, spool_dir=tmp_path / name) as p:
            p.log({"loss/val": lr * 10}, step=1)
    p = livepanel.Panel(server.url, env="f/reader", spool_dir=tmp_path / "r")

    def names(expr: str) -> list[str]:
        return sorted(r["env"] for r in p.runs(filter=expr, flush=False))

    assert names('lr < 0.01 and optimizer == "adam"') == ["f/adam1"]
    assert names('name ~ "adam.*"') == ["f/adam1", "f/adam2"]
    assert names('status == "finished" and not (optimizer == "sgd" or lr > 0.01)') == ["f/adam1"]
    assert names("metric.loss/val.max >= 1 or config.lr == 0.1") == ["f/adam2"]
    assert names("missing == null and loss/val < 0.5") == ["f/adam1", "f/sgd"]
    assert names('optimizer < 1 or lr == "0.1"') == []  # a number and a string never compare
    for bad, text in (
        ("lr <", "ends"),
        ("lr < 0.1 lr", "unexpected"),
        ('name ~ "("', "regular expression"),
        ("(lr < 1", "')'"),
        ("lr $ 1", "cannot read"),
        ("", "empty"),
    ):
        with pytest.raises(runs_filter.FilterError, match=re.escape(text)):
            p.runs(filter=bad)
        if bad:  # ?filter= (empty) is no filter
            status, answer = get(server.url, "/api/v1/runs", filter=bad)
            assert status == 400 and text in answer["error"], answer
    p.close()


def test_runs_as_frame(server, tmp_path):
    pd = pytest.importorskip("pandas")
    with livepanel.Panel(server.url, env="df", config={"lr": 0.1}, spool_dir=tmp_path / "s") as p:
        p.log({"loss": 1.0}, step=0)
        frame = p.runs(as_frame=True)
    assert isinstance(frame, pd.DataFrame)
    assert frame.loc[0, "config.lr"] == 0.1 and frame.loc[0, "loss"] == 1.0


def test_metrics_follow_appends_and_replacements(server):
    ops = [line_op("m", "loss", [0, 1], [4.0, 2.0])]
    assert send_ops(server.url, ops)[0] == 200
    assert get(server.url, "/api/v1/runs")[1]["runs"][0]["metrics"]["loss"]["min"] == 2.0
    assert send_ops(server.url, [line_op("m", "loss", [2], [1.0])], seq=2)[0] == 200
    assert get(server.url, "/api/v1/runs")[1]["runs"][0]["metrics"]["loss"] == {
        "last": 1.0,
        "min": 1.0,
        "max": 4.0,
        "step": 2.0,
    }
    assert send_ops(server.url, [line_op("m", "loss", [7], [9.0], update="replace")], seq=3)[0] == 200
    assert get(server.url, "/api/v1/runs")[1]["runs"][0]["metrics"]["loss"]["min"] == 9.0


def test_protocol_knows_the_run_op():
    assert "run" in protocol.OPS


def test_a_data_dir_of_schema_4_gets_run_records(server_factory, tmp_path):
    """Schema 5 adds envs.run, created and updated: an older env has an empty record and unknown times."""
    import sqlite3

    from test_store_hardening import OLD_SCHEMA

    data = tmp_path / "v4"
    data.mkdir()
    schema_4 = OLD_SCHEMA.replace("content BLOB, PRIMARY KEY", "content BLOB, seq INTEGER, PRIMARY KEY").replace(
        "layout BLOB);", "layout BLOB, mute BLOB);"
    )
    with sqlite3.connect(data / "livepanel.sqlite3") as db:
        db.executescript(schema_4)
        db.execute("CREATE TABLE texts (env TEXT, win TEXT, part INTEGER, text TEXT, PRIMARY KEY (env, win, part))")
        db.execute("INSERT INTO meta VALUES ('store_id', 'v4-store-1234')")
        db.execute("INSERT INTO meta VALUES ('schema', '4')")
        db.execute("INSERT INTO envs VALUES ('old', 4, 1, NULL, NULL)")
    db.close()
    srv = server_factory(data_dir=data)
    (run,) = get(srv.url, "/api/v1/runs")[1]["runs"]
    assert run["config"] == {} and run["created"] is None and run["status"] == "stale"
    assert send_ops(srv.url, [{"op": "run", "env": "old", "config": {"lr": 1}}])[0] == 200
    srv.restart()
    (run,) = get(srv.url, "/api/v1/runs")[1]["runs"]
    assert run["config"] == {"lr": 1} and run["updated"] is not None and run["status"] == "running"


def test_runs_of_a_thousand_envs_are_quick(server):
    """1,000 runs x 10 metrics of 1,000 points: the route answers well within a second, again and again."""
    import time

    x = np.arange(1000, dtype="<f8")
    for batch in range(10):
        ops = [line_op(f"p{e}", f"m{m}", x, x * m) for e in range(batch * 100, batch * 100 + 100) for m in range(10)]
        assert send_ops(server.url, ops, seq=batch + 1)[0] == 200
    for _ in range(2):
        start = time.monotonic()
        status, answer = get(server.url, "/api/v1/runs")
        elapsed = time.monotonic() - start
        assert status == 200 and len(answer["runs"]) == 1000
    assert answer["runs"][5]["metrics"]["m3"] == {"last": 2997.0, "min": 0.0, "max": 2997.0, "step": 999.0}
    assert elapsed < 2.0, elapsed


def test_closing_after_the_env_was_deleted_does_not_make_it_again(server, tmp_path):
    p = livepanel.Panel(server.url, env="gone", spool_dir=tmp_path / "s")
    p.line(1.0, win="loss")
    p.flush()
    assert send_ops(server.url, [{"op": "delete_env", "env": "gone"}])[0] == 200
    assert p.close() is True
    assert get(server.url, "/api/v1/envs")[1]["envs"] == []
    assert get(server.url, "/api/v1/runs")[1]["runs"] == []


def test_a_script_that_dies_of_an_exception_leaves_its_run_failed(server, tmp_path):
    import subprocess
    import sys

    code = (
        "import livepanel\n"
        f"p = livepanel.Panel({server.url!r}, env='dies', spool_dir={str(tmp_path / 's')!r})\n"
        "p.log({'loss': 1.0}, step=0)\n"
        "raise RuntimeError('out of memory')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "out of memory" in out.stderr
    (run,) = get(server.url, "/api/v1/runs")[1]["runs"]
    assert run["env"] == "dies" and run["status"] == "failed"


def test_a_bad_config_given_to_the_panel_raises_before_it_starts(server, tmp_path):
    import threading

    before = threading.active_count()
    with pytest.raises(TypeError, match="keys must be strings"):
        livepanel.Panel(server.url, env="never", config={"a": {3: 1}}, spool_dir=tmp_path / "s")
    assert threading.active_count() == before
    assert get(server.url, "/api/v1/envs")[1]["envs"] == []
