"""`livepanel runs`, `export` and `rm` against a real server, as subprocesses (issue 19 item 13)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest
from wire import get

import livepanel


def run_cli(*args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "livepanel", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def filled(server, tmp_path):
    for name, opt, lr in (("cli/adam", "adam", 0.001), ("cli/sgd", "sgd", 0.1)):
        with livepanel.Panel(server.url, env=name, config={"optimizer": opt, "lr": lr}, spool_dir=tmp_path / "s") as p:
            for step in range(3):
                p.log({"loss/val": lr * (3 - step)}, step=step)
            p.text("done", win="notes")
    return server


def test_runs_lists_a_table_with_metrics_and_config(filled):
    out = run_cli("runs", "--url", filled.url, "--metric", "loss/val", "--config", "lr", "optimizer")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["env", "status", "steps", "updated", "loss/val", "config.lr", "config.optimizer"]
    adam = next(line.split() for line in lines if line.startswith("cli/adam"))
    assert adam[1:3] == ["finished", "2"] and adam[-3:] == ["0.001", "0.001", "adam"]


def test_runs_filter_and_csv_through_the_environment(filled):
    out = run_cli("runs", "--filter", 'optimizer == "sgd"', "--format", "csv", env={"LIVEPANEL_URL": filled.url})
    assert out.returncode == 0, out.stderr
    rows = list(csv.reader(io.StringIO(out.stdout)))
    assert [r[0] for r in rows] == ["env", "cli/sgd"]


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["runs", "--filter", "lr <"], "filter ends"),
        (["runs", "--format", "xml"], "invalid choice"),
        (["runs", "--stale", "-1"], "--stale"),
        (["export", "nope"], "no env 'nope'"),
        (["export", " bad"], "spaces"),
        (["rm", "nope", "--yes"], "no env 'nope'"),
    ],
)
def test_bad_input_is_one_line_and_status_2(filled, args, text):
    out = run_cli(*args, "--url", filled.url)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert text in out.stderr and "Traceback" not in out.stderr


def test_export_to_stdout_and_to_a_directory(filled, tmp_path):
    out = run_cli("export", "cli/adam", "cli/sgd", "--url", filled.url)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["cli/adam"]["run"]["config"] == {"optimizer": "adam", "lr": 0.001}
    assert doc["cli/sgd"]["windows"]["loss"]["traces"][0]["y"] == pytest.approx([0.3, 0.2, 0.1])
    out = run_cli("export", "cli/adam", "--format", "csv", "--out", str(tmp_path / "x"), "--url", filled.url)
    assert out.returncode == 0, out.stderr
    folder = tmp_path / "x" / "cli_adam"
    assert sorted(p.name for p in folder.iterdir()) == ["loss.csv", "notes.csv", "run.json"]
    assert (folder / "loss.csv").read_text().splitlines()[0] == "trace,x,y,time"
    assert json.loads((folder / "run.json").read_text())["summary"] == {}
    out = run_cli("export", "cli/sgd", "--format", "csv", "--url", filled.url)
    assert out.stdout.startswith('# env="cli/sgd" win="loss" format=csv\ntrace,x,y,time\n')


def test_rm_asks_first_then_deletes(filled):
    out = run_cli("rm", "cli/adam", "--url", filled.url, stdin="n\n")
    assert out.returncode == 1 and "nothing deleted" in out.stderr
    assert len(get(filled.url, "/api/v1/runs")[1]["runs"]) == 2
    out = run_cli("rm", "cli/adam", "--url", filled.url, stdin="y\n")
    assert out.returncode == 0, out.stderr
    out = run_cli("rm", "cli/sgd", "--yes", "--url", filled.url)
    assert out.returncode == 0, out.stderr
    assert get(filled.url, "/api/v1/runs")[1]["runs"] == []
