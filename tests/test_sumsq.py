"""sum_of_squares: the same sum as numpy's dot, chunked past CHUNK values, NaN/Inf kept."""

from __future__ import annotations

import math

import numpy as np
import pytest

from livepanel.sumsq import CHUNK, sum_of_squares


@pytest.mark.parametrize("n", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17, 1_000_003])
@pytest.mark.parametrize("dtype", ["f4", "f8"])
def test_same_sum_as_dot(n: int, dtype: str) -> None:
    v = np.random.default_rng(n).normal(size=n).astype(dtype)
    assert sum_of_squares(v) == pytest.approx(float(np.dot(v.astype("f8"), v.astype("f8"))), rel=1e-5, abs=1e-12)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_value_that_is_not_finite_makes_it_not_finite(bad: float) -> None:
    v = np.ones(2 * CHUNK + 5)
    v[CHUNK + 3] = bad
    assert not math.isfinite(sum_of_squares(v))
