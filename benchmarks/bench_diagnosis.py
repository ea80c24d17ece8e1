"""Benchmark of the training-problem detectors (issues 7 and 18): quality on three labelled families,
and cost.

The families (tests/diagnosis/evaluate.py): "A", the synthetic set the detectors are tuned on; "B",
a synthetic family designed apart from it; "real", recorded PyTorch trainings on digits. Tune on A,
report on B and real: the targets must hold on all three.

Prints one JSON line per figure, each with its `family` and `chunk` (steps per call; "mixed": runs
fed 4 at a time as envs of one Diagnoser, in chunks of random sizes, series shuffled):
- per family: runs, healthy runs, problem runs, steps;
- per kind: runs caught, worst and median delay after the onset (% of the run's length; "data" =
  the point that made it certain, "arrival" = when observe() returned; "from start" = from the run's
  first step, which differs for not_learning after a warm-up), target, met, the runs missed;
- false alarms on the healthy runs; alerts of another kind on problem runs, and alerts of any kind
  before a problem's onset (for information);
- verdicts that differ between the chunk of 10 and the mixed streaming;
- cost of observe(): microseconds per point and per call, for chunks of 1 to 1,000,000 points,
  healthy series (the common case).

Run by hand: python benchmarks/bench_diagnosis.py [--quick] [--family A|B|real ...] (--family: their quality only)
or python benchmarks/bench_diagnosis.py --seeds N: family A drawn again from seeds 1..N (tuning holds on other draws?)
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np
from common import ROOT, emit

sys.path.insert(0, str(ROOT / "tests" / "diagnosis"))

from evaluate import FAMILIES, TARGET, Score, disagreements, family, score, score_streamed  # noqa: E402
from synthetic import HEALTHY, PROBLEMS  # noqa: E402

from livepanel.diagnosis import Diagnoser  # noqa: E402


def report(fam: str, chunk: int | str, sc: Score, seconds: float) -> None:
    for kind in PROBLEMS:
        d = sc.delays.get(kind, [])
        a = sc.arrival.get(kind, [])
        f = sc.from_start.get(kind, [])
        emit(
            figure="detection",
            family=fam,
            kind=kind,
            chunk=chunk,
            caught=sc.caught.get(kind, 0),
            runs=sc.total.get(kind, 0),
            worst_delay_pct=round(100 * max(d), 1) if d else None,
            median_delay_pct=round(100 * statistics.median(d), 1) if d else None,
            worst_arrival_delay_pct=round(100 * max(a), 1) if a else None,
            worst_delay_from_start_pct=round(100 * max(f), 1) if f else None,
            target_pct=100 * TARGET[kind],
            met=bool(d) and len(d) == sc.total.get(kind, 0) and -0.01 <= min(d) and max(d) <= TARGET[kind],
            missed=sc.missed.get(kind, []),
        )
    emit(figure="false_alarms", family=fam, chunk=chunk, healthy_runs=sc.healthy_runs,
         false_alarms=len(sc.false_alarms), which=sc.false_alarms[:20], target=0)  # fmt: skip
    emit(figure="other_kind_alerts_on_problem_runs", family=fam, chunk=chunk, count=len(sc.other),
         by_kind={k: len(v) for k, v in sc.other_by_kind.items() if v}, which=sc.other[:20])  # fmt: skip
    emit(figure="alerts_before_onset", family=fam, chunk=chunk, count=len(sc.before_onset), which=sc.before_onset[:20])
    emit(figure="scoring_time", family=fam, chunk=chunk, seconds=round(seconds, 2))


def quality(fams: tuple[str, ...], quick: bool) -> None:
    for fam in fams:
        runs = family(fam)
        emit(figure="family", family=fam, role="tuning" if fam == "A" else "reporting", runs=len(runs),
             healthy=sum(r.label == HEALTHY for r in runs), problems=sum(r.label != HEALTHY for r in runs),
             steps=sum(r.length for r in runs))  # fmt: skip
        chunks = (10,) if quick else ((1, 10, 1000) if fam != "B" else (10, 1000))
        by10 = None
        for chunk in chunks:
            t = time.perf_counter()
            sc = score(runs, chunk)
            report(fam, chunk, sc, time.perf_counter() - t)
            by10 = sc if chunk == 10 else by10
        t = time.perf_counter()
        mixed = score_streamed(runs, seed=1, together=4)
        report(fam, "mixed", mixed, time.perf_counter() - t)
        if by10 is not None:
            diff = disagreements(by10, mixed)
            emit(figure="verdicts_differ_chunk10_vs_mixed", family=fam, count=len(diff), which=diff[:20], target=0)


def fresh_draws(n: int) -> None:
    """Family A drawn again from seeds 1..n (chunks of 10): does tuning on seed 0 hold on other draws of
    the same generator? Per kind over all draws, and the false alarms per draw."""
    scores = []
    t = time.perf_counter()
    for seed in range(1, n + 1):
        scores.append(score(family("A", seed=seed), 10))
    fam = f"A seeds 1-{n}"
    for kind in PROBLEMS:
        d = [x for sc in scores for x in sc.delays.get(kind, [])]
        runs = sum(sc.total.get(kind, 0) for sc in scores)
        late = sum(x > TARGET[kind] for x in d)
        emit(figure="detection", family=fam, kind=kind, chunk=10, caught=len(d), runs=runs,
             worst_delay_pct=round(100 * max(d), 1) if d else None,
             median_delay_pct=round(100 * statistics.median(d), 1) if d else None,
             late=late, target_pct=100 * TARGET[kind], met=len(d) == runs and late == 0,
             missed=sorted({m for sc in scores for m in sc.missed.get(kind, [])}))  # fmt: skip
    emit(figure="false_alarms", family=fam, chunk=10, healthy_runs=sum(sc.healthy_runs for sc in scores),
         false_alarms=sum(len(sc.false_alarms) for sc in scores),
         per_seed=[len(sc.false_alarms) for sc in scores],
         which=sorted({f.split(" at ")[0] for sc in scores for f in sc.false_alarms}), target=0)  # fmt: skip
    emit(figure="scoring_time", family=fam, chunk=10, seconds=round(time.perf_counter() - t, 2))


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
    fams = tuple(a for a in sys.argv[1:] if a in FAMILIES) or FAMILIES
    if "--seeds" in sys.argv:
        fresh_draws(int(sys.argv[sys.argv.index("--seeds") + 1]))
        return
    quality(fams, quick)
    if "--family" in sys.argv:
        return
    for chunk, total in ((1, 50_000), (10, 200_000), (100, 1_000_000), (1000, 1_000_000), (1_000_000, 1_000_000)):
        cost(chunk, total if not quick else min(total, 100_000))
    cost_off()


if __name__ == "__main__":
    main()
