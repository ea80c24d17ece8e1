"""Score the Diagnoser on the labelled synthetic set: catches, delays, false alarms.

Shared by tests/diagnosis/test_labelled.py (which asserts the targets) and
benchmarks/bench_diagnosis.py (which prints the figures).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

from synthetic import HEALTHY, PROBLEMS, Run, replay  # this folder is on sys.path (pytest, the benchmark)

from livepanel.diagnosis import Diagnoser

# Targets of issue 7, as a fraction of the run's length after the onset.
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


def score(runs: list[Run], chunk: int, catch_up: bool = False) -> Score:
    """Replay every run (a fresh Diagnoser each) in chunks of `chunk` steps per series (`catch_up`: as
    the diagnosis worker feeds a backlog, see Diagnoser.observe)."""
    sc = Score(chunk)
    for run in runs:
        d = Diagnoser()
        observe = functools.partial(d.observe, catch_up=True) if catch_up else d.observe
        found = replay(observe, "run", run, chunk, d.settle)
        if run.label == HEALTHY:
            sc.healthy_runs += 1
            sc.false_alarms += [f"{run.name}: {a.kind} at {a.detected:g}" for a, _ in found]
            continue
        k = run.label
        sc.total[k] = sc.total.get(k, 0) + 1
        hits = [(a, x) for a, x in found if a.kind == k]
        sc.other += [f"{run.name}: {a.kind}" for a, _ in found if a.kind != k]
        if hits:
            a, x = hits[0]
            sc.caught[k] = sc.caught.get(k, 0) + 1
            sc.delays.setdefault(k, []).append((a.detected - run.onset) / run.length)
            sc.arrival.setdefault(k, []).append((x - run.onset) / run.length)
            sc.from_start.setdefault(k, []).append((a.detected - float(run.traces[0].x[0])) / run.length)
    return sc


def worst(values: list[float]) -> float:
    return max(values) if values else math.nan
