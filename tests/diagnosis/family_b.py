"""Family B: a second labelled set of synthetic runs, designed apart from family A (synthetic.py).

Issue 18: the detectors fit the set they were tuned on. Family B is the other yardstick: tune on
one family, report on the other, and the targets must hold on both. It was drawn from what the
recorded real trainings (real_runs.py) and larger real runs look like, not from the detectors'
thresholds, and shares no curve, noise or schedule code with family A (only the `Run`/`Trace`
records and `replay`):

- curves as functions of the learning rate's integral: power laws, exponential decay, a slow
  start (sigmoid in time); the loss sits above its floor by a "noise ball" that grows with the
  learning rate, so it drops at each step decay and rises at each warm restart;
- schedules: constant, cosine, linear decay, inverse square root, step decays (x0.2 at 30/60/80%,
  halving every 20%), exponential decay, warm restarts with doubling cycles, one-cycle, a
  triangular cyclic rate, reduce-on-plateau drops; warm-ups of 0.5% to 25% of the run;
- noise: right-skewed gamma (per-batch losses of a classifier: a few misclassified examples
  dominate), Student-t (heavy tails), additive (a level-independent floor), slow AR(1) wander,
  a batch-order pattern repeating every epoch, rare one-step spikes, bursts that recover; the
  relative noise grows as the loss falls (a converged classifier's batch losses swing by x2-x5);
- validation every step (on a minibatch), every few steps or rarely; its noise from the size of
  the validation set, accuracies binomial; runs that log accuracy only or the loss only;
- gradient norms of 2 to 50 layers, every step or every N steps, with a spread over depth of up
  to 1.5 decades, an early transient, a late rise, spikes with the loss's;
- lengths from 300 to 100,000 steps, runs resumed at a large step.

Problems, 5 runs per kind, and their `onset` (the step the problem starts):
- nonfinite: NaN or Inf from the onset on: everything at once (NaN weights), an Inf loss or one
  layer's Inf gradient norm first, NaN losses on 30% of the batches (skipped, training goes on), or
  only the validation loss (an evaluation that takes log(0)); onset: the first non-finite value.
- divergence: after a healthy start the loss climbs back to (or past) its start, exponentially,
  at once to a plateau (collapse), or steadily over 2-4% of the run; onset: the step the climb starts.
- exploding_gradients: gradient norms of every layer, or of the last layers only, grow by a decade
  per 0.3-2% of the run, by up to 4-5 decades while clipping keeps training going (the loss
  worsens a little), or until they overflow and the loss is NaN (one blows up to Inf after a few
  steps of super-exponential growth, as a bad initialisation does); onset: the step the growth starts.
- overfitting: the validation loss turns up (concave, nearly linear or convex) by 50-150% of its
  lowest value by the end of the run, 10-50% of it 10% of the run after the low, while the training
  loss keeps falling; onset: the lowest point of the noiseless validation curve.
- not_learning: the loss stays at its start (flat, after a small dip for the class prior, with
  AR wander, additive noise, or a learning rate logged as 0); onset: 0, or the end of the warm-up.
- lr_too_high: the loss swings by large amplitudes around a high level: from the start, after a
  warm-up, or after a x10-x30 raise of the learning rate mid-run (by hand, or by a step schedule
  that multiplies instead of dividing); onset: 0, the end of the warm-up, or the raise.
- vanishing_gradients: the first layers' gradient norms 4-5.5 decades below the last layer's,
  from step 0 (deep sigmoid), or collapsing mid-run (saturation), in nets of 2 to 50 layers; one
  recovers after 8% of the run; onset: 0, or where the collapse starts.

Every run is generated from the seed and its name (adding a run does not change the others).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, replace

import numpy as np
from synthetic import HEALTHY, Run, Trace  # this folder is on sys.path (pytest, the benchmark)

# Naming habits: (train loss, val loss, val acc, train acc, lr, grad norm of layer {}) as (win, trace).
NAMINGS_B = [
    (("train", "loss"), ("valid", "loss"), ("valid", "accuracy"), ("train", "accuracy"), ("lr", "group0"),
     ("grad_norm", "blocks.{}")),
    (("loss", ""), ("val_loss", ""), ("val_acc", ""), ("acc", ""), ("learning_rate", ""),
     ("grads", "layer{}.weight")),
    (("metrics", "train_loss"), ("metrics", "val_loss"), ("metrics", "val_acc"), ("metrics", "train_acc"),
     ("metrics", "lr"), ("gradient_norm", "encoder.layers.{}")),
    (("train", "nll"), ("dev", "nll"), ("dev", "top1"), ("train", "top1"), ("optim", "lr"), ("gnorm", "layer{}")),
    (("loss", "train"), ("loss", "eval"), ("accuracy", "eval"), ("accuracy", "train"), ("trainer", "learning_rate"),
     ("grad/layers.{}/norm", "")),
]  # fmt: skip


@dataclass
class B:
    """Knobs of one family-B run (healthy curves; problems edit them afterwards)."""

    length: int = 5000
    x0: int = 0
    sched: str = "constant"
    warm: float = 0.0  # warm-up, fraction of the run
    curve: str = "power"  # power, exp, slow_start
    start: float = 2.3
    floor: float = 0.05
    speed: float = 0.3  # fraction of the run (in learning-rate integral) to fall 90% of the way
    alpha: float = 0.7  # power-law exponent
    ball: float = 0.5  # loss above its floor in proportion to the learning rate (noise ball)
    noise: str = "gamma"  # gamma, student, additive, ar
    rel: float = 0.04  # relative noise at the start
    growth: float = 0.5  # relative noise x (start / loss) ** growth, capped at 1 (as in the real runs)
    spikes: float = 0.0  # probability per step of a one-step spike x2-x8
    bursts: int = 0  # loss bursts (x1.5-x2.5) that recover within 0.1-0.3% of the run
    epoch: int = 0  # steps per epoch: a batch-order pattern repeating with that period
    val_every: int = 100  # 0: no validation
    val_size: int = 5000  # examples in the validation set
    val_minibatch: bool = False  # validation loss of one minibatch per step (noisy like training)
    gap: float = 0.1  # validation above training: ratio - 1
    val_floor: float | None = None  # where validation flattens while training goes on falling (None: 3 gap floor)
    val_drift: float = 0.0  # validation rises by this fraction of itself over the last half (accuracy still rising)
    log_train_loss: bool = True
    log_val_loss: bool = True
    log_val_acc: bool = True
    log_train_acc: bool = False
    log_lr: bool = True
    layers: int = 6  # 0: no gradient norms
    grad_every: int = 1
    spread: float = 0.5  # decades between the last layer's gradient norm and the first's
    grad_noise: float = 0.2
    grad_late: float = 0.0  # gradient norms rise by 1 + this over the run
    grad_early: float = 0.0  # gradient norms start at 1 + this times their level (fades over 1%; < 0: start low)
    classes: int = 10
    top: float = 0.95
    naming: int = 0


# ---------------------------------------------------------------- healthy curves


def lr_schedule(b: B, rng: np.random.Generator) -> np.ndarray:
    """Learning rate per step relative to its peak (max 1)."""
    n = b.length
    t = np.arange(n) / n
    k = b.sched
    if k == "constant":
        lr = np.ones(n)
    elif k == "cosine":
        lr = 0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * t))
    elif k == "linear":
        lr = np.maximum(1 - t, 0.01)
    elif k == "invsqrt":
        lr = np.minimum(1, np.sqrt(max(b.warm, 0.01) / np.maximum(t, 1e-9)))
    elif k == "steps":  # x0.2 at 30, 60, 80%
        lr = 0.2 ** ((t >= 0.3).astype(int) + (t >= 0.6) + (t >= 0.8))
    elif k == "halving":
        lr = 0.5 ** np.floor(t / 0.2)
    elif k == "exp":
        lr = 0.05**t
    elif k == "sgdr":  # cycles of 1/15, 2/15, 4/15, 8/15 of the run
        edges = np.array([0, 1, 3, 7, 15]) / 15
        c = np.searchsorted(edges, t, side="right") - 1
        pos = (t - edges[c]) / (edges[c + 1] - edges[c])
        lr = 0.01 + 0.99 * 0.5 * (1 + np.cos(np.pi * pos))
    elif k == "onecycle":
        lr = np.where(t < 0.3, 0.04 + 0.96 * t / 0.3, 0.002 + 0.998 * 0.5 * (1 + np.cos(np.pi * (t - 0.3) / 0.7)))
    elif k == "cyclic":  # triangular between 0.4 and 1, period 10% of the run
        lr = 0.4 + 0.6 * (1 - np.abs((t / 0.1) % 2 - 1))
    elif k == "plateau":  # reduce-on-plateau: x0.3 at 2 or 3 irregular times
        drops = np.sort(rng.uniform(0.3, 0.9, int(rng.integers(2, 4))))
        lr = 0.3 ** np.searchsorted(drops, t, side="right")
    else:
        raise ValueError(k)
    if b.warm and k != "onecycle":
        lr = lr * np.minimum(1, (np.arange(n) + 1) / (b.warm * n))
    return lr


def ema(y: np.ndarray, span: float) -> np.ndarray:
    """Exponential moving average with time constant `span` steps (a lagging response)."""
    a = 1 / max(span, 1.0)
    out = np.empty_like(y)
    acc = y[0]
    for i, v in enumerate(y):  # bounded by the run's length
        acc += a * (v - acc)
        out[i] = acc
    return out


def clean_loss(b: B, lr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(noiseless training loss, fraction still to learn g in [0, 1]) as functions of the lr integral."""
    p = np.cumsum(lr) / (b.speed * b.length)
    if b.curve == "power":
        c = 0.1 ** (-1 / b.alpha) - 1
        g = (1 + c * p) ** -b.alpha
    elif b.curve == "exp":
        g = np.exp(-math.log(10) * p)
    elif b.curve == "slow_start":  # a short plateau at the start, then a drop
        g = 1 / (1 + (p / 0.3) ** 2.5) ** 0.9
    else:
        raise ValueError(b.curve)
    base = b.floor + (b.start - b.floor) * g
    return base * (1 + b.ball * ema(lr, 0.01 * b.length) * (1 - g)), g


