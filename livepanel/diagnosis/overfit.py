"""Overfitting: validation loss rising for a sustained stretch while training loss keeps falling (or stays low).

Runs when a validation point closes a block (validation is logged rarely, so this is cheap);
it reads the training series of the same env at block resolution.
"""

from __future__ import annotations

import math

from livepanel.diagnosis.series import Series

Finding = tuple[float, str] | None

RISE = 0.05  # validation level this fraction above its lowest...
RISE_NOISE = 5.0  # ...and this many standard errors of a level above it
TRAIN_RISE = 0.01  # training level over the same stretch rose at most this fraction (falling or flat at its low)
MIN_VAL_POINTS = 8


def overfitting(val: Series, train: Series | None, acc: Series | None) -> Finding:
    """Compare the validation level now with its lowest point, and training loss over that stretch."""
    if train is None:
        return None
    t = val.track
    m = val.level_points()
    if t.n < MIN_VAL_POINTS or not math.isfinite(val.best):
        return None
    cur, c1, i1 = t.level(m)
    prev, c2, _ = t.level(m, i1)
    if c1 < m or c2 < m:
        return None
    best, bx = val.best, val.best_x
    sd = t.noise(max(0, t.nblocks() - 16))
    thr = max(RISE * abs(best), RISE_NOISE * sd / math.sqrt(m)) if math.isfinite(sd) else RISE * abs(best)
    if not (cur - best > thr and prev - best > 0.6 * thr):
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
        f"while {train.name} {'kept falling' if now_lvl < then_lvl else 'stayed low'} ({then_lvl:.3g} to {now_lvl:.3g}){extra}"
    )
