"""Family A drawn again from other seeds: the same generator, other noise. Tuning on seed 0 must hold
on these draws too, or the detectors fit one draw of the tuning set rather than its kinds of runs.

`python benchmarks/bench_diagnosis.py --seeds 9` prints the figures over seeds 1-9."""

from __future__ import annotations

import pytest
from evaluate import Score, failures, family, score

SEEDS = (1, 2, 3)

# Known short of the targets (strict: a fix shows as a failure to remove the mark).
KNOWN = {
    1: "healthy-slow-noisy called not_learning: a slow learner's 2.3-standard-error low draw at 192 points",
}
OVERFITTING = "caught up to 13.3% of the run after onset on some draws (1-2 validation points late), and a "
OVERFITTING += "healthy validation loss drifting 5-9% up in 5% noise called overfitting on some draws"


@pytest.fixture(scope="module")
def draws() -> dict[int, Score]:
    return {}


def _score(draws: dict[int, Score], seed: int) -> Score:
    if seed not in draws:
        draws[seed] = score(family("A", seed=seed), chunk=10)
    return draws[seed]


@pytest.mark.parametrize(
    "seed",
    [pytest.param(s, marks=pytest.mark.xfail(strict=True, reason=KNOWN[s])) if s in KNOWN else s for s in SEEDS],
)
def test_every_kind_but_overfitting_meets_the_targets(draws: dict[int, Score], seed: int) -> None:
    missed = [f for f in failures(_score(draws, seed)) if "overfitting" not in f]
    assert missed == []


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.xfail(strict=True, reason=OVERFITTING)
def test_overfitting_meets_the_targets(draws: dict[int, Score], seed: int) -> None:
    assert [f for f in failures(_score(draws, seed)) if "overfitting" in f] == []
