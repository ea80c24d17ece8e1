"""Score the Diagnoser on labelled runs: catches, delays, false alarms.

Three families of labelled runs (issue 18: tune on one, report on the others, the targets hold on
all): "A", the synthetic set the detectors are tuned on (synthetic.py); "B", a second synthetic
family designed apart from it (family_b.py); "real", recorded PyTorch trainings (real_runs.py).

Shared by tests/diagnosis/test_labelled.py and test_families.py (which assert the targets) and
benchmarks/bench_diagnosis.py (which prints the figures). `score` replays each run alone in fixed
chunks; `score_streamed` feeds several runs at once as envs of one Diagnoser, in chunks of random
sizes and the series of a batch in a shuffled order, as a busy server would (`stream`).
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from synthetic import HEALTHY, PROBLEMS, Run, labelled_runs, replay  # this folder is on sys.path

from livepanel.diagnosis import Diagnoser

# Targets of issues 7 and 18 (on every family), as a fraction of the run's length after the onset.
FAST = ("nonfinite", "divergence", "exploding_gradients")
TARGET = {k: (0.05 if k in FAST else 0.10) for k in PROBLEMS}


@dataclass
class Score:
    chunk: int
    caught: dict[str, int] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)
    delays: dict[str, list[float]] = field(default_factory=dict)  # fraction of the run, data-level
    arrival: dict[str, list[float]] = field(default_factory=dict)  # fraction of the run, when observe returned
    from_start: dict[str, list[float]] = field(default_factory=dict)  # fraction of the run, data-level, from step 0
    false_alarms: list[str] = field(default_factory=list)  # "run: kind" on healthy runs
    other: list[str] = field(default_factory=list)  # alerts of another kind on problem runs
    healthy_runs: int = 0
    missed: dict[str, list[str]] = field(default_factory=dict)  # problem runs without their kind's alert
    other_by_kind: dict[str, list[str]] = field(default_factory=dict)  # `other`, by the run's label
    before_onset: list[str] = field(default_factory=list)  # "run: kind at x": any alert before the onset
    verdicts: dict[str, list[str]] = field(default_factory=dict)  # run name -> kinds raised, in order
    labels: dict[str, str] = field(default_factory=dict)  # run name -> its label
    delay_of: dict[str, tuple[str, float]] = field(default_factory=dict)  # caught run -> (kind, delay)


def _tally(sc: Score, run: Run, found: list) -> None:
    """Count one run's (alert, x when observe returned) pairs into the score."""
    sc.verdicts[run.name] = [a.kind for a, _ in found]
    sc.labels[run.name] = run.label
    if run.label == HEALTHY:
        sc.healthy_runs += 1
        sc.false_alarms += [f"{run.name}: {a.kind} at {a.detected:g}" for a, _ in found]
        return
    k = run.label
    sc.total[k] = sc.total.get(k, 0) + 1
    hits = [(a, x) for a, x in found if a.kind == k]
    others = [f"{run.name}: {a.kind}" for a, _ in found if a.kind != k]
    sc.other += others
    sc.other_by_kind.setdefault(k, []).extend(others)
    early = run.onset - 0.01 * run.length
    sc.before_onset += [f"{run.name}: {a.kind} at {a.detected:g}" for a, _ in found if a.detected < early]
    if hits:
        a, x = hits[0]
        sc.caught[k] = sc.caught.get(k, 0) + 1
        sc.delays.setdefault(k, []).append((a.detected - run.onset) / run.length)
        sc.arrival.setdefault(k, []).append((x - run.onset) / run.length)
        sc.from_start.setdefault(k, []).append((a.detected - float(run.traces[0].x[0])) / run.length)
        sc.delay_of[run.name] = (k, sc.delays[k][-1])
    else:
        sc.missed.setdefault(k, []).append(run.name)


def score(runs: list[Run], chunk: int, catch_up: bool = False) -> Score:
    """Replay every run (a fresh Diagnoser each) in chunks of `chunk` steps per series (`catch_up`: as
    the diagnosis worker feeds a backlog, see Diagnoser.observe)."""
    sc = Score(chunk)
    for run in runs:
        d = Diagnoser()
        observe = functools.partial(d.observe, catch_up=True) if catch_up else d.observe
        _tally(sc, run, replay(observe, "run", run, chunk, d.settle))
    return sc


# ---------------------------------------------------------------- other streamings


