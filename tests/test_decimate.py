"""Decimation keeps spikes, gaps and the ends, and stays within its point budget."""

from __future__ import annotations

import numpy as np

from livepanel.server.decimate import decimate


def test_short_series_is_kept_whole():
    assert decimate(np.arange(10.0), np.arange(10.0), 5).tolist() == list(range(10))


def test_spikes_gaps_and_ends_survive():
    n = 1_000_003
    y = np.random.default_rng(0).normal(size=n)
    y[123_457], y[654_321], y[500_000] = 40.0, -40.0, np.nan
    keep = decimate(np.arange(n, dtype="f8"), y, 1000)
    assert len(keep) <= 3 * 1000 + 4 and np.all(np.diff(keep) > 0)
    assert {0, n - 1, 123_457, 654_321, 500_000} <= set(keep.tolist())


def test_every_column_keeps_its_extremes():
    y = np.random.default_rng(1).normal(size=10_000)
    keep = decimate(np.arange(10_000.0), y, 100)
    for col in range(100):
        part = y[col * 100 : (col + 1) * 100]
        kept = y[keep[(keep >= col * 100) & (keep < (col + 1) * 100)]]
        assert kept.min() == part.min() and kept.max() == part.max()
