"""A labelled set of synthetic training runs: healthy ones and one per problem, with known onsets.

Every run is made from a seed, so the set is the code (no data files). A run holds the series a
training script typically logs (train loss, validation loss and accuracy every few steps,
per-layer gradient norms, the learning rate), named in the habitual ways the role guesser must
recognise. Problems are injected at a known step (`onset`); `length` is the run's length in steps.
Used by the tests (targets asserted) and by benchmarks/bench_diagnosis.py (figures reported).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

HEALTHY = "healthy"


@dataclass
class Trace:
    win: str
    trace: str
    x: np.ndarray
    y: np.ndarray
    opts: dict = field(default_factory=dict)


@dataclass
class Run:
    name: str
    label: str  # a problem kind, or HEALTHY
    onset: float  # step where the problem starts (nan for healthy runs)
    length: int
    traces: list[Trace]


# Naming habits, rotated over runs: (train loss, val loss, train acc, val acc, grad prefix, lr) as (win, trace).
NAMINGS = [
    (("loss", "train"), ("loss", "val"), ("acc", "train"), ("acc", "val"), ("grad_norm", "{}"), ("lr", "")),
    (("train", "loss"), ("val", "loss"), ("train", "acc"), ("val", "acc"), ("grad", "{}/norm"), ("learning_rate", "")),
    (("train_loss", ""), ("val_loss", ""), ("train_acc", ""), ("val_acc", ""), ("grad_norm", "{}"), ("lr", "")),
    (("loss", ""), ("loss", "valid"), ("accuracy", ""), ("accuracy", "eval"), ("grads", "{}"), ("optim", "lr")),
    (("loss", "train"), ("loss", "test"), ("acc", "train"), ("acc", "test"), ("grad", "{}"), ("lr", "")),
]
LAYERS = ["embed", "conv1", "conv2", "fc1", "fc2", "head"]


# ---------------------------------------------------------------- building blocks


def schedule(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Learning rate per step (peak 1): constant, cosine with warm-up, step decay, or warm restarts."""
    t = np.arange(n) / n
    if kind == "constant":
        return np.ones(n)
    warm = float(rng.choice([0.02, 0.05, 0.1]))
    if kind == "cosine":
        lr = 0.5 * (1 + np.cos(np.pi * np.clip((t - warm) / (1 - warm), 0, 1)))
        return np.where(t < warm, t / warm, lr) + 1e-3
    if kind == "step":
        return np.where(t < 0.5, 1.0, np.where(t < 0.75, 0.1, 0.01))
    if kind == "restarts":  # SGDR: cosine cycles of 1/4 of the run; the loss bumps at each restart
        c = (t * 4) % 1
        return 0.5 * (1 + np.cos(np.pi * c)) + 1e-3
    raise ValueError(kind)


def loss_curve(lr: np.ndarray, tau: float, start: float, floor: float, power: bool = False) -> np.ndarray:
    """Loss as a function of the learning-rate integral ("effective time"), as real curves roughly are."""
    eff = np.cumsum(lr)
    if power:
        return floor + (start - floor) * (1 + eff / tau) ** -0.7
    return floor + (start - floor) * np.exp(-eff / tau)


def noisy(y: np.ndarray, rel: float, rng: np.random.Generator, heavy: bool = False) -> np.ndarray:
    """Multiplicative noise; `heavy` adds a small-batch style tail (occasional spikes of x2 to x4)."""
    out = y * np.exp(rel * rng.standard_normal(len(y)) - rel * rel / 2)
    if heavy:
        spikes = rng.random(len(y)) < 0.003
        out[spikes] *= rng.uniform(2, 4, spikes.sum())
    return out


@dataclass
class Spec:
    """Knobs of one synthetic run; problems edit the curves after the healthy ones are drawn."""

    length: int = 3000
    noise: float = 0.05
    tau: float = 0.2  # convergence time, as a fraction of the run
    sched: str = "cosine"
    heavy: bool = False
    power: bool = False
    start: float = 2.3
    floor: float = 0.2
    val_every: int = 50
    x0: int = 0
    naming: int = 0
    bump: float = 0.0  # warm-up bump: relative height of a loss rise at 3% of the run
    plateau_at: float = 1.0  # loss frozen from this fraction on (long plateau after convergence)
    val_noise: float = 0.01  # relative noise of validation points (a small validation set is noisier)
    log_lr: bool = True  # False: the run logs no learning rate


