"""Overfitting: validation loss rising for a sustained stretch while training loss keeps falling (or stays low).

Runs when a validation point closes a block (validation is logged rarely, so this is cheap);
it reads the training series of the same env at block resolution.
"""

from __future__ import annotations

import math

from livepanel.diagnosis.series import Series
from livepanel.diagnosis.track import Track

Finding = tuple[float, str] | None

RISE = 0.03  # validation level this fraction above its lowest...
RISE_NOISE = 7.0  # ...and this many standard errors of a level above it (the lowest level is biased low)
TRAIN_RISE = 0.01  # training level over the same stretch rose at most this fraction (falling or flat at its low)
MIN_VAL_POINTS = 8


def _lowest(t: Track, m: int) -> tuple[float, float]:
    """Lowest level of m points over the whole history, and where it ends.

    Recomputed from the blocks (at most CAPACITY) on each validation block: a running
    minimum kept while m was smaller would be a noisier, lower, biased value.
    """
    k = max(1, -(-m // t.bsize))  # blocks per window
    best, bx = math.inf, math.nan
    cs, cc = 0.0, 0
    cnt, sm = t.cnt, t.sum
    for i in range(t.nblocks()):  # bounded by CAPACITY
        cs += sm[i]
        cc += cnt[i]
        if i >= k:
            cs -= sm[i - k]
            cc -= cnt[i - k]
        if i >= k - 1 and cc and cs / cc < best:
            best, bx = cs / cc, t.x1[i]
    return best, bx


def overfitting(val: Series, train: Series | None, acc: Series | None) -> Finding:
    """Compare the validation level now with its lowest point, and training loss over that stretch."""
    if train is None:
        return None
    t = val.track
    m = val.level_points()
    if t.n < MIN_VAL_POINTS:
        return None
    cur, c1, _ = t.level(m)
    if c1 < m:
        return None
    last = t.sum[-1] / t.cnt[-1] if t.cnt[-1] else math.nan
    best, bx = _lowest(t, m)
    if not math.isfinite(best):
        return None
    # Noise measured near the lowest point only: the steep early descent would inflate it.
    ib = t.nblocks() - 1
    while ib > 0 and t.x1[ib - 1] >= bx:  # bounded by CAPACITY
        ib -= 1
    sd = t.noise(ib) if sum(t.nd[ib:]) >= 4 else t.noise(max(0, t.nblocks() - 16))
    thr = max(RISE * abs(best), RISE_NOISE * sd / math.sqrt(m)) if math.isfinite(sd) else RISE * abs(best)
    if not (cur - best > thr and last - best > 0.5 * thr):  # a level, and its newest block too: not one spike
        return None
    now = t.last_x()
    if not now > bx:
        return None
    span = max((now - bx) / 4, 0.0)
    tr = train.track
    then_lvl, ca = tr.mean_between(bx - span, bx + span)
    now_lvl, cb = tr.mean_between(now - span, now)
    if not ca or not cb or not now_lvl - then_lvl < TRAIN_RISE * abs(then_lvl):
        return None
    extra = ""
    if acc is not None and acc.track.nblocks():
        a_then, c3 = acc.track.mean_between(bx - span, bx + span)
        a_now, c4 = acc.track.mean_between(now - span, now)
        if c3 and c4:
            scale = max(abs(a_then), 1e-12)
            if a_now - a_then > 0.01 * scale:
                return None  # accuracy still improving: a calibration drift, not overfitting yet
            if a_then - a_now > 0.005 * scale:
                extra = f", and {acc.name} fell from {a_then:.3g} to {a_now:.3g}"
    return bx, (
        f"overfitting: {val.name} rose from {best:.3g} to {cur:.3g} since step {bx:g} "
        f"while {train.name} {'kept falling' if now_lvl < then_lvl else 'stayed low'} "
        f"({then_lvl:.3g} to {now_lvl:.3g}){extra}"
    )