def stream(
    observe: Callable,
    runs: Sequence[tuple[str, Run]],
    rng: np.random.Generator,
    chunks: Sequence[int] = (1, 3, 10, 50, 200, 1000),
    settle: Callable | None = None,
) -> dict[str, list]:
    """Feed several runs at once, each as its own env, to `observe(env, win, trace, x, y, opts)`, as a
    server with several writers would: each batch comes from a run picked at random, holds the next
    `rng.choice(chunks)` steps of each of its series, in a shuffled order; `settle()` after each batch.
    Returns {env: [(alert, x of the last step that env had sent)]}."""
    todo = []
    for env, run in runs:
        start = min(float(tr.x[0]) for tr in run.traces)
        todo.append([env, run, start, [0] * len(run.traces)])
    out: dict[str, list] = {env: [] for env, _ in runs}
    last = {env: -math.inf for env, _ in runs}
    while todo:  # every batch moves one run forward by at least one step: bounded by the steps
        i = int(rng.integers(len(todo)))
        env, run, edge, pos = todo[i]
        edge += int(rng.choice(chunks))
        for j in rng.permutation(len(run.traces)):
            tr = run.traces[j]
            a, b = pos[j], int(np.searchsorted(tr.x, edge))
            if b > a:
                pos[j] = b
                last[env] = max(last[env], float(tr.x[b - 1]))
                for alert in observe(env, tr.win, tr.trace, tr.x[a:b], tr.y[a:b], tr.opts):
                    out[env].append((alert, last[env]))
        todo[i][2] = edge
        if all(p >= len(tr.x) for p, tr in zip(pos, run.traces, strict=True)):
            todo.pop(i)
        if settle is not None:
            for alert in settle():
                out[alert.env].append((alert, last[alert.env]))
    return out


def score_streamed(
    runs: list[Run], seed: int = 0, together: int = 4, chunks: Sequence[int] = (1, 3, 10, 50, 200, 1000),
    catch_up: bool = False,
) -> Score:  # fmt: skip
    """Score runs fed `together` at a time to one Diagnoser (as envs of one server) by `stream`, in
    chunks of random sizes from `chunks` (Score.chunk is 0: mixed)."""
    sc = Score(0)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(runs))
    for g in range(0, len(runs), together):
        group = [runs[i] for i in order[g : g + together]]
        d = Diagnoser()
        observe = functools.partial(d.observe, catch_up=True) if catch_up else d.observe
        envs = [(f"{run.name}#{k}", run) for k, run in enumerate(group)]
        found = stream(observe, envs, rng, chunks, d.settle)
        for env, run in envs:
            _tally(sc, run, found[env])
    return sc


# ---------------------------------------------------------------- families and figures


def family(name: str, seed: int = 0) -> list[Run]:
    """The labelled runs of family "A" (tuning; `seed`: another draw of the same generator), "B" or "real"
    (reporting)."""
    if name == "A":
        return labelled_runs(seed=seed)
    if name == "B":
        from family_b import family_b

        return family_b(seed=0)
    if name == "real":
        from real_runs import real_runs

        return real_runs()
    raise ValueError(name)


FAMILIES = ("A", "B", "real")


def figures(sc: Score) -> list[dict]:
    """Per kind: caught/total, worst and median delay (% of the run after the onset), target, met;
    other-kind alerts on that kind's runs, and the runs missed."""
    out = []
    for kind in PROBLEMS:
        d = sc.delays.get(kind, [])
        total = sc.total.get(kind, 0)
        out.append(
            {
                "kind": kind,
                "caught": sc.caught.get(kind, 0),
                "runs": total,
                "worst_delay_pct": round(100 * max(d), 1) if d else None,
                "median_delay_pct": round(100 * statistics.median(d), 1) if d else None,
                "target_pct": round(100 * TARGET[kind]),
                "met": len(d) == total and all(-0.01 <= x <= TARGET[kind] for x in d),
                "other_kind_alerts": len(sc.other_by_kind.get(kind, [])),
                "missed": sc.missed.get(kind, []),
            }
        )
    return out


def failures(sc: Score) -> list[str]:
    """Every way the score falls short of the targets (empty: all met)."""
    out = [f"false alarm on healthy run {f}" for f in sc.false_alarms]
    for kind in PROBLEMS:
        out += [f"{kind}: missed {name}" for name in sc.missed.get(kind, [])]
    for name, (kind, x) in sc.delay_of.items():
        if x > TARGET[kind]:
            out.append(f"{kind}: {name} caught {100 * x:.1f}% of the run after the onset (target {TARGET[kind]:.0%})")
        elif x < -0.01:
            out.append(f"{kind}: {name} raised {100 * -x:.1f}% of the run before the onset")
    return out


def disagreements(first: Score, second: Score, every_kind: bool = False) -> list[str]:
    """Runs whose verdict differs between two scorings of the same runs (fed differently): the
    alerts raised on a healthy run, whether a problem run's own kind was caught (`every_kind`: the
    set of kinds raised on any run, alerts of other kinds on problem runs included)."""
    out = []
    for name, kinds in first.verdicts.items():
        other = second.verdicts.get(name)
        if other is None:
            continue
        label = first.labels[name]
        if every_kind or label == HEALTHY:
            a, b = sorted(set(kinds)), sorted(set(other))
        else:
            a, b = [label] if label in kinds else [], [label] if label in other else []
        if a != b:
            out.append(f"{name}: {a} vs {b}")
    return out


def worst(values: list[float]) -> float:
    return max(values) if values else math.nan
