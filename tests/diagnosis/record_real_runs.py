"""Record real PyTorch trainings on sklearn's digits, healthy and with real problems, for the diagnosis tests.

    python tests/diagnosis/record_real_runs.py [--only NAME ...] [--check]

Writes tests/diagnosis/real_runs.npz (the series only, float32, compressed), which
tests/diagnosis/real_runs.py loads: the tests never train. Needs torch and scikit-learn; CPU, one
thread, 1-5 s per run (about a minute in all). `--check` prints each run's curves in
tenths (training loss, validation loss, first and last layer's gradient norm) instead of writing.

Each run logs what a user would log, as `panel.log(...)` would name it (window before the first
`/`, trace after it): the training loss and the learning rate every step, the validation loss and
accuracy at step 0 and every N steps, per-layer gradient norms (`grad_norm/<layer>`, and the other
habits in NAMINGS) every step or every N steps, sometimes the training accuracy.

Problems are caused for real, not injected:
- nonfinite: a hand-written binary cross-entropy takes the log of 0 once a sigmoid rounds to 1
  (Adam at a high learning rate); a per-class mean loss divides 0 by 0 when a class is missing
  from a batch.
- divergence: a mid-run raise of the learning rate by x20 to x100 that sends the loss back to (or
  past) where it started, where it stays; a linear warm-up to too high a peak.
- exploding_gradients: deep ReLU networks (6 or 8 layers) without normalisation, initialised too
  large, at a high SGD rate: after 100-300 ordinary steps the gradient norms grow by orders of
  magnitude in a few steps, then NaN.
- overfitting: a large MLP without regularisation on 100-200 training digits.
- not_learning: `optimizer.step()` forgotten; labels shuffled apart from their inputs; every ReLU
  dead from the start (biases initialised at -10).
- lr_too_high: Adam at lr 0.5 from the start; a x30 raise after a healthy start (the loss then
  swings by an order of magnitude and more from step to step).
- vanishing_gradients: deep sigmoid networks without normalisation (the first layers' gradients
  4 to 10 orders of magnitude below the last layer's from step 0).

Onsets (the `onset` of each run, in steps):
- nonfinite: the first step where a logged loss or gradient norm is NaN or infinite.
- divergence and lr_too_high caused by a raise: the step of the raise. lr_too_high from the start:
  0. divergence by a warm-up to too high a peak: the step where the training loss, smoothed by a
  centred running median of 25 steps, is lowest before it first climbs back above half way between
  its start and its lowest value so far (once that lowest value is below half its start).
- exploding_gradients: the first step of the final run-up, i.e. the first step t such that the
  largest per-layer gradient norm is above 3 times its median over the steps before the first
  non-finite one, at every step from t to that first non-finite one.
- overfitting: the step of the lowest validation loss, smoothed by a centred running mean of
  5 validation points.
- not_learning and vanishing_gradients (present from the start): 0, or the end of the warm-up
  when the run has one.

Healthy runs are checked (`check_healthy`): all finite, the training loss ends below half its
start, and the smoothed validation loss ends within 10% of its lowest value (no overfitting).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

OUT = Path(__file__).with_name("real_runs.npz")

# Naming habits: (train loss, val loss, val acc, train acc, lr, grad norm of a layer) as (win, trace).
NAMINGS = [
    (("loss", "train"), ("loss", "val"), ("acc", "val"), ("acc", "train"), ("lr", ""), ("grad_norm", "{}")),
    (("train", "loss"), ("val", "loss"), ("val", "acc"), ("train", "acc"), ("learning_rate", ""), ("grad", "{}/norm")),
    (("train_loss", ""), ("val_loss", ""), ("val_accuracy", ""), ("train_accuracy", ""), ("lr", ""),
     ("grads", "{}.weight")),
    (("loss", ""), ("loss", "valid"), ("accuracy", "valid"), ("accuracy", "train"), ("optim", "lr"),
     ("gradients", "{}")),
    (("loss", "train"), ("eval", "loss"), ("eval", "accuracy"), ("train", "accuracy"), ("lr", ""),
     ("grad_norm", "{}")),
]  # fmt: skip


@dataclass
class Recipe:
    name: str
    label: str
    steps: int
    opt: str = "adam"
    lr: float = 1e-3
    opt_kw: dict = field(default_factory=dict)
    sched: Callable[[int], float] | None = None  # multiplier of lr at a step
    raise_at: tuple[int, float] | None = None  # (step, factor): the learning rate raised by hand
    arch: str = "mlp"
    hidden: tuple[int, ...] = (128, 64)
    act: str = "relu"
    gain: float | None = None  # weights ~ N(0, gain^2 / fan_in) instead of PyTorch's default
    bias: float | None = None
    batchnorm: bool = False
    dropout: float = 0.0
    batch: int = 64
    ntrain: int | None = None  # None: all 1437 training digits
    loss: str = "ce"  # ce, bce_log (hand-written, log of 0), per_class_mean (0/0), mse
    bug: str | None = None  # no_step, shuffled_labels
    naming: int = 0
    val_every: int = 25
    grad_every: int = 1
    train_acc: bool = False
    val_loss: bool = True
    val_acc: bool = True
    warmup: int = 0  # steps of warm-up (for onsets of problems present from the start)
    seed: int = 0


def cosine(n: int, warm: int = 0) -> Callable[[int], float]:
    def f(s: int) -> float:
        if s < warm:
            return (s + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (s - warm) / max(1, n - warm)))) + 1e-3

    return f


def steps_decay(at: tuple[int, ...], by: float = 0.1) -> Callable[[int], float]:
    return lambda s: by ** sum(s >= a for a in at)


def restarts(t0: int, mult: int = 2) -> Callable[[int], float]:
    def f(s: int) -> float:
        t = t0
        while s >= t:
            s -= t
            t *= mult
        return 0.5 * (1 + math.cos(math.pi * s / t)) + 1e-3

    return f


def one_cycle(n: int, peak: float = 25.0, up: float = 0.3) -> Callable[[int], float]:
    k = int(up * n)

    def f(s: int) -> float:
        if s < k:
            return 1 + (peak - 1) * s / k
        return 1e-2 + (peak - 1e-2) * 0.5 * (1 + math.cos(math.pi * (s - k) / (n - k)))

    return f


def ramp(n: int, to: float) -> Callable[[int], float]:
    return lambda s: 1 + (to - 1) * s / n


RECIPES: list[Recipe] = [
    # ---- healthy: optimisers, learning rates, depths, schedules
    Recipe("adam-const", "healthy", 1200, naming=0),
    Recipe("adam-cosine", "healthy", 1400, lr=3e-3, sched=cosine(1400), naming=1, val_every=23, train_acc=True),
    Recipe("sgd-momentum-step", "healthy", 1500, opt="sgd", lr=0.05, opt_kw={"momentum": 0.9},
           sched=steps_decay((750, 1125)), naming=2, val_every=50, grad_every=10),
    Recipe("sgd-tanh", "healthy", 2000, opt="sgd", lr=0.1, act="tanh", naming=3, val_every=40),
    Recipe("adamw-warmup-cosine-deep", "healthy", 1500, opt="adamw", lr=2e-3, opt_kw={"weight_decay": 0.05},
           sched=cosine(1500, warm=150), hidden=(256, 128, 64), naming=4, warmup=150, grad_every=5),
    Recipe("rmsprop", "healthy", 1200, opt="rmsprop", lr=5e-4, naming=0, val_every=10, val_acc=False),
    Recipe("adagrad", "healthy", 1200, opt="adagrad", lr=0.05, naming=1, train_acc=True),
    Recipe("sgd-nesterov-restarts", "healthy", 1400, opt="sgd", lr=0.05,
           opt_kw={"momentum": 0.9, "nesterov": True}, sched=restarts(200), naming=2, val_every=20),
    Recipe("adam-batchnorm-deep", "healthy", 1200, hidden=(64,) * 6, batchnorm=True, naming=3, val_every=30),
    Recipe("cnn-adam", "healthy", 1000, arch="cnn", lr=2e-3, naming=4, val_every=25, train_acc=True),
    Recipe("sgd-one-cycle", "healthy", 1500, opt="sgd", lr=0.008, opt_kw={"momentum": 0.9, "weight_decay": 1e-3},
           sched=one_cycle(1500, peak=12.0), naming=0, val_every=50, grad_every=2),
    Recipe("adam-batch16", "healthy", 3000, lr=5e-4, batch=16, naming=1, val_every=90, val_loss=False),
    Recipe("adam-batch256-dropout-decay", "healthy", 800, lr=1e-2, batch=256, dropout=0.2,
           opt_kw={"weight_decay": 1e-4}, sched=lambda s: 0.997**s, naming=2, val_every=8),
    Recipe("sgd-slow", "healthy", 3000, opt="sgd", lr=0.01, naming=3, val_every=100),
    # ---- nonfinite
    Recipe("log0-bce-adam", "nonfinite", 1500, lr=0.01, hidden=(256, 128), loss="bce_log", naming=4),
    Recipe("log0-bce-adam-fast", "nonfinite", 1500, lr=0.03, hidden=(256, 128), loss="bce_log", naming=0,
           grad_every=5, seed=1),
    Recipe("per-class-mean-0-over-0", "nonfinite", 1500, loss="per_class_mean", naming=1, seed=2),
    # ---- divergence
    Recipe("sgd-momentum-raised-x20", "divergence", 1500, opt="sgd", lr=0.05, opt_kw={"momentum": 0.9},
           raise_at=(600, 20.0), naming=2),
    Recipe("adam-tanh-raised-x100", "divergence", 1500, act="tanh", raise_at=(800, 100.0), naming=3, val_every=50),
    Recipe("sgd-warmup-too-high", "divergence", 1200, opt="sgd", lr=0.05, sched=ramp(1200, 120.0), naming=4,
           val_every=20),
    # ---- exploding gradients
    Recipe("relu8-init-too-large", "exploding_gradients", 1000, opt="sgd", lr=0.1, opt_kw={"momentum": 0.9},
           hidden=(64,) * 8, gain=1.6, naming=0),
    Recipe("relu6-init-too-large", "exploding_gradients", 1200, opt="sgd", lr=0.1, opt_kw={"momentum": 0.9},
           hidden=(64,) * 6, gain=1.8, naming=1),
    Recipe("relu8-init-too-large-b", "exploding_gradients", 800, opt="sgd", lr=0.1, opt_kw={"momentum": 0.9},
           hidden=(64,) * 8, gain=1.7, naming=2, grad_every=2),
    # ---- overfitting
    Recipe("tiny-set-adam-512", "overfitting", 1500, hidden=(512, 512), ntrain=100, batch=32, naming=3,
           val_every=15),
    Recipe("tiny-set-adam-256", "overfitting", 1500, hidden=(256, 256), ntrain=200, batch=32, naming=4,
           val_every=25, grad_every=5),
    Recipe("tiny-set-sgd", "overfitting", 1500, opt="sgd", lr=0.05, opt_kw={"momentum": 0.9}, hidden=(512, 256),
           ntrain=150, batch=32, naming=0, val_every=30, val_acc=False),
    # ---- not learning
    Recipe("forgot-optimizer-step", "not_learning", 1200, bug="no_step", naming=1),
    Recipe("labels-shuffled", "not_learning", 1500, opt="sgd", lr=0.05, opt_kw={"momentum": 0.9},
           bug="shuffled_labels", naming=2, val_every=50),
    Recipe("dead-relu-warmup", "not_learning", 1200, bias=-10.0, sched=cosine(1200, warm=100), warmup=100,
           naming=3),
    # ---- learning rate too high
    Recipe("adam-lr0.5-tanh", "lr_too_high", 1200, lr=0.5, act="tanh", naming=4),
    Recipe("adam-tanh-raised-x30", "lr_too_high", 1500, act="tanh", raise_at=(600, 30.0), naming=0),
    Recipe("rmsprop-raised-x30", "lr_too_high", 1500, opt="rmsprop", raise_at=(750, 30.0), naming=1, val_every=30),
    # ---- vanishing gradients
    Recipe("sigmoid6-sgd", "vanishing_gradients", 1000, opt="sgd", lr=0.5, hidden=(64,) * 6, act="sigmoid",
           naming=2),
    Recipe("sigmoid12-adam", "vanishing_gradients", 1000, lr=3e-3, hidden=(32,) * 12, act="sigmoid", naming=3,
           grad_every=5),
    Recipe("sigmoid5-adam-recovers", "vanishing_gradients", 2000, hidden=(64,) * 5, act="sigmoid", naming=4,
           val_every=50),
]  # fmt: skip


# ---------------------------------------------------------------- training


def load_data(seed: int = 0):
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    xtr, xva, ytr, yva = train_test_split(x / 16.0, y, test_size=0.2, random_state=seed, stratify=y)
    return (torch.tensor(xtr, dtype=torch.float32), torch.tensor(ytr), torch.tensor(xva, dtype=torch.float32),
            torch.tensor(yva))  # fmt: skip


def make_model(r: Recipe):
    """The network and its named layers (the modules whose gradient norms are logged)."""
    import torch
    from torch import nn

    torch.manual_seed(r.seed)
    acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "identity": nn.Identity}
    if r.arch == "cnn":
        model = nn.Sequential(
            nn.Unflatten(1, (1, 8, 8)),
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 16, 64), nn.ReLU(), nn.Linear(64, 10),
        )  # fmt: skip
        named = {"conv1": model[1], "conv2": model[3], "fc1": model[7], "out": model[9]}
        return model, named
    mods: list[nn.Module] = []
    named = {}
    width = 64
    for i, h in enumerate(r.hidden, 1):
        lin = nn.Linear(width, h)
        named[f"fc{i}"] = lin
        mods.append(lin)
        if r.batchnorm:
            mods.append(nn.BatchNorm1d(h))
        mods.append(acts[r.act]())
        if r.dropout:
            mods.append(nn.Dropout(r.dropout))
        width = h
    out = nn.Linear(width, 10)
    named["out"] = out
    mods.append(out)
    for lin in named.values():
        if r.gain is not None:
            nn.init.normal_(lin.weight, 0.0, r.gain / lin.in_features**0.5)
        if r.bias is not None and lin is not out:
            nn.init.constant_(lin.bias, r.bias)
    return nn.Sequential(*mods), named


def loss_fn(kind: str):
    import torch
    from torch import nn

    def bce_log(logits, y):  # log(1 - p) is log(0) once a sigmoid rounds to 1 in float32
        t = nn.functional.one_hot(y, 10).float()
        p = torch.sigmoid(logits)
        return -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).sum(1).mean()

    def per_class_mean(logits, y):  # a class missing from the batch: 0 / 0
        each = nn.functional.cross_entropy(logits, y, reduction="none")
        onehot = nn.functional.one_hot(y, 10).float()
        return ((onehot * each[:, None]).sum(0) / onehot.sum(0)).mean()

    def mse(logits, y):
        return ((logits - nn.functional.one_hot(y, 10).float()) ** 2).sum(1).mean()

    return {"ce": nn.functional.cross_entropy, "bce_log": bce_log, "per_class_mean": per_class_mean, "mse": mse}[kind]


def train(r: Recipe, data) -> dict[tuple[str, str], tuple[list[int], list[float]]]:
    """Train one recipe; returns {(win, trace): (steps, values)} as the user would have logged them."""
    import torch

    xtr, ytr, xva, yva = data
    if r.ntrain is not None:
        xtr, ytr = xtr[: r.ntrain], ytr[: r.ntrain]
    model, named = make_model(r)
    opts = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD,
            "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad}  # fmt: skip
    opt = opts[r.opt](model.parameters(), lr=r.lr, **r.opt_kw)
    crit = loss_fn(r.loss)
    names = NAMINGS[r.naming % len(NAMINGS)]
    n_tl, n_vl, n_va, n_ta, n_lr, n_g = names
    log: dict[tuple[str, str], tuple[list[int], list[float]]] = {}

    def put(key: tuple[str, str], step: int, v: float) -> None:
        xs, ys = log.setdefault(key, ([], []))
        xs.append(step)
        ys.append(v)

    @torch.no_grad()
    def validate(step: int) -> None:
        model.eval()
        logits = model(xva)
        model.train()
        if r.val_loss:
            put(n_vl, step, crit(logits, yva).item())
        if r.val_acc:
            put(n_va, step, (logits.argmax(1) == yva).float().mean().item())

    gen = torch.Generator().manual_seed(r.seed)
    perm, pos = torch.randperm(len(xtr), generator=gen), 0
    lr = r.lr
    for step in range(r.steps):
        if step % r.val_every == 0:
            validate(step)
        lr = r.lr * (r.sched(step) if r.sched else 1.0)
        if r.raise_at is not None and step >= r.raise_at[0]:
            lr *= r.raise_at[1]
        for group in opt.param_groups:
            group["lr"] = lr
        if pos + r.batch > len(xtr):
            perm, pos = torch.randperm(len(xtr), generator=gen), 0
        idx = perm[pos : pos + r.batch]
        pos += r.batch
        target = ytr[idx]
        if r.bug == "shuffled_labels":
            target = target[torch.randperm(len(target), generator=gen)]
        logits = model(xtr[idx])
        loss = crit(logits, target)
        opt.zero_grad()
        loss.backward()
        if step % r.grad_every == 0:
            for layer, mod in named.items():
                g = torch.cat([p.grad.reshape(-1) for p in mod.parameters() if p.grad is not None])
                put((n_g[0], n_g[1].format(layer)), step, g.norm().item())
        if r.bug != "no_step":
            opt.step()
        put(n_tl, step, loss.item())
        put(n_lr, step, lr)
        if r.train_acc:
            put(n_ta, step, (logits.argmax(1) == target).float().mean().item())
    validate(r.steps - 1)
    return log


# ---------------------------------------------------------------- labels


def running(y: np.ndarray, w: int, how: Callable) -> np.ndarray:
    h = w // 2
    return np.array([how(y[max(0, i - h) : i + h + 1]) for i in range(len(y))])


def series(log: dict, role: int, r: Recipe) -> tuple[np.ndarray, np.ndarray]:
    key = NAMINGS[r.naming % len(NAMINGS)][role]
    xs, ys = log[key]
    return np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)


def grads(log: dict, r: Recipe) -> tuple[np.ndarray, np.ndarray]:
    """Steps and the (layers x steps) gradient norms."""
    win = NAMINGS[r.naming % len(NAMINGS)][5][0]
    keys = [k for k in log if k[0] == win]
    x = np.asarray(log[keys[0]][0], dtype=np.float64)
    return x, np.array([log[k][1] for k in keys], dtype=np.float64)


def first_nonfinite(log: dict) -> float:
    firsts = [x for xs, ys in log.values() for x, y in zip(xs, ys, strict=True) if not math.isfinite(y)]
    return float(min(firsts)) if firsts else math.nan


def onset(r: Recipe, log: dict) -> float:
    """The onset of the run's problem, as defined in the module docstring (nan for a healthy run)."""
    if r.label == "healthy":
        return math.nan
    if r.label == "nonfinite":
        return first_nonfinite(log)
    if r.label in ("divergence", "lr_too_high") and r.raise_at is not None:
        return float(r.raise_at[0])
    if r.label == "divergence":
        x, y = series(log, 0, r)
        s = running(y, 25, np.median)
        low = np.minimum.accumulate(s)
        back = np.flatnonzero((low < s[0] / 2) & (s > (s[0] + low) / 2))
        end = int(back[0]) if len(back) else len(s)
        return float(x[int(np.argmin(s[:end]))])
    if r.label == "exploding_gradients":
        x, g = grads(log, r)
        top = g.max(0)
        bad = np.flatnonzero(~np.isfinite(top))
        if not len(bad):
            raise ValueError(f"{r.name}: the gradients did not blow up")
        end = int(bad[0])
        above = top[:end] > 3 * np.median(top[:end])
        t = end
        while t > 0 and above[t - 1]:
            t -= 1
        return float(x[t])
    if r.label == "overfitting":
        x, y = series(log, 1, r)
        return float(x[int(np.argmin(running(y, 5, np.mean)))])
    return float(r.warmup)  # not_learning, lr_too_high from the start, vanishing_gradients


