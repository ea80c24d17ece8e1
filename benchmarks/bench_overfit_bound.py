"""How early can overfitting be told from a healthy run's drift at all? A bound for issue 18's target.

Not a detector: two plain statistics of the validation loss, read with the labels known, on each labelled
family (tests/diagnosis/evaluate.py):
- rise z: the mean of the last 2 log validation points above the lowest 2-point mean before them, in
  units of the series' noise (the detector's own estimate, overfit._noise);
- hinge t: t statistic of the change of slope of a two-segment line bent at the low (overfit._turn).

On a healthy run each is taken at its largest over the run, while the training loss is no higher than at
the validation low (what the detector requires too): the value a detector must stay under for no false
alarm. On an overfitting run each is read at the labelled onset + 10% of the run (the target), the hinge
placed at the onset itself (known here, not to a detector). Where the problem runs' figures at 10% lie
below the healthy runs' largest, no threshold on them meets the target with 0 false alarms. The oracle
delay is when the rise z of each problem run first exceeds a threshold, with the healthy runs over it.

Run by hand: python benchmarks/bench_overfit_bound.py [A B real ...] (A0..A19: family A drawn from that seed)
"""

from __future__ import annotations

import math
import statistics
import sys

import numpy as np
from common import ROOT, emit

sys.path.insert(0, str(ROOT / "tests" / "diagnosis"))

from evaluate import family  # noqa: E402
from synthetic import HEALTHY, Run  # noqa: E402

from livepanel.diagnosis import roles  # noqa: E402
from livepanel.diagnosis.overfit import _noise, _turn  # noqa: E402

TARGET = 0.10
MIN_POINTS = 8


def _r(v: float) -> float | None:
    return round(v, 1) if math.isfinite(v) else None  # JSON has no nan nor inf


def _series(run: Run, role: str) -> tuple[np.ndarray, np.ndarray] | None:
    for tr in run.traces:
        if roles.resolve_role(tr.win, tr.trace, tr.opts) == role:
            x, y = np.asarray(tr.x, np.float64), np.asarray(tr.y, np.float64)
            ok = np.isfinite(y) & (y > 0 if role == "val_loss" else True)
            return x[ok], y[ok]
    return None


def _walk(run: Run) -> list[tuple[float, float, float]]:
    """(x, rise z, hinge t at the running low) at each validation point, where the training loss is no
    higher than at the low."""
    val, train = _series(run, "val_loss"), _series(run, "train_loss")
    if val is None or train is None:
        return []
    (x, y), (tx, ty) = val, train
    lv = np.log(y)
    out = []
    for i in range(MIN_POINTS, len(x)):  # bounded by the run's validation points
        sd = _noise(list(y[: i + 1][-64:]), True, float(y[: i + 1].min()))
        if not (math.isfinite(sd) and sd > 0):
            continue
        pair = (lv[:i] + lv[1 : i + 1]) / 2
        j = int(np.argmin(pair[:-1]))
        span = max((x[i] - x[j]) / 4, 1.0)
        then = ty[(tx >= x[j] - span) & (tx <= x[j] + span)]
        now = ty[(tx >= x[i] - span) & (tx <= x[i])]
        if len(then) and len(now) and now.mean() > then.mean() * 1.01:
            continue
        b = int(np.argmin(y[: i - 1]))
        t = _turn(list(y[: i + 1]), b, math.inf) if i - b >= 4 else math.nan
        out.append((float(x[i]), float((pair[-1] - pair[:-1].min()) / sd), t))
    return out


def _at_target(run: Run) -> tuple[float, float]:
    """Rise z and hinge t (bent at the labelled onset) with the points up to onset + 10% of the run."""
    val = _series(run, "val_loss")
    if val is None:
        return math.nan, math.nan
    x, y = val
    n = int(np.searchsorted(x, run.onset + TARGET * run.length, side="right"))
    lv = np.log(y[:n])
    sd = _noise(list(y[:n][-64:]), True, float(y[:n].min()))
    pair = (lv[:-1] + lv[1:]) / 2
    z = float((pair[-1] - pair[:-1].min()) / sd) if len(pair) > 1 and sd > 0 else math.nan
    b = int(np.argmin(np.abs(x[:n] - run.onset)))
    return z, float(_turn(list(y[:n]), b, math.inf))


def bound(name: str) -> None:
    runs = family("A", seed=int(name[1:])) if name[:1] == "A" and name[1:].isdigit() else family(name)
    healthy = [_walk(r) for r in runs if r.label == HEALTHY]
    problems = [r for r in runs if r.label == "overfitting"]
    hz = [max((z for _, z, _ in w), default=0.0) for w in healthy]
    ht = [max((t for _, _, t in w if math.isfinite(t)), default=0.0) for w in healthy]
    at = [_at_target(r) for r in problems]
    emit(
        figure="overfit_bound",
        family=name,
        healthy_runs=len(healthy),
        overfitting_runs=len(problems),
        healthy_max_rise_z=[_r(v) for v in sorted(hz)[-5:]],
        rise_z_at_target=[_r(z) for z in sorted(z for z, _ in at if math.isfinite(z))],
        healthy_max_hinge_t=[_r(v) for v in sorted(ht)[-5:]],
        hinge_t_at_target=[_r(t) for t in sorted(t for _, t in at if math.isfinite(t))],
    )
    walks = [(r, _walk(r)) for r in problems]
    for thr in sorted({4.0, 5.0, 6.0, max(hz, default=0.0)}):  # bounded: four thresholds
        delays = []
        for r, w in walks:
            hit = [x for x, z, _ in w if z > thr and x >= r.onset - 0.01 * r.length]
            delays.append(100 * (hit[0] - r.onset) / r.length if hit else math.inf)
        emit(
            figure="overfit_oracle_delay",
            family=name,
            rise_z_threshold=_r(thr),
            healthy_over_threshold=sum(z > thr for z in hz),
            median_delay_pct=_r(statistics.median(delays)) if delays else None,
            worst_delay_pct=_r(max(delays)) if delays else None,
            missed=sum(math.isinf(d) for d in delays),
        )


if __name__ == "__main__":
    for fam in sys.argv[1:] or ["A", "B", "real"]:
        bound(fam)