def build(spec: Spec, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The healthy curves of one run, by name: steps, train, val, train_acc, val_acc, lr, grads (layers x steps)."""
    n = spec.length
    lr = schedule(spec.sched, n, rng)
    clean = loss_curve(lr, spec.tau * n * float(lr.mean()), spec.start, spec.floor, spec.power)
    if spec.plateau_at < 1:
        k = int(spec.plateau_at * n)
        clean[k:] = clean[k]
    if spec.bump:
        t = np.arange(n) / n
        clean = clean * (1 + spec.bump * np.exp(-(((t - 0.03) / 0.01) ** 2)))
    steps = np.arange(spec.x0, spec.x0 + n, dtype=np.float64)
    gap = 1.05 + 0.1 * (1 - clean / spec.start)  # val a little above train, the gap widening slowly
    val_clean = clean * gap
    acc = 1 - 0.9 * (clean - spec.floor * 0.5) / spec.start
    gscale = 10 ** rng.uniform(-0.5, 0.5, len(LAYERS))
    shape = (0.3 + 0.7 * (clean / spec.start) ** 0.5) * np.sqrt(lr + 0.05)
    grads = np.array([g * shape * np.exp(0.25 * rng.standard_normal(n)) for g in gscale])
    return {
        "steps": steps,
        "clean": clean,
        "val_clean": val_clean,
        "train": noisy(clean, spec.noise, rng, spec.heavy),
        "train_acc": np.clip(acc + 0.02 * rng.standard_normal(n), 0, 1),
        "acc_clean": acc,
        "lr": lr * 1e-3,
        "grads": grads,
    }


def assemble(name: str, label: str, onset: float, spec: Spec, c: dict, rng: np.random.Generator) -> Run:
    """Turn curves into named traces; validation is sampled every `val_every` steps."""
    win_t, win_v, win_ta, win_va, win_g, win_lr = NAMINGS[spec.naming % len(NAMINGS)]
    steps = c["steps"]
    vi = np.arange(spec.val_every - 1, spec.length, spec.val_every)
    val = c.get("val", noisy(c["val_clean"], spec.val_noise, rng)[vi])
    val_acc = c.get("val_acc", (c["acc_clean"] - 0.03 + 0.005 * rng.standard_normal(spec.length))[vi])
    traces = [
        Trace(*win_t, steps, c["train"]),
        Trace(*win_v, steps[vi], val),
        Trace(*win_ta, steps, c["train_acc"]),
        Trace(*win_va, steps[vi], val_acc),
    ]
    if spec.log_lr:
        traces.append(Trace(*win_lr, steps, c["lr"]))
    for layer, g in zip(LAYERS, c["grads"], strict=True):
        traces.append(Trace(win_g[0], win_g[1].format(layer), steps, g))
    return Run(name, label, onset, spec.length, traces)


# ---------------------------------------------------------------- the set


def healthy_specs() -> list[tuple[str, Spec]]:
    """Healthy runs: noise levels x convergence speeds x schedules, plus the awkward realistic cases."""
    out = []
    i = 0
    for noise in (0.02, 0.05, 0.15):
        for tau in (0.05, 0.2, 0.5):
            for sched in ("constant", "cosine"):
                out.append((f"healthy-{sched}-n{noise}-t{tau}", Spec(noise=noise, tau=tau, sched=sched, naming=i)))
                i += 1
    out += [
        ("healthy-step-schedule", Spec(sched="step", tau=0.3, naming=1)),
        ("healthy-step-noisy", Spec(sched="step", noise=0.15, tau=0.1, naming=2, val_noise=0.03)),
        ("healthy-restarts", Spec(sched="restarts", tau=0.1, naming=3)),
        ("healthy-restarts-noisy", Spec(sched="restarts", noise=0.15, tau=0.05, naming=4, val_noise=0.03)),
        ("healthy-warmup-bump", Spec(sched="cosine", bump=0.3, tau=0.1, naming=0)),
        ("healthy-warmup-bump-big", Spec(sched="cosine", bump=0.8, tau=0.05, noise=0.1, naming=2)),
        ("healthy-plateau", Spec(tau=0.02, plateau_at=0.1, length=6000, naming=1)),
        ("healthy-plateau-noisy", Spec(tau=0.03, plateau_at=0.2, noise=0.2, naming=3, val_noise=0.03)),
        ("healthy-small-batch", Spec(noise=0.2, heavy=True, tau=0.2, naming=4, val_noise=0.03)),
        ("healthy-small-batch-slow", Spec(noise=0.25, heavy=True, tau=0.5, sched="cosine", naming=0)),
        ("healthy-power-law", Spec(power=True, tau=0.01, start=10.0, floor=2.0, naming=2)),
        ("healthy-resumed", Spec(x0=20000, tau=2.0, start=0.4, floor=0.38, naming=1)),
        ("healthy-near-zero", Spec(start=1.0, floor=0.002, tau=0.05, noise=0.5, naming=3)),
        ("healthy-long", Spec(length=20000, tau=0.1, noise=0.1, val_every=200, naming=0)),
        ("healthy-short", Spec(length=1000, tau=0.2, val_every=20, naming=4, val_noise=0.02)),
    ]
    return out


def _problem(kind: str, variant: int, rng: np.random.Generator) -> Run:
    length = (2000, 3000, 5000)[variant % 3]
    noise = (0.02, 0.05, 0.15)[variant % 3]
    tau = (0.05, 0.15, 0.3)[(variant // 3) % 3]
    spec = Spec(length=length, noise=noise, tau=tau, naming=variant, sched=("constant", "cosine")[variant % 2])
    if kind == "overfitting":
        spec.floor = 0.02  # memorising: the training loss heads to zero
    c = build(spec, rng)
    n = length
    name = f"{kind}-{variant}"
    t0 = int(n * (0.3, 0.5, 0.7)[variant % 3])
    steps = np.arange(n, dtype=np.float64)
    if kind == "nonfinite":
        if variant % 2:
            c["grads"][2, t0:] = np.inf
        else:
            c["train"][t0:] = np.nan
    elif kind == "divergence":
        rate = (0.005, 0.01, 0.02)[variant % 3] * n
        c["train"][t0:] = np.minimum(c["train"][t0:] * np.exp((steps[t0:] - t0) / rate), 1e4)
    elif kind == "exploding_gradients":
        rate = (0.01, 0.02, 0.03)[variant % 3] * n / math.log(10)  # one decade per 1-3% of the run
        c["grads"][:, t0:] *= np.exp((steps[t0:] - t0) / rate)
    elif kind == "overfitting":
        t0 = int(n * (0.3, 0.5)[variant % 2])
        rise = (1.0, 1.5, 2.5)[variant % 3]  # validation climbs this fraction of its low per run length
        v = c["clean"] + 0.1 * spec.start  # a generalisation gap: validation stays well above training
        v[t0:] = v[t0] + (v[t0:] - v[t0]) * 0.2 + rise * v[t0] * (steps[t0:] - t0) / n
        vi = np.arange(spec.val_every - 1, n, spec.val_every)
        c["val"] = noisy(v, 0.01 * (1 + variant % 3), rng)[vi]  # 1% to 3% noise
        acc = 1 - 0.9 * (v - spec.floor * 0.5) / spec.start - 0.03  # accuracy follows the validation loss
        c["val_acc"] = (acc + 0.005 * rng.standard_normal(n))[vi]
    elif kind == "not_learning":
        # The problem starts where the learning rate reaches its working value: the end of a warm-up
        # (step 0 without one). While it still rises from near zero a flat loss is what a healthy run's
        # slow start looks like too (healthy-long: 2,000 steps of warm-up), so it is no problem yet.
        t0 = int(np.argmax(c["lr"]))
        start = (2.3, 0.7, 4.6)[variant % 3]
        dip = 1 - 0.02 * (variant % 2) * (1 - np.exp(-steps / (0.01 * n)))
        c["train"] = noisy(start * dip, noise, rng)
    elif kind == "lr_too_high":
        t0 = 0
        amp = (0.4, 0.6, 0.8)[variant % 3]
        start = 2.3
        level = start * (0.9 - 0.1 * steps / n)
        wave = np.sin(2 * np.pi * steps / rng.uniform(5, 40)) * 0.5 + rng.standard_normal(n)
        c["train"] = level * np.exp(amp * wave - amp * amp / 2)
    elif kind == "vanishing_gradients":
        t0 = int(n * (0.0, 0.2, 0.4)[variant % 3])
        decades = (4.0, 5.0, 6.0)[variant % 3]
        span = 0.25 * n
        fall = np.clip((steps - t0) / span, 0, None) * decades
        for layer in range(3):  # the first layers collapse, the last ones do not
            c["grads"][layer] *= 10 ** (-fall * (1 - 0.2 * layer))
    else:
        raise ValueError(kind)
    return assemble(name, kind, float(t0), spec, c, rng)


PROBLEMS = (
    "nonfinite",
    "divergence",
    "exploding_gradients",
    "overfitting",
    "not_learning",
    "lr_too_high",
    "vanishing_gradients",
)


def labelled_runs(seed: int = 0, per_kind: int = 6) -> list[Run]:
    """The whole labelled set: healthy runs first, then per_kind variants of each problem."""
    rng = np.random.default_rng(seed)
    runs = []
    for name, spec in healthy_specs():
        runs.append(assemble(name, HEALTHY, math.nan, spec, build(spec, rng), rng))
    for kind in PROBLEMS:
        for v in range(per_kind):
            runs.append(_problem(kind, v, rng))
    # Added later, drawn from their own generator so the runs above stay the same: validation
    # logged often on a long plateau (many chances for noise to look like a rise), small batches.
    more = np.random.default_rng(seed + 1000)
    for name, spec in extra_healthy_specs():
        runs.append(assemble(name, HEALTHY, math.nan, spec, build(spec, more), more))
    slow = np.random.default_rng(seed + 2000)
    for name, spec in slow_healthy_specs():
        runs.append(assemble(name, HEALTHY, math.nan, spec, build(spec, slow), slow))
    known = np.random.default_rng(seed + 3000)
    runs += known_misses(known)
    runs += drifting_validation(np.random.default_rng(seed + 4000))
    runs += raised_spikes(np.random.default_rng(seed + 5000))
    runs += flat_from_the_start(np.random.default_rng(seed + 6000))
    return runs


def flat_from_the_start(rng: np.random.Generator) -> list[Run]:
    """A pattern of real trainings (issue 18, round three), modelled here (tuning data): `optimizer.step()`
    forgotten, or labels shuffled apart from their inputs, in short runs (1,000-1,500 steps) that log a
    constant learning rate: the loss sits at chance from step 0 in tiny noise (0.3-1%): not_learning,
    onset 0. Beside them, healthy slow learners that log the same constant rate (falling 2-3% per 100
    points at first): no alert."""
    runs = []
    for v in range(3):
        n = (1000, 1200, 1500)[v]
        spec = Spec(length=n, noise=0.005, tau=0.2, naming=v + 1, sched="constant", val_every=(25, 50, 30)[v])
        c = build(spec, rng)
        c["train"] = noisy(np.full(n, 2.303), (0.003, 0.005, 0.01)[v], rng)
        c["val_clean"][:] = 2.303 * 1.01
        c["acc_clean"][:] = 0.1
        runs.append(assemble(f"not_learning-flat-at-chance-{v}", "not_learning", 0.0, spec, c, rng))
    for v in range(2):
        spec = Spec(length=(3000, 2000)[v], sched="constant", tau=(1.1, 0.7)[v], noise=(0.005, 0.02)[v], naming=v + 2)
        runs.append(assemble(f"healthy-slow-logged-lr-{v}", HEALTHY, math.nan, spec, build(spec, rng), rng))
    return runs


def raised_spikes(rng: np.random.Generator) -> list[Run]:
    """A pattern of real trainings (issue 18, round three), modelled here (tuning data): the learning rate
    raised 20-30x in the middle of a healthy run (logged); the loss spikes 5-30x past its start for a few
    steps, then sits near its start (the model reset to chance) for 1% of the run, and then:
    - comes down again, swinging, to a level well above where it was before the raise (lr_too_high,
      onset at the raise: training goes on, at too high a rate);
    - stays at its start (divergence, onset at the raise: the training is undone).
    And a learning rate too high from step 0 (Adam at 0.5): the loss shoots up 15-30x within its first few
    steps, comes down again within 2-3% of the run, and swings (±22-28%) 3-5 times above its first point,
    never coming back there (lr_too_high, onset 0)."""
    runs = []
    for v in range(6):
        label = ("lr_too_high", "divergence")[v % 2]
        n = (1500, 3000, 5000, 2000, 1200, 4000)[v]
        spec = Spec(length=n, noise=(0.1, 0.05, 0.15)[v % 3], tau=0.1, sched="constant", naming=v,
                    val_every=(30, 50, 100)[v % 3])  # fmt: skip
        c = build(spec, rng)
        t0 = int(n * (0.5, 0.4, 0.6)[v % 3])
        factor = (30.0, 20.0, 25.0)[v % 3]
        c["lr"][t0:] *= factor
        steps = np.arange(n - t0, dtype=np.float64)
        spike = np.array([rng.uniform(5, 30), rng.uniform(3, 10), rng.uniform(1.5, 5)])
        if label == "divergence":  # back to its start (chance), a little above, and there it stays
            level = spec.start * np.full(n - t0, rng.uniform(1.0, 1.06))
            amp = 0.04
        else:  # at its start for 1% of the run, then down again to 20-40% of it (swinging), within 1.5-3%
            low = spec.start * (0.2, 0.3, 0.4)[v // 2]
            tau = n * (0.015, 0.02, 0.03)[v // 2]
            wait = 0.01 * n
            level = low + (spec.start - low) * np.exp(-np.clip(steps - wait, 0, None) / tau)
            amp = (0.25, 0.3, 0.2)[v // 2]
        level[:3] = spec.start * spike
        c["train"][t0:] = level * np.exp(amp * rng.standard_normal(n - t0) - amp * amp / 2)
        c["val_clean"][t0:] = level * 1.1
        c["grads"][:, t0:] *= 3.0
        runs.append(assemble(f"{label}-raised-spike-{v}", label, float(t0), spec, c, rng))
    for v in range(3):  # too high from step 0: its first point is the lowest, a spike, then far above it
        n = (1200, 2000, 3000)[v]
        spec = Spec(length=n, noise=0.05, tau=0.2, naming=v + 3, sched="constant", val_every=(25, 50, 50)[v])
        c = build(spec, rng)
        steps = np.arange(n, dtype=np.float64)
        first = c["train"][0]
        peak, settle = (30.0, 15.0, 20.0)[v], (5.0, 3.0, 4.0)[v]  # times the first point
        up = np.clip(steps / (4 + v), 0, 1)  # up within a few steps, then down to `settle` in 2-3% of the run
        level = first * (1 + (peak - 1) * up * np.exp(-steps / ((0.02, 0.025, 0.03)[v] * n)))
        level = np.maximum(level, first * settle * up + first * (1 - up))
        amp = (0.25, 0.28, 0.22)[v]
        c["train"] = level * np.exp(amp * rng.standard_normal(n) - amp * amp / 2)
        c["train"][0] = first
        c["val_clean"] = level * 1.05
        runs.append(assemble(f"lr_too_high-start-spike-{v}", "lr_too_high", 0.0, spec, c, rng))
    return runs


def drifting_validation(rng: np.random.Generator) -> list[Run]:
    """Patterns of real digits trainings (issue 18, round two), modelled here (tuning data):
    - healthy: the training loss heads to zero while a noisy validation loss (4-6% noise, a point every
      2-3% of the run) drifts up 5-9% above its lowest point and stays there (no alert: a few % of drift
      in the noise is not worth one);
    - overfitting on a tiny training set: the validation loss, smooth (0.5-1% noise), bottoms out early
      and climbs steadily (30-40% over the run) while the training loss falls by orders of magnitude."""
    runs = []
    for v in range(3):
        n = (1200, 1000, 800)[v]
        spec = Spec(length=n, noise=0.15, tau=0.08, floor=0.004, sched="constant", naming=v + 1,
                    val_every=(25, 25, 8)[v])  # fmt: skip
        c = build(spec, rng)
        steps = np.arange(n)
        low = 0.1 * (1 + 0.3 * v)
        val = low + (spec.start - low) * np.exp(-steps / (0.06 * n))
        t1 = (0.45, 0.5, 0.35)[v] * n
        drift = (0.05, 0.09, 0.06)[v]
        val = val * (1 + drift * np.clip((steps - t1) / (0.25 * n), 0, 1))
        vi = np.arange(spec.val_every - 1, n, spec.val_every)
        c["val"] = noisy(val, (0.045, 0.05, 0.055)[v], rng)[vi]
        runs.append(assemble(f"healthy-val-drifts-up-{v}", HEALTHY, math.nan, spec, c, rng))
    for v in range(3):
        n = 1500
        spec = Spec(length=n, noise=0.05, tau=0.03, floor=1e-4, sched="constant", naming=v + 2,
                    val_every=(30, 25, 15)[v])  # fmt: skip
        c = build(spec, rng)
        steps = np.arange(n, dtype=np.float64)
        t0 = (0.1, 0.15, 0.08)[v] * n
        low = (0.45, 0.31, 0.44)[v]
        val = low + (spec.start - low) * np.exp(-steps / (0.01 * n))
        # climbing about its low's size per run length at first, slowing down: 30-40% over the run
        val += low * (0.3, 0.35, 0.4)[v] * (1 - np.exp(-np.clip(steps - t0, 0, None) / (0.3 * n)))
        vi = np.arange(spec.val_every - 1, n, spec.val_every)
        c["val"] = noisy(val, (0.01, 0.007, 0.005)[v], rng)[vi]
        c["val_acc"] = np.full(len(vi), 0.9) + 0.003 * rng.standard_normal(len(vi))
        runs.append(assemble(f"overfitting-tiny-set-{v}", "overfitting", float(t0), spec, c, rng))
    for v in range(3):  # sigmoid nets 3.6-4.5 orders of magnitude apart from the start (one recovers early)
        n = (1000, 2000, 5000)[v]
        spec = Spec(length=n, noise=0.02, tau=(0.6, 0.3, 0.4)[v], naming=v + 1)
        c = build(spec, rng)
        gap = (3.6, 4.5, 4.0)[v] * np.ones(n)
        if v == 2:  # Adam finds its way out: the gap closes between 4% and 8% of the run
            gap *= np.clip((0.08 * n - np.arange(n)) / (0.04 * n), 0.1, 1)
        for layer in range(len(LAYERS) - 1):
            c["grads"][layer] *= 10 ** (-gap * (1 - layer / (len(LAYERS) - 1)))
        runs.append(assemble(f"vanishing_gradients-apart-{v}", "vanishing_gradients", 0.0, spec, c, rng))
    return runs


def known_misses(rng: np.random.Generator) -> list[Run]:
    """Patterns earlier detectors missed on independent data (issue 18), modelled here (tuning data):
    - the learning rate raised 10-50x in the middle of a healthy run, the loss then swinging widely
      (lr_too_high, onset at the raise; with and without the learning rate logged);
    - the learning rate raised 50x, the loss going back to 75% of its start (lr_too_high) or past it
      (divergence);
    - a learning rate too high from the start: the loss climbs 4-7x at once and swings (lr_too_high);
    - a bad initialisation: gradient norms grow by 9-10 orders of magnitude in two steps, then NaN
      (exploding_gradients, not only nonfinite);
    - a deep sigmoid network whose first layers' gradients sit 6-10 orders of magnitude below the last
      layer's from step 0 (vanishing_gradients, onset 0);
    - healthy deep nets whose gradient norms grow 1.5-1.8 orders of magnitude in their first steps,
      leaving a small initialisation, then level off (no alert);
    - the learning rate logged as exactly 0 from the start, the loss flat in 4-5% noise (not_learning
      from step 0: nothing can be learnt, so no waiting to tell it from a slow learner)."""
    runs = []
    for v in range(4):  # lr raised mid-run
        n = (2000, 3000, 5000, 3000)[v]
        spec = Spec(length=n, noise=(0.02, 0.05, 0.1, 0.03)[v], tau=0.15, sched="constant", naming=v,
                    log_lr=v != 3)  # fmt: skip
        c = build(spec, rng)
        t0 = int(n * (0.4, 0.5, 0.6, 0.5)[v])
        factor = (30.0, 10.0, 50.0, 30.0)[v]
        c["lr"][t0:] *= factor
        amp = (0.3, 0.2, 0.45, 0.35)[v]  # relative swing of the loss after the raise
        steps = np.arange(n)
        wave = np.sin(2 * np.pi * steps[t0:] / rng.uniform(6, 30)) * 0.5 + rng.standard_normal(n - t0)
        level = c["clean"][t0] * (1 + 0.5 * (1 - np.exp(-(steps[t0:] - t0) / 50)))
        c["train"][t0:] = level * np.exp(amp * wave - amp * amp / 2)
        c["val_clean"][t0:] = level * 1.1
        c["grads"][:, t0:] *= 3.0
        runs.append(assemble(f"lr_too_high-raised-{v}", "lr_too_high", float(t0), spec, c, rng))
    for v, (label, back) in enumerate((("lr_too_high", 0.75), ("divergence", 3.0))):  # raised far up
        n = 3000
        spec = Spec(length=n, noise=0.05, tau=0.1, naming=v, sched="constant")
        c = build(spec, rng)
        t0 = int(n * 0.5)
        c["lr"][t0:] *= 50.0
        steps = np.arange(n)
        # back to 75% of its start, swinging (too high), or past its start (diverged)
        level = c["clean"][t0] + (back * spec.start - c["clean"][t0]) * (1 - np.exp(-(steps[t0:] - t0) / 10))
        amp = 0.4
        wave = np.sin(2 * np.pi * steps[t0:] / rng.uniform(6, 30)) * 0.5 + rng.standard_normal(n - t0)
        c["train"][t0:] = level * np.exp(amp * wave - amp * amp / 2)
        c["val_clean"][t0:] = level * 1.1
        runs.append(assemble(f"{label}-lr-raised-far-{v}", label, float(t0), spec, c, rng))
    for v in range(3):  # too high from the start (Adam at a large rate): the loss goes up at once, swinging
        n = (1200, 2000, 3000)[v]
        spec = Spec(length=n, noise=0.05, tau=0.2, naming=v + 2, sched="constant")
        c = build(spec, rng)
        steps = np.arange(n)
        level = spec.start * (1 + (3.0, 6.0, 4.0)[v] * (1 - np.exp(-steps / (0.02 * n))))
        amp = (0.35, 0.5, 0.4)[v]
        wave = np.sin(2 * np.pi * steps / rng.uniform(6, 30)) * 0.5 + rng.standard_normal(n)
        c["train"] = level * np.exp(amp * wave - amp * amp / 2)
        c["val_clean"] = level * 1.05
        runs.append(assemble(f"lr_too_high-from-start-{v}", "lr_too_high", 0.0, spec, c, rng))
    for v in range(3):  # bad initialisation: gradients blow up in two steps, then NaN
        n = (1000, 2000, 1200)[v]
        spec = Spec(length=n, noise=0.05, tau=0.2, naming=v + 1)
        c = build(spec, rng)
        t0 = (3, int(0.2 * n), int(0.4 * n))[v]
        for k, decades in enumerate((2.0, 9.5)):
            c["grads"][:, t0 + k] *= 10 ** (decades + 0.3 * rng.standard_normal(len(LAYERS)))
        c["grads"][:, t0 + 2 :] = np.nan
        c["train"][t0 + 2 :] = np.nan
        runs.append(assemble(f"exploding_gradients-bad-init-{v}", "exploding_gradients", float(t0), spec, c, rng))
    for v in range(3):  # deep sigmoid: the first layers' gradients far below the last from the start
        n = (1000, 2000, 1500)[v]
        spec = Spec(length=n, noise=0.02, tau=(0.6, 1.0, 0.4)[v], naming=v + 2)
        c = build(spec, rng)
        gap = (6.0, 8.0, 10.0)[v]
        for layer in range(len(LAYERS) - 1):
            c["grads"][layer] *= 10 ** (-gap * (1 - layer / (len(LAYERS) - 1)))
        runs.append(assemble(f"vanishing_gradients-sigmoid-{v}", "vanishing_gradients", 0.0, spec, c, rng))
    for v in range(3):  # healthy deep nets: gradients leave a small initialisation, then level off
        n = (2000, 3000, 5000)[v]
        spec = Spec(length=n, noise=0.05, tau=0.2, naming=v + 3, sched="constant")
        c = build(spec, rng)
        grow = (1.5, 1.65, 1.8)[v]
        steps = np.arange(n)
        c["grads"] *= 10 ** (grow * (1 - np.exp(-steps / (0.015 * n))) - grow)
        runs.append(assemble(f"healthy-grads-leave-small-init-{v}", HEALTHY, math.nan, spec, c, rng))
    for v in range(2):  # the learning rate logged as exactly 0 throughout: a noisy loss that cannot fall
        n = (3000, 20000)[v]
        spec = Spec(length=n, noise=(0.05, 0.04)[v], tau=0.2, naming=v + 1, sched="constant")
        c = build(spec, rng)
        c["lr"][:] = 0.0
        c["train"] = noisy(np.full(n, spec.start), spec.noise, rng)
        c["val_clean"][:] = spec.start * 1.05
        c["acc_clean"][:] = c["acc_clean"][0]
        c["grads"] = c["grads"][:, :1] * np.exp(0.25 * rng.standard_normal(c["grads"].shape))
        runs.append(assemble(f"not_learning-lr-zero-{v}", "not_learning", 0.0, spec, c, rng))
    return runs


def extra_healthy_specs() -> list[tuple[str, Spec]]:
    """Healthy runs that stress the validation-loss detectors: dense, noisy validation on a plateau."""
    return [
        ("healthy-val-dense-plateau", Spec(tau=0.03, plateau_at=0.2, val_noise=0.03, val_every=25, naming=2)),
        ("healthy-val-dense-flat", Spec(tau=0.02, plateau_at=0.1, val_noise=0.01, val_every=20, naming=0)),
        ("healthy-val-every-step", Spec(tau=0.3, val_noise=0.1, val_every=1, naming=3)),
        (
            "healthy-small-batch-val-noisy",
            Spec(noise=0.2, heavy=True, tau=0.1, val_noise=0.02, val_every=20, naming=1, length=4000),
        ),
    ]


def slow_healthy_specs() -> list[tuple[str, Spec]]:
    """Healthy runs that learn slowly and log no learning rate (plain SGD at a small rate): the loss
    falls only about 4% in its first 150 points, but steadily. They must not be called not learning."""
    return [
        ("healthy-slow-sgd", Spec(sched="constant", tau=1.1, noise=0.005, log_lr=False, naming=0)),
        ("healthy-slow-noisy", Spec(sched="constant", tau=0.7, length=5000, noise=0.05, log_lr=False, naming=1)),
        ("healthy-slow-power", Spec(sched="constant", power=True, tau=0.8, noise=0.02, log_lr=False, naming=3)),
    ]


def replay(observe: Callable, env: str, run: Run, chunk: int, settle: Callable | None = None) -> list:
    """Feed a run to `observe(env, win, trace, x, y, opts)` as training would: all series, step by step,
    `chunk` steps of each series per call, then `settle()` (as the server does after each batch).
    Returns (alert, x of the last point sent) pairs."""
    edges = np.arange(run.traces[0].x[0], run.traces[0].x[0] + run.length + chunk, chunk)
    cuts = [np.searchsorted(tr.x, edges) for tr in run.traces]
    out = []
    for k in range(len(edges) - 1):  # bounded by length / chunk
        last = math.nan
        for tr, cut in zip(run.traces, cuts, strict=True):
            a, b = cut[k], cut[k + 1]
            if b > a:
                last = float(tr.x[b - 1])
                for alert in observe(env, tr.win, tr.trace, tr.x[a:b], tr.y[a:b], tr.opts):
                    out.append((alert, last))
        if settle is not None:
            out += [(alert, last) for alert in settle()]
    return out
