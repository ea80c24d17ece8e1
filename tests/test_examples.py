"""The examples run as users run them (`python examples/NAME.py --url URL`) against a real server.

Each test checks what the example promises to show; for training_problems, the server raises exactly
the alert each run is named after (and none for the healthy digits run), and replaying the stored
points through the diagnosis engine one by one gives the same.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import livepanel

ROOT = Path(__file__).resolve().parents[1]


def run_example(name: str, url: str, tmp_path: Path, *args: str, timeout: float = 60) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("LIVEPANEL_TOKEN", "LIVEPANEL_URL")}
    env["LIVEPANEL_SPOOL"] = str(tmp_path / "spool")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / f"{name}.py"), "--url", url, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "delivered: True" in proc.stdout, proc.stdout
    return proc.stdout


def traces(panel: livepanel.Panel, win: str) -> dict:
    return {t["name"]: t for t in panel.get(win)["traces"]}


def replay_diagnosis(panel: livepanel.Panel, env: str) -> list:
    """Feed every line point of an env to a fresh Diagnoser in the order the points were logged, one batch
    each (settled, as the server's worker settles each batch)."""
    from livepanel.diagnosis import Diagnoser

    points = []
    for win in panel.windows(env):
        state = panel.get(win, env)
        if state["kind"] != "line":
            continue
        for tr in state["traces"]:
            for i, (t, x, y) in enumerate(zip(tr["t"], tr["x"], tr["y"], strict=True)):
                points.append((t, i, win, tr["name"], x, y, state["opts"]))
    points.sort(key=lambda p: (p[0], p[1]))
    diagnoser, alerts = Diagnoser(), []
    for _, _, win, trace, x, y, opts in points:
        alerts += diagnoser.observe(env, win, trace, np.array([x]), np.array([y]), opts)
        alerts += diagnoser.settle()
    return alerts


def test_quickstart(server, tmp_path):
    run_example("quickstart", server.url, tmp_path)
    with livepanel.Panel(server.url, env="quickstart", spool_dir=tmp_path / "spool") as panel:
        assert sorted(panel.windows()) == ["image", "loss", "notes", "weights"]
        assert len(panel.get("loss")["traces"][0]["y"]) == 200
        assert panel.get("weights")["steps"][0]["stats"]["n"] == 10_000
        assert panel.get("image")["steps"][0]["images"][0]["width"] == 64
        assert "Hello" in panel.get("notes")["text"]


def test_train_digits(server, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    out = run_example("train_digits", server.url, tmp_path, "--quick", "--watch-every", "10")
    with livepanel.Panel(server.url, env="digits/mlp", spool_dir=tmp_path / "spool") as panel:
        wins = set(panel.windows())
        layers = ["fc1", "fc2", "out"]
        assert {"loss", "accuracy", "lr", "grad_norm", "samples", "confusion", "summary"} <= wins
        assert {f"{kind}/{layer}" for kind in ("weights", "grads") for layer in layers} <= wins
        loss = traces(panel, "loss")
        steps = len(loss["train"]["y"])
        assert steps == 3 * 23  # 1437 training digits in batches of 64
        assert list(loss["val"]["x"]) == [0, 23, 46, 69]  # before training, then after each epoch
        assert loss["train"]["y"][-10:].mean() < loss["train"]["y"][:10].mean() / 2
        assert traces(panel, "accuracy")["val"]["y"][-1] > 0.8  # after 3 epochs
        norms = panel.get("grad_norm")["traces"]
        assert [t["name"] for t in norms] == layers
        assert list(norms[0]["x"]) == list(range(0, steps, 10))
        assert all(np.all(np.isfinite(t["y"])) and np.all(t["y"] > 0) for t in norms)
        assert len(panel.get("grads/fc1")["steps"]) == len(norms[0]["x"])
        assert panel.get("weights/fc1")["steps"][0]["stats"]["n"] == 64 * 128 + 128
        samples = panel.get("samples")["steps"]
        assert len(samples) == 3 and len(samples[-1]["images"]) == 32
        assert np.asarray(panel.get("confusion")["z"]).sum() == 360  # every validation digit once
        assert "accuracy" in panel.get("summary")["text"]
        assert panel.alerts("digits/mlp") == []  # a healthy run raises no alert on the server
        assert replay_diagnosis(panel, "digits/mlp") == []  # nor replayed point by point
    assert "val_acc" in out


def test_compare_optimizers(server, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    out = run_example("compare_optimizers", server.url, tmp_path, "--quick")
    with livepanel.Panel(server.url, spool_dir=tmp_path / "spool") as panel:
        runs = [e for e in panel.envs() if e.startswith("digits/") and e != "digits/compare"]
        names = ("sgd-lr1e-1", "sgd-lr1e-2", "momentum-lr1e-1", "momentum-lr1e-2", "adam-lr1e-2", "adam-lr1e-3")
        assert sorted(runs) == sorted(f"digits/{n}-s{seed}" for n in names for seed in (0, 1))
        for env in runs:  # the same windows and traces in every env: ready to overlay
            assert sorted(panel.windows(env)) == ["accuracy", "loss", "lr"]
            assert [t["name"] for t in panel.get("loss", env)["traces"]] == ["train", "val"]
        for seed in (0, 1):  # one seed: the same init and data order for every optimizer; seeds differ
            first = {e: panel.get("loss", e)["traces"][0]["y"][0] for e in runs if e.endswith(f"-s{seed}")}
            assert len({round(float(v), 6) for v in first.values()}) == 1
        s0, s1 = (panel.get("loss", f"digits/sgd-lr1e-1-s{seed}")["traces"][0]["y"][0] for seed in (0, 1))
        assert s0 != s1
        bar = panel.get("val_accuracy", "digits/compare")
        assert len(bar["labels"]) == 12 and np.all(np.asarray(bar["y"]) > 0)
        adams = panel.runs(filter='optimizer == "adam" and lr < 0.005')
        assert sorted(r["env"] for r in adams) == ["digits/adam-lr1e-3-s0", "digits/adam-lr1e-3-s1"]
        adam = next(r for r in adams if r["config"]["seed"] == 1)
        assert adam["status"] == "finished"
        assert adam["config"] == {"recipe": "adam-lr1e-3", "optimizer": "adam", "lr": 1e-3, "momentum": 0.0, "seed": 1}
        assert adam["summary"]["accuracy/val"] == adam["metrics"]["accuracy/val"]["last"]
    assert "env=digits/adam-lr1e-3-s1" in out and "group=recipe" in out


def test_training_problems(server, tmp_path):
    """One process runs the three problems (torch's import is the slow part); each env shows its problem."""
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    run_example("training_problems", server.url, tmp_path, "--quick")
    expected = {
        "overfitting": [("overfitting", "loss", "val")],
        "vanishing-gradients": [("vanishing_gradients", "grad_norm", "a collapsed layer")],
        "lr-too-high": [("divergence", "loss", "train")],
    }
    with livepanel.Panel(server.url, spool_dir=tmp_path / "spool") as panel:
        norms = {t["name"]: t["y"] for t in panel.get("grad_norm", "problems/vanishing-gradients")["traces"]}
        # Several early layers collapse; which one the alert names depends on the order their points
        # reach the detector (the client batches many steps per request): any of them is right.
        collapsed = {n for n, y in norms.items() if np.log10(y[-20:].mean() / y[:5].mean()) < -1.5}
        assert "fc1" in collapsed and "out" not in collapsed
        for problem, want in expected.items():
            env = f"problems/{problem}"
            assert {"loss", "lr"} <= set(panel.windows(env))
            alerts = panel.alerts(env)  # raised by the server as the points arrived
            replayed = replay_diagnosis(panel, env)  # and the same when replayed point by point
            for found, messages in (
                ([(a["kind"], a["win"], a["trace"]) for a in alerts], [a["message"] for a in alerts]),
                ([(a.kind, a.win, a.trace) for a in replayed], [a.message for a in replayed]),
            ):
                if problem == "vanishing-gradients" and len(found) == 1 and found[0][2] in collapsed:
                    found = [(*found[0][:2], "a collapsed layer")]
                assert found == want, messages
