"""not_learning on its own: a loss that drifts down slowly but steadily is learning; a flat one is not."""

from __future__ import annotations

import numpy as np
import pytest

from livepanel.diagnosis import Diagnoser


def _kinds(y: np.ndarray, chunk: int) -> list[tuple[str, float]]:
    d = Diagnoser()
    x = np.arange(len(y), dtype=np.float64)
    out = []
    for i in range(0, len(y), chunk):
        out += d.observe("e", "loss", "train", x[i : i + chunk], y[i : i + chunk], {})
        out += d.settle()  # one call per batch: without a learning rate, the verdict waits a batch for one
    return [(a.kind, a.detected) for a in out]


def _noisy(clean: np.ndarray, rel: float, seed: int) -> np.ndarray:
    return clean * np.exp(rel * np.random.default_rng(seed).standard_normal(len(clean)))


@pytest.mark.parametrize("chunk", [1, 10])
@pytest.mark.parametrize(
    ("fall_per_150", "noise"),
    [(0.015, 0.004), (0.04, 0.02), (0.04, 0.05)],  # the first: plain SGD at lr 0.01 on sklearn digits
)
def test_slow_steady_fall_without_lr_is_learning(chunk: int, fall_per_150: float, noise: float) -> None:
    x = np.arange(1500, dtype=np.float64)
    clean = 2.3 * (1 - fall_per_150) ** (x / 150)
    for seed in range(3):
        assert _kinds(_noisy(clean, noise, seed), chunk) == []


@pytest.mark.parametrize(("noise", "within"), [(0.004, 170), (0.02, 170), (0.05, 220), (0.15, 600)])
def test_flat_loss_is_not_learning_soon(noise: float, within: int) -> None:
    """Flat, or flat after an early dip of 2%: caught, later when noisier (it must be told from a slow learner).

    A quiet one at its first judgement: once 150 points are closed, at the next multiple of 16 (160),
    whatever the calls (the alert itself comes a batch later, as the env logs no learning rate)."""
    x = np.arange(2000, dtype=np.float64)
    for seed in range(3):
        for clean in (np.full(2000, 2.3), 2.3 * (1 - 0.02 * (1 - np.exp(-x / 20)))):
            found = _kinds(_noisy(clean, noise, seed), 10)
            assert [k for k, _ in found] == ["not_learning"], (noise, seed, found)
            assert found[0][1] <= within, (noise, seed, found)


@pytest.mark.parametrize("noise", [0.05, 0.15])
def test_flat_loss_under_a_zero_learning_rate_is_not_learning_at_once(noise: float) -> None:
    """A learning rate logged as exactly 0: nothing can be learnt, so no waiting to tell a slow learner."""
    n = 2000
    x = np.arange(n, dtype=np.float64)
    for seed in range(3):
        y = _noisy(np.full(n, 2.3), noise, seed)
        d = Diagnoser()
        out = []
        for i in range(0, n, 10):
            out += d.observe("e", "lr", "", x[i : i + 10], np.zeros(10), {})
            out += d.observe("e", "loss", "train", x[i : i + 10], y[i : i + 10], {})
        found = [(a.kind, a.detected) for a in out + d.settle()]
        assert [k for k, _ in found] == ["not_learning"], (noise, seed, found)
        assert found[0][1] <= 200, (noise, seed, found)
