"""`livepanel import-tb` maps TensorBoard hparams (what `SummaryWriter.add_hparams` writes) to the run config of
the env the event file goes to, exactly once; a file without hparams gives no config."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("tensorboard")
pytest.importorskip("google_crc32c")

from livepanel import Panel  # noqa: E402
from livepanel.tensorboard.importer import import_logdir  # noqa: E402

HPARAMS = {"lr": 0.01, "optimizer": "adam", "layers": 3, "bn": True}


def runs_by_env(url: str, tmp_path: Path) -> dict[str, dict]:
    with Panel(url, spool_dir=tmp_path / "spool", replay_spool=False) as panel:
        return {r["env"]: r for r in panel.runs()}


def write_hparams(logdir: Path) -> Path:
    """add_hparams writes the hparams and the metrics into a child run named by a timestamp."""
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(str(logdir / "run1"))
    w.add_scalar("loss", 0.5, 1)
    w.add_hparams(HPARAMS, {"hparam/accuracy": 0.9}, run_name="trial")
    w.close()
    return logdir / "run1" / "trial"


def test_add_hparams_becomes_the_config_once(server_factory, tmp_path):
    write_hparams(tmp_path / "runs")
    srv = server_factory()
    first = import_logdir(tmp_path / "runs", srv.url)
    assert first.rejected == 0 and first.corrupt == 0
    runs = runs_by_env(srv.url, tmp_path)
    assert runs["run1/trial"]["config"] == HPARAMS
    assert runs["run1/trial"]["metrics"]["hparam/accuracy"]["last"] == pytest.approx(0.9)
    assert not runs["run1"]["config"]  # the parent run (plain scalars) has no config
    assert import_logdir(tmp_path / "runs", srv.url).batches == 0  # exactly once
    srv.restart()
    assert import_logdir(tmp_path / "runs", srv.url).batches == 0
    assert runs_by_env(srv.url, tmp_path)["run1/trial"]["config"] == HPARAMS


def test_default_run_name_and_values(server, tmp_path):
    """Without run_name torch names the child run by a timestamp; NaN stays a float, long strings are cut."""
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(str(tmp_path / "runs" / "exp"))
    w.add_hparams({"lr": float("nan"), "note": "x" * 1500, "wd": float("inf")}, {"hparam/loss": 0.1})
    w.close()
    (child,) = [p for p in (tmp_path / "runs" / "exp").iterdir() if p.is_dir()]
    assert import_logdir(tmp_path / "runs", server.url).rejected == 0
    config = runs_by_env(server.url, tmp_path)[f"exp/{child.name}"]["config"]
    assert config["note"] == "x" * 1000 and config["wd"] == float("inf") and config["lr"] != config["lr"]


def test_no_hparams_no_config(server, tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(str(tmp_path / "runs" / "plain"))
    for step in range(3):
        w.add_scalar("loss", 1.0 / (step + 1), step)
    w.close()
    assert import_logdir(tmp_path / "runs", server.url).rejected == 0
    run = runs_by_env(server.url, tmp_path)["plain"]
    assert not run["config"] and run["metrics"]["loss"]["last"] == pytest.approx(1 / 3)