def check_healthy(r: Recipe, log: dict) -> list[str]:
    """Why a run labelled healthy is not (empty if it is)."""
    out = []
    if not math.isnan(first_nonfinite(log)):
        out.append("non-finite values")
    _, y = series(log, 0, r)
    s = running(y, 51, np.median)
    if s[-1] > 0.5 * s[0]:
        out.append(f"training loss ends at {s[-1] / s[0]:.0%} of its start")
    if r.val_loss:
        _, v = series(log, 1, r)
        sv = running(v, 5, np.mean)
        if sv[-1] > 1.1 * sv.min():
            out.append(f"validation loss ends {sv[-1] / sv.min() - 1:.0%} above its lowest")
    return out


# ---------------------------------------------------------------- recording


def tenths(y: np.ndarray) -> str:
    parts = np.array_split(np.asarray(y, dtype=np.float64), 10)
    return " ".join(f"{np.median(p):.3g}" if np.isfinite(p).any() else "nan" for p in parts)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", help="record only these runs (with --check)")
    ap.add_argument("--check", action="store_true", help="print the curves, do not write")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    data = load_data()
    recipes = [r for r in RECIPES if not args.only or r.name in args.only]
    arrays: dict[str, np.ndarray] = {}
    meta = []
    problems = []
    for i, r in enumerate(recipes):
        t = time.perf_counter()
        log = train(r, data)
        on = onset(r, log)
        why = check_healthy(r, log) if r.label == "healthy" else []
        problems += [f"{r.name}: {w}" for w in why]
        secs = time.perf_counter() - t
        print(f"{r.name:32s} {r.label:20s} onset {on:6g} of {r.steps} ({secs:.1f} s) {'; '.join(why)}", flush=True)
        if args.check:
            _, y = series(log, 0, r)
            print("   train", tenths(y))
            if r.val_loss:
                print("   val  ", tenths(series(log, 1, r)[1]))
            _, g = grads(log, r)
            print("   g[0] ", tenths(g[0]), "\n   g[-1]", tenths(g[-1]))
        traces = []
        for j, ((win, trace), (xs, ys)) in enumerate(log.items()):
            arrays[f"{i}.{j}.x"] = np.asarray(xs, dtype=np.int32)
            arrays[f"{i}.{j}.y"] = np.asarray(ys, dtype=np.float32)
            traces.append([win, trace])
        meta.append({"name": r.name, "label": r.label, "onset": on, "length": r.steps, "traces": traces})
    if problems:
        print("not healthy:", *problems, sep="\n  ", file=sys.stderr)
    if args.check:
        return
    if problems:
        raise SystemExit("a run labelled healthy is not: fix its recipe")
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB, {len(meta)} runs)")


if __name__ == "__main__":
    main()
