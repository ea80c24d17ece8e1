"""Recorded real PyTorch trainings on sklearn's digits (tests/diagnosis/real_runs.npz), as labelled runs.

35 runs: 14 healthy, 3 per problem kind, each 800 to 3,000 steps, the problems caused for real.
What each run does, and how its label and onset are defined, is in record_real_runs.py, which
made the file (run by hand; the tests never train). Same `Run`/`Trace` as synthetic.py, so
`replay` and evaluate.score take them as they are.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
from synthetic import Run, Trace  # this folder is on sys.path (pytest, the benchmark)

DATA = Path(__file__).with_name("real_runs.npz")


@functools.cache
def _load() -> tuple[Run, ...]:
    runs = []
    with np.load(DATA) as z:
        for i, m in enumerate(json.loads(str(z["meta"]))):
            traces = [
                Trace(win, trace, z[f"{i}.{j}.x"].astype(np.float64), z[f"{i}.{j}.y"].astype(np.float64))
                for j, (win, trace) in enumerate(m["traces"])
            ]
            assert traces[0].x[0] == min(t.x[0] for t in traces)  # replay cuts from the first trace's start
            runs.append(Run(m["name"], m["label"], float(m["onset"]), int(m["length"]), traces))
    return tuple(runs)


def real_runs() -> list[Run]:
    """The recorded runs (fresh copies of the traces' list; the arrays are shared, do not edit them)."""
    return [Run(r.name, r.label, r.onset, r.length, list(r.traces)) for r in _load()]
