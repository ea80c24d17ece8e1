"""Same data, same verdict: the alerts do not depend on how the points were cut into calls, on the order of
the series within an env, or on catch-up (issue 18, item 3).

Each run is streamed in several ways, one batch (then Diagnoser.settle()) per round of calls, and every way
must raise the same alerts: kind, series, key, onset and the x that made the alert certain. Family A and the
real runs are streamed in every way; family B's 71 runs (up to 100,000 steps) in 3 ways each besides the
chunk of 10, rotating so that every way meets every kind on at least two runs.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import pytest
from synthetic import Run, labelled_runs  # this folder is on sys.path (pytest)

from livepanel.diagnosis import Diagnoser

Verdict = tuple[str, str, str, str, float, float]


def stream(run: Run, chunk: int, order: str = "as logged", catch_up: bool = False, seed: int = 0) -> list[Verdict]:
    """Feed every series of a run, `chunk` steps of each per call (0: the whole series in one call), in
    rounds of one call per series, settling after each round; `order` within a round: "as logged",
    "reversed", "lr first", "lr last", "shuffled" (a new order each round). The verdicts, sorted."""
    d = Diagnoser()
    observe: Callable = functools.partial(d.observe, catch_up=True) if catch_up else d.observe
    traces = list(run.traces)
    lr = [t for t in traces if d.role("probe", t.win, t.trace) is None and _is_lr(t)]
    rest = [t for t in traces if t not in lr]
    if order == "reversed":
        traces = traces[::-1]
    elif order == "lr first":
        traces = lr + rest
    elif order == "lr last":
        traces = rest + lr
    rng = np.random.default_rng(seed)
    x0 = min(float(t.x[0]) for t in traces if len(t.x))
    x1 = max(float(t.x[-1]) for t in traces if len(t.x)) + 1
    step = chunk or (x1 - x0)
    edges = np.arange(x0, x1 + step, step)
    cuts = [np.searchsorted(t.x, edges) for t in traces]
    out = []
    for k in range(len(edges) - 1):  # bounded by the run's length / chunk
        idx = list(range(len(traces)))
        if order == "shuffled":
            rng.shuffle(idx)
        for i in idx:
            t, cut = traces[i], cuts[i]
            a, b = cut[k], cut[k + 1]
            if b > a:
                out += observe("run", t.win, t.trace, t.x[a:b], t.y[a:b], t.opts)
        out += d.settle()
    out += d.settle()
    out += d.settle()
    return sorted((a.kind, a.win, a.trace, a.key, a.step, a.detected) for a in out)


def _is_lr(t) -> bool:
    from livepanel.diagnosis import resolve_role

    return resolve_role(t.win, t.trace, t.opts) == "lr"


A = labelled_runs(seed=0)
WAYS = [
    (1, "as logged", False),
    (3, "reversed", False),
    (10, "lr last", False),
    (10, "lr first", True),
    (100, "shuffled", False),
    (1000, "lr last", True),
    (0, "as logged", False),
    (0, "reversed", True),
]


def _check(run: Run, ways: list[tuple[int, str, bool]]) -> None:
    ref = stream(run, 10)
    for chunk, order, catch_up in ways:
        got = stream(run, chunk, order, catch_up)
        assert got == ref, (run.name, chunk, order, catch_up, got, ref)


def _short(run: Run) -> bool:
    return run.length <= 5000


@pytest.mark.parametrize("run", [r for r in A if _short(r)], ids=lambda r: r.name)
def test_family_a_same_alerts_whatever_the_batching_and_order(run: Run) -> None:
    ways = WAYS if (run.name.endswith("-1") or run.label != "healthy") else [w for w in WAYS if w[0] != 1]
    _check(run, ways)


def test_family_a_long_runs() -> None:
    for run in [r for r in A if not _short(r)]:
        _check(run, [w for w in WAYS if w[0] >= 100 or w[0] == 0])


OTHER_WAYS = [w for w in WAYS if w[0] != 1]
PER_RUN = 3  # family B: ways per run besides the chunk of 10 (all 7 on each of its 71 runs took 36 s)


def _rotated(runs: list[Run]) -> list[tuple[Run, list[tuple[int, str, bool]]]]:
    """Each run with PER_RUN of OTHER_WAYS, rotating over the runs of each label, so that every way
    meets every kind (and the healthy runs) on at least two runs of different lengths."""
    seen: dict[str, int] = {}
    out = []
    for run in runs:
        i = seen[run.label] = seen.get(run.label, -1) + 1
        out.append((run, [OTHER_WAYS[(PER_RUN * i + j) % len(OTHER_WAYS)] for j in range(PER_RUN)]))
    return out


def test_family_b_same_alerts() -> None:
    from family_b import family_b

    plan = _rotated(family_b(seed=0))
    lengths: dict[tuple[str, tuple[int, str, bool]], set[int]] = {}  # (label, way) -> lengths of its runs
    for run, ways in plan:
        for w in ways:
            lengths.setdefault((run.label, w), set()).add(run.length)
    labels = {run.label for run, _ in plan}
    assert len(labels) == 8 and all(len(lengths.get((k, w), ())) >= 2 for k in labels for w in OTHER_WAYS), lengths
    for run, ways in plan:
        _check(run, ways)


def test_real_runs_same_alerts() -> None:
    from real_runs import real_runs

    for run in real_runs():
        _check(run, OTHER_WAYS)


def test_settle_makes_a_verdict_waiting_for_a_learning_rate_that_never_came() -> None:
    """A flat loss in an env without a learning rate: the verdict waits a batch (one may come), then is made."""
    d = Diagnoser()
    x = np.arange(400, dtype=np.float64)
    y = 2.3 * np.exp(0.01 * np.random.default_rng(0).standard_normal(400))
    assert d.observe("e", "loss", "", x, y, {}) == []
    assert d.settle() == []
    (a,) = d.settle()
    assert a.kind == "not_learning" and a.detected == 159.0 and not math.isnan(a.step)
