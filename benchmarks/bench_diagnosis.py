"""Benchmark of the training-problem detectors (issue 7): quality on the labelled set, and cost.

Prints one JSON line per figure:
- per kind and chunk size: runs caught, worst and median delay after the onset (% of the run's
  length; "data" = the point that made it certain, "arrival" = when observe() returned; "from start"
  = from the run's first step, which differs for not_learning after a warm-up), target;
- false alarms on the healthy runs (and alerts of another kind on problem runs, for information);
- cost of observe(): microseconds per point and per call, for chunks of 1 to 1,000,000 points,
  healthy series (the common case).

Run by hand: python benchmarks/bench_diagnosis.py [--quick]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "diagnosis"))

from evaluate import TARGET, score  # noqa: E402
from synthetic import HEALTHY, PROBLEMS, labelled_runs  # noqa: E402

from livepanel.diagnosis import Diagnoser  # noqa: E402


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def quality(chunks: tuple[int, ...]) -> None:
    runs = labelled_runs(seed=0)
    emit(figure="labelled_set", runs=len(runs), healthy=sum(r.label == HEALTHY for r in runs))
    for chunk in chunks:
        sc = score(runs, chunk)
        for kind in PROBLEMS:
            d = sc.delays.get(kind, [])
            a = sc.arrival.get(kind, [])
            f = sc.from_start.get(kind, [])
            emit(
                figure="detection",
                kind=kind,
                chunk=chunk,
                caught=sc.caught.get(kind, 0),
                runs=sc.total.get(kind, 0),
                worst_delay_pct=round(100 * max(d), 1) if d else None,
                median_delay_pct=round(100 * statistics.median(d), 1) if d else None,
                worst_arrival_delay_pct=round(100 * max(a), 1) if a else None,
                worst_delay_from_start_pct=round(100 * max(f), 1) if f else None,
                target_pct=100 * TARGET[kind],
                met=bool(d) and len(d) == sc.total.get(kind, 0) and max(d) <= TARGET[kind],
            )
        emit(figure="false_alarms", chunk=chunk, healthy_runs=sc.healthy_runs, false_alarms=len(sc.false_alarms),
             which=sc.false_alarms[:10], target=0)  # fmt: skip
        emit(figure="other_kind_alerts_on_problem_runs", chunk=chunk, count=len(sc.other), which=sc.other[:10])


def cost(chunk: int, total: int, series: int = 4) -> None:
    """Healthy noisy losses, `series` at once (as one env logs them), fed in chunks of `chunk` points."""
    rng = np.random.default_rng(1)
    x = np.arange(total, dtype=np.float64)
    tau = min(total / 5, 2000)  # converges within a few thousand steps (see docs: not_learning needs that)
    ys = [(0.2 + 2 * np.exp(-x / tau)) * np.exp(0.1 * rng.standard_normal(total)) for _ in range(series)]
    names = [("loss", "train"), ("loss", "val"), ("grad_norm", "fc1"), ("grad_norm", "fc2")][:series]
    chunks = [(i, min(i + chunk, total)) for i in range(0, total, chunk)]
    d = Diagnoser()
    alerts = 0
    t = time.perf_counter()
    for a, b in chunks:
        xa = x[a:b]
        for (win, trace), y in zip(names, ys, strict=True):
            alerts += len(d.observe("bench", win, trace, xa, y[a:b], {}))
    dt = time.perf_counter() - t
    calls = len(chunks) * series
    emit(figure="observe_cost", chunk=chunk, points=total * series, us_per_point=round(1e6 * dt / (total * series), 3),
         us_per_call=round(1e6 * dt / calls, 2), alerts=alerts, target_us_per_point=5.0)  # fmt: skip


def cost_off(total: int = 100_000) -> None:
    """A series that is not diagnosed (role none or diagnose off): what every other append pays."""
    d = Diagnoser()
    x = np.arange(total, dtype=np.float64)
    y = np.ones(total)
    t = time.perf_counter()
    for i in range(total):
        d.observe("bench", "throughput", "", x[i : i + 1], y[i : i + 1], {})
    dt = time.perf_counter() - t
    emit(figure="observe_cost_undiagnosed_series", chunk=1, us_per_call=round(1e6 * dt / total, 3))


def main() -> None:
    quick = "--quick" in sys.argv
    quality((10,) if quick else (1, 10, 1000))
    for chunk, total in ((1, 50_000), (10, 200_000), (100, 1_000_000), (1000, 1_000_000), (1_000_000, 1_000_000)):
        cost(chunk, total if not quick else min(total, 100_000))
    cost_off()


if __name__ == "__main__":
    main()
