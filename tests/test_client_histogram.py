"""The sender bins histograms by sorting (which frees the GIL); the counts and edges are np.histogram's."""

from __future__ import annotations

import numpy as np
import pytest

from livepanel.client import convert


@pytest.mark.parametrize("seed", range(4))
def test_counts_and_edges_equal_numpy(seed):
    rng = np.random.default_rng(seed)
    for trial in range(150):
        v = rng.normal(size=rng.integers(1, 3000)) * rng.uniform(1e-6, 1e6)
        if trial % 2:
            v = v.astype(np.float32)
        if trial % 7 == 0:
            v = np.round(v)
        if trial % 11 == 0:
            v[:] = 3.0
        if trial % 13 == 0:
            v[::5] = np.nan
        if trial % 17 == 0:
            v[1::7] = [np.inf, -np.inf][trial % 2]
        finite = v[np.isfinite(v)]
        bins = int(rng.integers(1, 100))
        value_range = None if trial % 3 else (float(np.quantile(finite, 0.1)), float(np.quantile(finite, 0.9)) + 1)
        if trial % 5 == 0 and trial % 3:
            bins = np.unique(rng.choice(finite, size=min(len(finite), 10), replace=False).astype(np.float64))
            if len(bins) < 2:
                bins = np.array([finite.min() - 1, finite.max() + 1])
        got = convert.bin_histogram(v, bins, value_range)
        counts, edges = np.histogram(finite, bins=bins, range=value_range)
        assert np.array_equal(got["counts"], counts) and np.array_equal(got["edges"], edges.astype(np.float64))
        assert got["stats"]["n"] == len(finite) and got["stats"]["nan"] == len(v) - len(finite)
        assert got["stats"]["min"] == float(finite.min()) and got["stats"]["max"] == float(finite.max())
        mean, std = finite.mean(dtype=np.float64), finite.std(dtype=np.float64)
        scale = float(abs(finite).max())
        assert got["stats"]["mean"] == pytest.approx(float(mean), rel=1e-9, abs=1e-12 * scale)
        assert got["stats"]["std"] == pytest.approx(float(std), rel=1e-9, abs=1e-12 * scale)


def test_buffer_pool_reuses_and_copies():
    from livepanel.client.buffers import BufferPool

    pool = BufferPool()
    a = np.random.default_rng(0).normal(size=100_000)
    b = pool.copy(a)
    assert np.array_equal(a, b) and not np.shares_memory(a, b)
    pool.give(b)
    c = pool.copy(a[::-1])
    assert c.base is b.base and np.array_equal(c, a[::-1])
    pool.give(np.arange(3))  # not from the pool: ignored


def test_histogram_logs_the_values_at_the_call(server, tmp_path):
    from livepanel import Panel

    values = np.random.default_rng(1).normal(size=100_000)
    with Panel(server.url, env="h", spool_dir=str(tmp_path / "spool")) as panel:
        for step in range(5):
            panel.histogram(values, win="h", step=step)
            expected = np.histogram(values, bins=30)[0]
            values += 10.0  # changed in place after the call
            if step == 0:
                first = expected
        steps = panel.get("h")["steps"]
    assert [s["step"] for s in steps] == list(range(5))
    assert np.array_equal(steps[0]["counts"], first)
    assert steps[4]["stats"]["min"] > steps[0]["stats"]["min"] + 39