def noisy_b(clean: np.ndarray, b: B, rng: np.random.Generator, start: float | None = None) -> np.ndarray:
    """Per-batch losses around `clean` with run b's noise model."""
    n = len(clean)
    rel = np.minimum(1.0, b.rel * (max(start or b.start, 1e-9) / np.maximum(clean, 1e-9)) ** b.growth)
    if b.noise == "gamma":
        shape = 1 / rel**2
        y = clean * rng.gamma(shape, 1 / shape)
    elif b.noise == "student":
        z = np.clip(rng.standard_t(3, n) / math.sqrt(3), -12, 12)
        y = clean * np.exp(rel * z)
    elif b.noise == "additive":
        y = np.maximum(clean + b.rel * b.start * rng.standard_normal(n), 0.1 * b.floor)
    elif b.noise == "ar":
        phi = 0.98
        w = rng.standard_normal(n) * math.sqrt(1 - phi * phi)
        ar = np.empty(n)
        acc = 0.0
        for i in range(n):  # bounded by the run's length
            acc = phi * acc + w[i]
            ar[i] = acc
        y = clean * np.exp(0.5 * rel * ar + 0.5 * rel * rng.standard_normal(n))
    else:
        raise ValueError(b.noise)
    if b.epoch:
        pattern = rng.normal(0, 0.5, b.epoch)
        y = y * np.exp(rel * pattern[np.arange(n) % b.epoch])
    if b.spikes:
        hit = rng.random(n) < b.spikes
        y[hit] *= rng.uniform(2, 8, hit.sum())
    return y


