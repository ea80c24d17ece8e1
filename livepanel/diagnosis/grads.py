"""Gradient-norm detectors: exploding (one series) and vanishing (layers of one env compared).

Gradient norms are tracked as log10, so "orders of magnitude" are plain differences and a
single spike moves a level average only a little.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from livepanel.diagnosis.series import EXPLODE_DECADES, LEVEL_POINTS, VANISH_DECADES, Series

Finding = tuple[float, str] | None

EXPLODE_PREV = 0.75  # exploding: the level before the current one already this many decades up (growing, not a spike)
VANISH_GAP = 1.5  # ...and at least this many more than some other layer of the env


def exploding(s: Series) -> Finding:
    """Gradient norm grown by orders of magnitude above its lowest level, and still growing."""
    t = s.track
    m = LEVEL_POINTS
    if t.n < 2 * m or not math.isfinite(s.best):
        return None
    cur, c1, i1 = t.level(m)
    prev, c2, i2 = t.level(m, i1)
    if c1 < m or c2 < m or cur < prev:
        return None
    base = min(s.best, t.start())
    if cur - base < EXPLODE_DECADES or prev - base < EXPLODE_PREV:
        return None
    onset = s.best_x
    for i in range(i2 - 1, -1, -1):  # last block near the base level: growth starts after it
        c = t.cnt[i]
        if c and t.sum[i] / c <= base + 0.5:
            onset = t.x1[i]
            break
    return onset, (
        f"gradient norm {s.name} grew {cur - base:.1f} orders of magnitude "
        f"(from about {10**base:.3g} to {10**cur:.3g}) since step {onset:g}"
    )


def update_drop(s: Series) -> bool:
    """Refresh how far this layer fell from its start (decades); True when both windows say it collapsed."""
    t = s.track
    m = LEVEL_POINTS
    cur, c1, i1 = t.level(m)
    if c1 < m or t.n < 2 * m:
        return False
    start = t.start()
    s.drop = start - cur
    if s.drop < VANISH_DECADES:
        return False
    prev, c2, _ = t.level(m, i1)
    return c2 >= m and start - prev >= 0.75 * VANISH_DECADES


def vanishing(s: Series, others: Iterable[Series]) -> Finding:
    """This layer collapsed (see update_drop) while another layer of the same env did not."""
    steady = None
    for o in others:  # bounded by the gradient series of one env
        if o is not s and o.track.n >= 2 * LEVEL_POINTS and o.drop <= s.drop - VANISH_GAP:
            if steady is None or o.drop < steady.drop:
                steady = o
    if steady is None:
        return None
    t = s.track
    start = t.start()
    onset = t.x0[0]
    for i in range(t.nblocks() - 1, -1, -1):  # last block still near the start level
        c = t.cnt[i]
        if c and t.sum[i] / c >= start - 0.5:
            onset = t.x1[i]
            break
    return onset, (
        f"gradients are vanishing in {s.name}: its norm fell {s.drop:.1f} orders of magnitude "
        f"while {steady.name} changed {-steady.drop:+.1f}"
    )
