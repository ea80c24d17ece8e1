"""Single-series loss detectors: divergence, not learning, learning rate too high.

Each looks at the block summary only (a bounded number of blocks), so a check costs the
same at step 100 and at step 10 million. Each returns (onset x, message) or None.
"""

from __future__ import annotations

import math

from livepanel.diagnosis.series import LEVEL_POINTS, Series

Finding = tuple[float, str] | None

DIVERGE_DROP = 0.25  # the loss must first have fallen this fraction of its start...
DIVERGE_BACK = 0.5  # ...then climbed back this fraction of what it had gained
NOT_LEARNING_POINTS = 150  # points before "flat" can be told from "slow start"
NOT_LEARNING_DROP = 0.05  # fell less than this fraction of its start
LR_MIN_POINTS = 100
LR_SPREAD = 0.3  # standard deviation / level of both halves of the window


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def divergence(s: Series) -> Finding:
    """Loss climbing fast back towards (or past) where it started, after it had come down."""
    t = s.track
    m = LEVEL_POINTS
    if t.n < 3 * m or not math.isfinite(s.best):
        return None
    start, best = t.start(), s.best
    gained = start - best
    if not gained > DIVERGE_DROP * abs(start):
        return None
    cur, c1, i1 = t.level(m)
    prev, c2, i2 = t.level(m, i1)
    if c1 < m or c2 < m:
        return None
    if not (cur > best + DIVERGE_BACK * gained and prev > best + 0.25 * gained and cur > prev):
        return None
    # Noise-aware: the lowest level of a noisy series is biased low, so the climb must also stand
    # out from the point-to-point noise measured before the climb.
    sd = t.noise(max(0, i2 - 16), i2) if i2 > 0 else t.noise(0)
    if math.isfinite(sd):
        lvl_sd = sd / math.sqrt(m)
        if gained < 3 * lvl_sd or cur - best < 6 * lvl_sd or prev - best < 3 * lvl_sd:
            return None
    onset = s.best_x
    for i in range(i2 - 1, -1, -1):  # last block still near the best level: the rise starts after it
        c = t.cnt[i]
        if c and t.sum[i] / c <= best + 0.1 * gained:
            onset = t.x1[i]
            break
    return onset, (
        f"{s.name} is diverging: it fell from {_fmt(start)} to {_fmt(best)}, "
        f"then climbed to {_fmt(cur)} since step {onset:g}"
    )


def not_learning(s: Series, warmup_end: float = math.nan) -> Finding:
    """Loss still flat near its starting value after the first NOT_LEARNING_POINTS points.

    `warmup_end` is the x where the env's learning rate stopped rising (when it logs one):
    a loss may stay flat while the learning rate is small, so the points are counted from
    a quarter of the way into the warm-up.
    """
    t = s.track
    n = t.n
    if not math.isnan(warmup_end) and t.nblocks():
        x_first, x_last = t.x0[0], t.x1[-1]
        after = (x_last - (3 * x_first + warmup_end) / 4) / max(x_last - x_first, 1e-300) * n
        if after < NOT_LEARNING_POINTS:
            return None
    if n < NOT_LEARNING_POINTS or n > 64 * NOT_LEARNING_POINTS or t.nblocks() < 8:
        return None
    x_first, x_last = t.x0[0], t.x1[-1]
    spacing = (x_last - x_first) / max(n - 1, 1)
    if x_first > 5 * spacing + 1:  # the series starts mid-run (resumed): its flat start says nothing
        return None
    start = t.start()
    if not math.isfinite(start) or start == 0:
        return None
    cur, c, i = t.level(max(n // 4, LEVEL_POINTS))
    mid, c2, _ = t.level(max(n // 4, LEVEL_POINTS), i)
    if not c or not c2:
        return None
    scale = abs(start)
    mu, sd, _ = t.spread(i)
    if sd > LR_SPREAD * scale:  # too noisy to call flat; lr_too_high looks at that
        return None
    flat = abs(start - cur) < NOT_LEARNING_DROP * scale and abs(mid - cur) < 0.02 * scale
    if flat:
        return x_first, (
            f"{s.name} is not learning: after {n} points it is still at {_fmt(cur)}, where it started ({_fmt(start)})"
        )
    return None


def lr_too_high(s: Series) -> Finding:
    """Loss bouncing with a large amplitude around a level that does not go down."""
    t = s.track
    n = t.n
    if n < LR_MIN_POINTS or t.nblocks() < 8:
        return None
    start = t.start()
    if not math.isfinite(start) or start <= 0:
        return None
    half = max(LR_MIN_POINTS, n // 8) // 2
    _, c1, i1 = t.level(half)
    _, c2, i2 = t.level(half, i1)
    if c1 < half // 2 or c2 < half // 2:
        return None
    mu1, sd1, _ = t.spread(i1)
    mu2, sd2, _ = t.spread(i2, i1)
    if not (mu1 > 0 and mu2 > 0):
        return None
    if sd1 < LR_SPREAD * mu1 or sd2 < LR_SPREAD * mu2:
        return None
    if mu1 < 0.92 * mu2 or mu1 < 0.6 * start:  # still coming down, or already far below the start
        return None
    if mu1 > 2 * mu2:  # climbing fast: that is divergence
        return None
    onset = t.x0[i2]
    return onset, (
        f"{s.name} swings widely (about ±{100 * sd1 / mu1:.0f}%) around {_fmt(mu1)} "
        f"without coming down: the learning rate looks too high"
    )