def add_bursts(y: np.ndarray, b: B, rng: np.random.Generator) -> np.ndarray:
    n = len(y)
    steps = np.arange(n)
    for _ in range(b.bursts):
        tb = int(rng.uniform(0.2, 0.9) * n)
        d = rng.uniform(0.001, 0.003) * n
        amp = rng.uniform(0.5, 1.5)
        y = y * (1 + np.where(steps >= tb, amp * np.exp(-(steps - tb) / d), 0))
    return y


def accuracy(val_clean: np.ndarray, b: B) -> np.ndarray:
    """Accuracy as the validation loss goes: chance at the start, `top` at the floor (sigmoid-ish in time)."""
    chance = 1 / b.classes
    return chance + (b.top - chance) * (1 - np.clip((val_clean - b.floor) / (b.start - b.floor), 0, 1)) ** 1.5


def healthy_curves(b: B, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Everything a run logs, noiseless and noisy: lr, clean/train loss, val, accuracies, gradient norms."""
    n = b.length
    lr = lr_schedule(b, rng)
    clean, g = clean_loss(b, lr)
    train = add_bursts(noisy_b(clean, b, rng), b, rng)
    val_floor = 3 * b.gap * b.floor if b.val_floor is None else b.val_floor
    val_clean = clean * (1 + b.gap) + val_floor * (1 - g)
    acc_clean = accuracy(val_clean, b)
    if b.val_drift:  # overconfidence: the loss creeps up, the accuracy does not fall
        val_clean = val_clean * (1 + b.val_drift * np.clip(2 * np.arange(n) / n - 1, 0, 1))
    lr_norm = ema(lr, 0.005 * n)
    c = {"lr": lr, "clean": clean, "g": g, "train": train, "val_clean": val_clean, "acc_clean": acc_clean}
    c["val_jitter"] = 1.5 / math.sqrt(b.val_size) + 0.01 * lr_norm  # relative noise of a validation pass
    if b.layers:
        L = b.layers
        depth = np.arange(L) / max(L - 1, 1)
        scale = 10 ** (b.spread * (depth - 1) + 0.15 * rng.standard_normal(L))
        t = np.arange(n) / n
        shape = (clean / b.start) ** 0.4 * (1 + b.grad_late * t) * (1 + b.grad_early * np.exp(-t / 0.01))
        shape = np.maximum(shape, 1e-3 * shape.max())
        shape = shape * np.sqrt(0.3 + lr)
        common = b.grad_noise * 0.6 * rng.standard_normal(n)
        spike = np.log(np.maximum(train / clean, 1.0)) * 0.5  # gradient spikes come with loss spikes
        c["grads"] = np.array(
            [
                s * shape * np.exp(common + spike + b.grad_noise * 0.8 * rng.standard_normal(n) - 0.5 * b.grad_noise**2)
                for s in scale
            ]
        )
    return c


def assemble_b(name: str, label: str, onset: float, b: B, c: dict, rng: np.random.Generator) -> Run:
    """Named traces from the curves (validation and gradient norms sampled at their own rates)."""
    n = b.length
    steps = np.arange(b.x0, b.x0 + n, dtype=np.float64)
    n_tl, n_vl, n_va, n_ta, n_lr, n_g = NAMINGS_B[b.naming % len(NAMINGS_B)]
    traces: list[Trace] = []
    if b.val_every:
        vi = np.unique(np.r_[np.arange(0, n, b.val_every), n - 1])
        if b.log_val_loss:
            if "val" in c:
                val = c["val"][vi]
            elif b.val_minibatch:
                val = noisy_b(c["val_clean"], b, rng)[vi]
            else:
                val = c["val_clean"][vi] * np.exp(c["val_jitter"][vi] * rng.standard_normal(len(vi)))
            traces.append(Trace(*n_vl, steps[vi], val))
        if b.log_val_acc:
            p = np.clip(c.get("val_acc_clean", c["acc_clean"])[vi] - 0.02, 0, 1)
            size = 256 if b.val_minibatch else b.val_size
            traces.append(Trace(*n_va, steps[vi], rng.binomial(size, p) / size))
    if b.layers:
        gi = np.arange(0, n, b.grad_every)
        for i, gl in enumerate(c["grads"]):
            traces.append(Trace(n_g[0].format(i), n_g[1].format(i), steps[gi], gl[gi]))
    if b.log_train_loss:
        traces.append(Trace(*n_tl, steps, c["train"]))
    if b.log_lr:
        traces.append(Trace(*n_lr, steps, c.get("lr_logged", c["lr"]) * 3e-4))
    if b.log_train_acc:
        p = np.clip(c.get("train_acc_clean", c["acc_clean"] + 0.02), 0, 1)
        traces.append(Trace(*n_ta, steps, rng.binomial(64, p) / 64))
    traces.sort(key=lambda tr: float(tr.x[0]))  # stable: replay cuts from the first trace's start
    return Run(name, label, float(b.x0 + onset) if not math.isnan(onset) else math.nan, n, traces)


def rng_for(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


# ---------------------------------------------------------------- healthy runs


def healthy_b() -> list[tuple[str, B]]:
    """Healthy runs: every schedule and noise model, lengths 300 to 100,000, the awkward real cases."""
    return [
        ("b-const-gamma", B(sched="constant", noise="gamma", rel=0.05, naming=0)),
        # like the recorded digits runs: the training loss falls 2-3 decades and its batches swing by
        # x3-x10 at the end, validation flattens early far above it, gradient norms rise from a low start
        ("b-digits-like-adam", B(length=1500, floor=0.003, speed=0.08, val_floor=0.25, naming=1, val_every=25,
                                 layers=3, grad_early=-0.8, grad_noise=0.35)),
        ("b-digits-like-cosine", B(length=2500, sched="cosine", floor=0.002, speed=0.06, val_floor=0.15,
                                   val_drift=0.04, naming=2, val_every=23, layers=4, grad_early=-0.7,
                                   log_train_acc=True, val_size=360)),
        ("b-digits-like-sgd-steps", B(length=2000, sched="steps", floor=0.004, speed=0.1, ball=1.5,
                                      val_floor=0.2, naming=3, val_every=50, grad_every=10, layers=3,
                                      val_size=360)),
        ("b-cifar-like-steps", B(length=60_000, sched="steps", floor=0.02, speed=0.15, ball=1.0, val_floor=0.35,
                                 naming=4, val_every=390, grad_every=50, layers=20, spread=0.7,
                                 grad_early=-0.5, epoch=390, val_size=10000)),
        ("b-cosine-warm2-student", B(sched="cosine", warm=0.02, noise="student", rel=0.08, naming=1, length=8000)),
        ("b-steps-gamma", B(sched="steps", curve="exp", speed=0.15, ball=1.0, rel=0.1, naming=2, val_every=50)),
        ("b-halving-additive", B(sched="halving", noise="additive", start=4.0, floor=1.2, rel=0.03, naming=3,
                                 log_val_acc=False)),
        ("b-exp-decay-ar", B(sched="exp", noise="ar", rel=0.1, naming=4, length=3000, val_every=30)),
        ("b-sgdr-gamma", B(sched="sgdr", ball=1.5, speed=0.2, rel=0.08, naming=0, length=15000, val_every=150,
                           grad_every=5)),
        ("b-onecycle", B(sched="onecycle", curve="exp", speed=0.3, naming=1, rel=0.06, log_train_acc=True)),
        ("b-cyclic-mild", B(sched="cyclic", ball=0.4, rel=0.05, naming=2, length=6000, val_every=60)),
        ("b-plateau-drops", B(sched="plateau", ball=1.0, speed=0.2, naming=3, rel=0.1, noise="student")),
        ("b-linear-warm10", B(sched="linear", warm=0.1, curve="slow_start", speed=0.3, naming=4, rel=0.05)),
        ("b-invsqrt-warm25", B(sched="invsqrt", warm=0.25, speed=0.8, start=9.0, floor=2.5, curve="power",
                               alpha=0.5, noise="additive", rel=0.02, naming=0, length=20000, val_every=500,
                               log_val_acc=False, layers=24, grad_every=10, spread=1.2, classes=30000)),
        ("b-warm05-bump", B(sched="cosine", warm=0.005, rel=0.1, naming=1, bursts=1, length=4000)),
        ("b-short-300", B(length=300, speed=0.4, val_every=10, rel=0.05, naming=2, layers=2)),
        ("b-short-500-noisy", B(length=500, speed=0.5, val_every=25, rel=0.12, growth=0.5, naming=3,
                                noise="student")),
        ("b-long-100k-cosine", B(length=100_000, sched="cosine", warm=0.01, speed=0.2, rel=0.1, naming=4,
                                 val_every=1000, layers=12, grad_every=100, spread=0.8)),
        ("b-long-100k-steps", B(length=100_000, sched="steps", speed=0.15, ball=1.0, rel=0.15, noise="gamma",
                                naming=0, val_every=2000, layers=50, grad_every=200, spread=1.0, epoch=390)),
        ("b-long-50k-slow-power", B(length=50_000, sched="constant", curve="power", alpha=0.3, speed=2.0,
                                    rel=0.03, naming=1, val_every=500, layers=8, grad_every=50)),
        ("b-resumed-50k", B(x0=50_000, length=10_000, start=0.45, floor=0.3, speed=1.0, curve="power", alpha=0.5,
                            rel=0.1, naming=2, val_every=200, grad_early=0.0)),
        ("b-finetune", B(length=3000, start=0.9, floor=0.3, speed=0.05, curve="exp", rel=0.1, naming=3,
                         val_every=20, sched="linear", warm=0.06)),
        ("b-val-every-step", B(length=2000, val_every=1, val_minibatch=True, rel=0.1, naming=4)),
        ("b-acc-only", B(length=4000, log_train_loss=False, log_val_loss=False, log_train_acc=True, naming=0)),
        ("b-loss-only", B(length=4000, log_val_loss=False, log_val_acc=False, log_lr=False, layers=0, naming=1,
                          rel=0.08)),
        ("b-spiky-small-batch", B(length=8000, rel=0.1, growth=0.5, spikes=0.002, noise="student", naming=2,
                                  val_every=100, val_size=1000)),
        ("b-loss-spikes-recover", B(length=30_000, sched="cosine", warm=0.02, start=10.0, floor=2.2, bursts=3,
                                    noise="additive", rel=0.03, naming=3, val_every=1000, layers=30,
                                    grad_every=20, spread=0.6, log_val_acc=False, classes=50000)),
        ("b-epoch-pattern", B(length=6000, epoch=23, rel=0.15, growth=0.6, naming=4, val_every=23,
                              val_size=360)),
        ("b-grad-late-rise", B(length=10_000, sched="cosine", grad_late=3.0, naming=0, val_every=250, rel=0.1)),
        ("b-grad-early-drop", B(length=5000, grad_early=8.0, naming=1, val_every=100, rel=0.06)),
        ("b-deep-spread", B(length=5000, layers=40, spread=1.5, grad_every=5, naming=2, val_every=100)),
        ("b-first-layers-big", B(length=5000, layers=10, spread=-1.2, naming=3, val_every=100)),
        ("b-noise-grows-late", B(length=6000, rel=0.03, growth=0.9, floor=0.005, speed=0.2, naming=4,
                                 val_every=60)),
        ("b-val-tiny-set", B(length=4000, val_size=300, val_every=40, naming=0, rel=0.1)),
        ("b-regression-mse", B(length=5000, start=1.0, floor=0.02, noise="gamma", rel=0.15, growth=0.5,
                               log_val_acc=False, naming=1, val_every=50)),
    ]  # fmt: skip


# ---------------------------------------------------------------- problems


def _t(b: B, frac: float) -> int:
    return int(frac * b.length)


def val_series(c: dict, b: B, rng: np.random.Generator) -> np.ndarray:
    """The validation loss at every step (assemble_b samples it), for problems that edit it."""
    return c["val_clean"] * np.exp(c["val_jitter"] * rng.standard_normal(b.length))


def poison(c: dict, t: int, b: B, rng: np.random.Generator) -> None:
    """NaN weights from step t on: every loss and gradient norm logged from there is NaN."""
    c["train"][t:] = np.nan
    c["val"] = val_series(c, b, rng)
    c["val"][t:] = np.nan
    c["val_acc_clean"] = c.get("val_acc_clean", c["acc_clean"]).copy()
    c["val_acc_clean"][t:] = 1 / b.classes + 0.02  # NaN logits: argmax 0 for every example
    if "grads" in c:
        c["grads"][:, t:] = np.nan


def nonfinite_b(v: int, rng: np.random.Generator) -> tuple[B, dict, float]:
    b = [
        B(length=4000, naming=0, rel=0.1),
        B(length=20_000, sched="cosine", warm=0.02, naming=1, layers=16, grad_every=10, val_every=400),
        B(length=1200, naming=2, noise="student", rel=0.2, layers=4),
        B(length=6000, naming=3, val_every=30, sched="steps"),
        B(length=800, naming=4, layers=8, rel=0.05),
    ][v]
    c = healthy_curves(b, rng)
    n = b.length
    t0 = _t(b, (0.35, 0.6, 0.5, 0.45, 0.7)[v])
    if v == 0:  # fp16 overflow: the loss is +Inf for 3 steps, then everything is NaN
        poison(c, t0, b, rng)
        c["train"][t0 : t0 + 3] = np.inf
    elif v == 1:  # one layer's gradient overflows first; NaN everywhere from the next step
        t0 -= t0 % b.grad_every
        poison(c, t0 + 1, b, rng)
        c["grads"][5, t0:] = np.inf
    elif v == 2:  # log(0) on some batches: NaN losses on 30% of the steps, skipped (training goes on)
        hit = np.flatnonzero(rng.random(n - t0) < 0.3) + t0
        t0 = int(hit[0])
        c["train"][hit] = np.nan
    elif v == 3:  # the evaluation takes log(0): validation loss +Inf from there on, training goes on
        t0 = (t0 // b.val_every + 1) * b.val_every
        c["val"] = val_series(c, b, rng)
        c["val"][t0:] = np.inf
    else:  # every gradient norm and the loss at once
        poison(c, t0, b, rng)
    return b, c, float(t0)


def divergence_b(v: int, rng: np.random.Generator) -> tuple[B, dict, float]:
    b = [
        B(length=5000, speed=0.1, naming=1, rel=0.1),
        B(length=30_000, sched="cosine", warm=0.01, speed=0.1, naming=2, val_every=300, layers=20, grad_every=30),
        B(length=2000, speed=0.1, naming=3, noise="student", rel=0.15),
        B(length=100_000, sched="linear", warm=0.02, speed=0.1, start=8.0, floor=2.5, noise="additive", rel=0.05,
          naming=4, val_every=2000, layers=12, grad_every=200, log_val_acc=False),
        B(length=300, speed=0.2, naming=0, val_every=10, layers=3),
    ][v]  # fmt: skip
    c = healthy_curves(b, rng)
    n = b.length
    t0 = _t(b, (0.5, 0.4, 0.6, 0.55, 0.6)[v])
    steps = np.arange(n)
    clean = c["clean"]
    level = clean[t0]
    ratio = np.ones(n)
    after = steps >= t0
    if v in (0, 3):  # exponential climb to 1.5x the start, reached in 1% of the run
        top = 1.5 * b.start / level
        ratio[after] = np.minimum(np.exp(math.log(top) * (steps[after] - t0) / (0.01 * n)), top)
    elif v in (1, 4):  # collapse: back to the start level at once, where it stays
        ratio[after] = b.start / level
    else:  # a steady climb back to the start over 3% of the run, then on
        ratio[after] = 1 + (b.start / level - 1) * np.minimum((steps[after] - t0) / (0.03 * n), 1.3)
    new_clean = clean * ratio
    c["train"] = noisy_b(new_clean, b, rng, start=b.start)
    c["val_clean"] = c["val_clean"] * ratio
    c["val_acc_clean"] = accuracy(c["val_clean"], b)
    if "grads" in c:
        c["grads"] = c["grads"] * ratio**0.3
    return b, c, float(t0)


def decades(dt: np.ndarray, per: float) -> np.ndarray:
    """10 ** (dt / per), at most 1e30 (no overflow)."""
    return 10 ** np.minimum(dt / per, 30.0)


def exploding_b(v: int, rng: np.random.Generator) -> tuple[B, dict, float]:
    b = [
        B(length=5000, naming=2, layers=6, rel=0.08),
        B(length=20_000, sched="cosine", warm=0.02, naming=3, layers=24, grad_every=10, val_every=500),
        B(length=1500, naming=4, layers=4, grad_noise=0.35),
        B(length=60_000, sched="steps", naming=0, layers=50, grad_every=100, val_every=1000, rel=0.1),
        B(length=3000, naming=1, layers=8, rel=0.05, floor=0.01, speed=0.1, val_floor=0.2),
    ][v]
    c = healthy_curves(b, rng)
    n = b.length
    t0 = _t(b, (0.4, 0.55, 0.3, 0.5, 0.65)[v])
    dt = np.maximum(np.arange(n) - t0, 0)
    g = c["grads"]
    worse = np.ones(n)  # the loss as the growth goes on (training clips its gradients, so it goes on)
    if v == 0:  # every layer: a decade per 1% of the run, up to 5 decades (the norm before clipping)
        up = np.minimum(dt / (0.01 * n), 5.0)
        g *= 10**up
        worse = 1 + 0.1 * up
    elif v == 1:  # the last quarter of the layers (e.g. attention logits): a decade per 2%, up to 4
        up = np.minimum(dt / (0.02 * n), 4.0)
        g[-len(g) // 4 :] *= 10**up
        worse = 1 + 0.05 * up
    elif v == 2:  # super-exponential, as a bad initialisation blows up: 14 steps to Inf, the loss NaN
        up = np.expm1(np.minimum(dt / 4.0, 5.0))  # decades
        g *= 10 ** np.minimum(up, 30.0)
        k = int(np.flatnonzero(up > 30)[0])
        g[:, k] = np.inf
        poison(c, k + 1, b, rng)
    elif v == 3:  # every layer, a decade per 0.3% of the run, until it overflows: NaN
        up = dt / (0.003 * n)
        g *= 10 ** np.minimum(up, 30.0)
        poison(c, int(np.flatnonzero(up > 30)[0]), b, rng)
    else:  # the last two layers only, a decade per 1.5%, up to 5
        up = np.minimum(dt / (0.015 * n), 5.0)
        g[-2:] *= 10**up
        worse = 1 + 0.1 * up
    c["train"] = c["train"] * worse
    c["val_clean"] = c["val_clean"] * worse
    if "val" in c:
        c["val"] = c["val"] * worse
    return b, c, float(t0)


def overfitting_b(v: int, rng: np.random.Generator) -> tuple[B, dict, float]:
    b = [
        B(length=4000, floor=0.005, naming=3, val_every=40, val_size=1000),
        B(length=30_000, floor=0.01, sched="cosine", warm=0.02, naming=4, val_every=300, layers=10, grad_every=20),
        B(length=2000, floor=0.002, naming=0, val_every=1, val_minibatch=True, rel=0.1),
        B(length=10_000, floor=0.01, naming=1, val_every=100, log_val_acc=False, sched="steps"),
        B(length=1500, floor=0.005, naming=2, val_every=15, val_size=360, speed=0.15),
    ][v]
    c = healthy_curves(b, rng)
    n = b.length
    steps = np.arange(n, dtype=np.float64)
    t_low = _t(b, (0.25, 0.3, 0.2, 0.4, 0.15)[v])
    rise = (0.6, 0.5, 1.5, 1.2, 0.8)[v]  # of the lowest value, from the low to the end of the run
    power = (0.5, 0.8, 0.5, 1.3, 0.7)[v]  # concave, nearly linear, convex: 10-50% up 10% of the run later
    fall = c["val_clean"]
    low = fall[t_low]
    later = np.maximum(steps - t_low, 0) / (n - t_low)
    val_clean = np.where(steps < t_low, fall, low * (1 + rise * later**power))
    onset = int(np.argmin(val_clean))
    c["val_clean"] = val_clean
    acc = accuracy(val_clean, b)
    acc[onset:] = acc[onset] - 0.3 * (acc[onset] - acc[onset:])  # accuracy sags far less than the loss rises
    c["val_acc_clean"] = acc
    if b.val_minibatch:
        c["val"] = noisy_b(val_clean, b, rng, start=b.start)
    return b, c, float(onset)


def not_learning_b(v: int, rng: np.random.Generator) -> tuple[B, dict, float]:
    b = [
        B(length=3000, naming=4, rel=0.02, growth=0.0, val_every=50),
        B(length=20_000, sched="cosine", warm=0.05, naming=0, rel=0.05, growth=0.0, val_every=400, layers=12,
          grad_every=10),
        B(length=5000, naming=1, noise="ar", rel=0.15, growth=0.0),
        B(length=8000, naming=2, noise="additive", start=1.0, floor=0.3, rel=0.05, growth=0.0, log_val_acc=False),
        B(length=2000, naming=3, rel=0.1, growth=0.0, val_every=20),
    ][v]  # fmt: skip
    c = healthy_curves(b, rng)
    n = b.length
    steps = np.arange(n)
    level = b.start * (1 + 0.01 * rng.standard_normal())
    flat = np.full(n, level)
    onset = 0.0
    if v == 1:  # the prior is learnt in the first 1%, then nothing; the problem counts from the warm-up's end
        flat = level * (1 - 0.03 * (1 - np.exp(-steps / (0.003 * n))))
        onset = float(b.warm * n)
    elif v == 4:  # a learning rate of 0 (a scheduler bug), logged as such
        c["lr_logged"] = np.zeros(n)
    c["clean"] = flat
    c["train"] = noisy_b(flat, b, rng)
    c["val_clean"] = flat * (1 + 0.002 * rng.standard_normal())
    c["acc_clean"] = np.full(n, 1 / b.classes + 0.01)
    if "grads" in c:
        c["grads"] = c["grads"][:, :1] * np.exp(0.2 * rng.standard_normal(c["grads"].shape))
    return b, c, onset


def lr_too_high_b(v: int, rng: np.random.Generator) -> tuple[B, dict, float]:
    b = [
        B(length=3000, naming=0, val_every=50),
        B(length=10_000, sched="linear", warm=0.05, naming=1, val_every=100),
        B(length=6000, naming=2, val_every=60, layers=10),
        B(length=40_000, sched="steps", naming=3, val_every=400, layers=20, grad_every=40),
        B(length=1000, naming=4, val_every=10, noise="student"),
    ][v]
    c = healthy_curves(b, rng)
    n = b.length
    steps = np.arange(n)
    clean = c["clean"]
    lr = c["lr"].copy()
    if v == 0:  # from the start (Adam at 0.5): far above the start, swinging
        t0 = 0
        level = 3.0 * b.start * (1 - 0.1 * steps / n)
    elif v == 1:  # from the end of the warm-up: no progress from there on, swinging
        t0 = int(b.warm * n)
        level = np.full(n, clean[t0])
    elif v == 2:  # raised x30 by hand
        t0 = _t(b, 0.4)
        lr[t0:] *= 30
        level = np.maximum(clean, 0.35 * b.start)
    elif v == 3:  # a step schedule that multiplies by 5 where it should divide (x5 at 30%, x25 at 60%)
        t0 = _t(b, 0.3)
        lr[t0:] = lr[t0 - 1] * np.where(steps[t0:] >= _t(b, 0.6), 25, 5)
        level = np.maximum(clean, 0.5 * b.start)
    else:  # raised x10 by hand
        t0 = _t(b, 0.5)
        lr[t0:] *= 10
        level = np.maximum(clean, 0.45 * b.start)
    c["lr_logged"] = lr
    amp = (0.35, 0.7, 1.0, 0.9, 0.6)[v]  # of log(loss): swings of x3 to x10 between batches
    wave = 0.6 * np.sin(2 * np.pi * steps / rng.uniform(8, 40) + rng.uniform(0, 6)) + 0.8 * rng.standard_normal(n)
    swing = np.exp(amp * wave - 0.5 * amp * amp)
    c["train"][t0:] = level[t0:] * swing[t0:]
    c["val_clean"] = np.where(steps < t0, c["val_clean"], level * (1.1 + 0.3 * np.abs(np.sin(steps / 97.0))))
    if "grads" in c:
        c["grads"][:, t0:] *= 3 * np.exp(0.5 * amp * wave[t0:])
    return b, c, float(t0)


def vanishing_b(v: int, rng: np.random.Generator) -> tuple[B, dict, float]:
    b = [
        B(length=3000, naming=1, layers=10, spread=0.0, curve="slow_start", speed=2.0),
        B(length=20_000, naming=2, layers=6, spread=0.3, val_every=400, grad_every=10, sched="cosine", warm=0.02),
        B(length=10_000, naming=3, layers=50, spread=0.0, grad_every=20, val_every=200, speed=1.5),
        B(length=4000, naming=4, layers=2, spread=0.2),
        B(length=5000, naming=0, layers=5, spread=0.0, curve="slow_start", speed=0.5),
    ][v]
    c = healthy_curves(b, rng)
    n = b.length
    steps = np.arange(n)
    g = c["grads"]
    L = len(g)
    t0 = 0
    if v == 0:  # deep sigmoid: x0.25 per layer from the output down, from step 0
        g *= (0.25 ** (L - 1 - np.arange(L)))[:, None]
    elif v == 1:  # saturation mid-run: the first half of the layers collapse 5 decades over 5% of the run
        t0 = _t(b, 0.35)
        fall = np.clip((steps - t0) / (0.05 * n), 0, 1) * 5
        for i in range(L // 2):
            g[i] *= 10 ** (-fall * (1 - i / L))
        c["train"] = c["train"] * np.where(steps > t0, (c["clean"][t0] / c["clean"]) ** 0.8, 1)
    elif v == 2:  # 50 layers: 4 decades from the first to the last, from step 0, learning slowly
        g *= (10 ** (-4 * (1 - np.arange(L) / (L - 1))))[:, None]
    elif v == 3:  # 2 layers: the first one's units die mid-run (its gradient falls 4 decades)
        t0 = _t(b, 0.5)
        g[0] *= 10 ** (-4 * np.clip((steps - t0) / (0.03 * n), 0, 1))
    else:  # sigmoid, 5 layers: 4 decades apart at first, recovering after 8% of the run
        gap = 4 * np.clip(1 - steps / (0.08 * n), 0, 1) ** 0.5
        g *= 10 ** (-gap[None, :] * (1 - np.arange(L) / (L - 1))[:, None])
    c["grads"] = g
    return b, c, float(t0)


MAKERS = {
    "nonfinite": nonfinite_b,
    "divergence": divergence_b,
    "exploding_gradients": exploding_b,
    "overfitting": overfitting_b,
    "not_learning": not_learning_b,
    "lr_too_high": lr_too_high_b,
    "vanishing_gradients": vanishing_b,
}
PER_KIND = 5


def family_b(seed: int = 0) -> list[Run]:
    """The whole family: healthy runs first, then PER_KIND runs of each problem kind."""
    runs = []
    for name, b in healthy_b():
        rng = rng_for(seed, name)
        runs.append(assemble_b(name, HEALTHY, math.nan, b, healthy_curves(b, rng), rng))
    for kind, make in MAKERS.items():
        for v in range(PER_KIND):
            name = f"b-{kind}-{v}"
            rng = rng_for(seed, name)
            b, c, onset = make(v, rng)
            runs.append(assemble_b(name, kind, onset, replace(b), c, rng))
    return runs
