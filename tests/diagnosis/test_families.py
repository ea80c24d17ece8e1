"""The targets of issue 18, asserted on the families the detectors are not tuned on: family B
(family_b.py, synthetic, designed apart from family A) and the recorded real runs (real_runs.py).

Fed as test_labelled.py feeds family A (chunks of 10 steps, one run at a time), and as a busy
server would: several runs at once as envs of one Diagnoser, in chunks of random sizes, the
series of a batch in a shuffled order (evaluate.stream)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from evaluate import Score, disagreements, failures, family, score, score_streamed
from family_b import family_b
from synthetic import HEALTHY, PROBLEMS

REPORTED = ("B", "real")
RUNS = {name: family(name) for name in REPORTED}

# Targets not met yet (issue 18 item 2 is open): strict, so that a fix shows as a failure to remove the mark.
NOT_YET = {
    ("B", "overfitting"): "5 of 5 caught, but the worst 38% and the median 16% of the run after onset",
}
CAUGHT_CASES = [
    pytest.param(fam, kind, marks=pytest.mark.xfail(strict=True, reason=NOT_YET[fam, kind]))
    if (fam, kind) in NOT_YET
    else (fam, kind)
    for fam in REPORTED
    for kind in PROBLEMS
]
STREAMED_CASES = [
    pytest.param(fam, marks=pytest.mark.xfail(strict=True, reason="the misses above, fed as a busy server would"))
    if any(f == fam for f, _ in NOT_YET)
    else fam
    for fam in REPORTED
]


@pytest.fixture(scope="module")
def by10() -> dict[str, Score]:
    return {name: score(RUNS[name], chunk=10) for name in REPORTED}


@pytest.fixture(scope="module")
def streamed() -> dict[str, Score]:
    return {name: score_streamed(RUNS[name], seed=1, together=4) for name in REPORTED}


def test_family_b_has_every_kind_lengths_and_healthy_runs() -> None:
    runs = RUNS["B"]
    assert {r.label for r in runs} == {HEALTHY, *PROBLEMS}
    assert sum(r.label == HEALTHY for r in runs) >= 30
    assert all(sum(r.label == k for r in runs) >= 5 for k in PROBLEMS)
    assert min(r.length for r in runs) <= 300 and max(r.length for r in runs) >= 100_000
    for r in runs:
        x0 = min(float(t.x[0]) for t in r.traces)
        assert r.traces[0].x[0] == x0, r.name  # replay cuts from the first trace's start
        assert r.label == HEALTHY or x0 <= r.onset < x0 + r.length, r.name


def test_family_b_is_the_same_from_the_same_seed() -> None:
    again = family_b(seed=0)
    for a, b in zip(RUNS["B"], again, strict=True):
        assert (a.name, a.onset) == (b.name, b.onset) or (math.isnan(a.onset) and math.isnan(b.onset))
        for ta, tb in zip(a.traces, b.traces, strict=True):
            assert np.array_equal(ta.y, tb.y, equal_nan=True), (a.name, ta.win, ta.trace)


def test_real_runs_are_14_healthy_and_3_per_kind() -> None:
    runs = RUNS["real"]
    assert sum(r.label == HEALTHY for r in runs) == 14
    assert all(sum(r.label == k for r in runs) == 3 for k in PROBLEMS)
    for r in runs:
        assert r.label == HEALTHY or 0 <= r.onset < r.length, r.name


@pytest.mark.parametrize("fam", REPORTED)
def test_no_false_alarm_on_healthy_runs(by10: dict[str, Score], fam: str) -> None:
    assert by10[fam].false_alarms == []


@pytest.mark.parametrize("fam,kind", CAUGHT_CASES)
def test_every_problem_is_caught_in_time(by10: dict[str, Score], fam: str, kind: str) -> None:
    sc = by10[fam]
    assert sc.missed.get(kind, []) == [], f"{fam} {kind}: missed"
    late = [f for f in failures(sc) if f.startswith(f"{kind}: ")]
    assert late == [], late


@pytest.mark.parametrize("fam", STREAMED_CASES)
def test_streamed_with_other_envs_in_random_chunks_meets_the_targets(streamed: dict[str, Score], fam: str) -> None:
    assert failures(streamed[fam]) == []


@pytest.mark.parametrize("fam", REPORTED)
def test_verdicts_do_not_depend_on_the_streaming(by10: dict[str, Score], streamed: dict[str, Score], fam: str) -> None:
    assert disagreements(by10[fam], streamed[fam]) == []
