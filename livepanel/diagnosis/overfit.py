"""Overfitting: validation loss rising for a sustained stretch while training loss keeps falling (or stays low).

Runs when a validation point closes a block (validation is logged rarely, so this is cheap); it reads the
training series of the same env at block resolution. Everything is counted in validation points (blocks),
not steps, and measured against the validation set's own noise (from the third differences of its points,
see _noise): the level of the last WINDOW points must stand RISE above the lowest level and RISE_NOISE
standard deviations above it (or climb as a very clear line since the lowest point), the points since the
lowest one must climb (t statistic of their slope), and the onset is the lowest point. Levels are means of
two points: the thresholds are in units of the noise of such a mean, and three-point levels made the case
wait one validation point longer than the evidence needs (4 points past the low instead of 3). A validation
loss that turns up right where its fall ends has no points near its low to measure its noise on yet; a very
clear line (TREND_STRONG) standing RISE_NOISE times the scatter about it above the low is then enough. When
the training loss fell a lot over the same stretch (the two curves part ways: the very sign of overfitting),
a 0.4 of that rise in noise units is enough, if the points since the lowest one climb as a clear line. Those
two lines, read off the few points since the low, count only if the slope also turns there, measured on the
points on both sides (_turn).
A memorising model (the training loss halved over the stretch) whose validation loss climbs as a line and
gave back 1% of all it had gained (its first points down to its lowest) needs no more: a rise measured
against the whole descent does not depend on the loss's floor, and a healthy run's drift after a long
descent is a small part of it. That case weighs the rise against the scatter of the points about their line
since the lowest one, and asks that line to be clear (GIVE_BACK_T): a noisy validation loss that drifts a
few % up and then levels off climbs at t 3-3.5 since its lowest point.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from livepanel.diagnosis.alert import fmt, fmt_step, pct
from livepanel.diagnosis.series import Series
from livepanel.diagnosis.track import Track

Finding = tuple[float, str, str] | None  # (onset x, message, evidence)

RISE = 0.04  # validation level this fraction above its lowest...
RISE_NOISE = 7.0  # ...and this many standard deviations of (level now - lowest level) above it
WINDOW = 2  # validation points in the current level
BEST_WINDOW = 2  # validation points in the lowest level (the lowest of many levels is biased low: RISE_NOISE)
TREND_T = 3.0  # t statistic of the slope of the validation points since the lowest one...
TREND_STRONG = 6.0  # ...or this much when the level alone does not stand out from the noise
TREND_LEVEL = 0.6  # ...with the level at least this fraction of the way to the noise threshold
TREND_MIN_POINTS = 16  # validation points seen before a clear line alone is trusted
TRAIN_RISE = 0.01  # training level over the same stretch rose at most this fraction (falling or flat at its low)
TRAIN_RISE_NOISE = 3.0  # ...or this many standard errors of the difference of the two training levels
TRAIN_FALL = 0.12  # the training loss fell this fraction over the stretch: the curves part ways...
FALL_LEVEL = 0.4  # ...and then a rise of this fraction of the noise threshold is enough...
PARTING_T = 5.0  # ...if the points since the lowest one climb as a clear line (t statistic of their slope)
LEARNT = 0.25  # ...once the training loss had come down this fraction of its start
GIVE_BACK = 0.01  # the rise is this fraction of the validation loss's descent (its first points to its lowest)...
MEMORISE = 0.5  # ...while the training loss fell by this fraction over the stretch (with FALL_LEVEL)...
GIVE_BACK_T = 4.0  # ...and the points since the lowest one climb as a line this clear (t statistic of the slope)
TRAIN_NOISE_BLOCKS = 32  # training blocks its point-to-point noise is measured over (the most recent ones)
MIN_VAL_POINTS = 8
NEAR = 3.0  # the noise is measured on points within a factor 1 + NEAR of the lowest level (log scale)
MIN_NOISE_POINTS = 8  # differences needed to measure the noise (fewer: no verdict yet)
NOISE_BLOCKS = 64  # validation blocks the noise is measured over (the most recent ones)
TURN_NEAR = 0.2  # the two-segment fit reaches back over points within this fraction of the lowest level...
TURN_BACK = 16  # ...at most this many before the lowest one
TURN_T = 4.0  # t statistic of the change of slope at the lowest point, for a line read off a few points
_D3 = tuple(c / math.sqrt(20) for c in (-1, 3, -3, 1))  # third difference, scaled: sd 1 for noise of sd 1
_TRIM3 = 0.9733  # variance of a unit normal trimmed at +-3


def _noise(v: list[float], rel: bool, best: float) -> float:
    """Noise (standard deviation) of one validation block, from the differences of order 3 of many points.

    Third differences (y[i-1] - 3 y[i] + 3 y[i+1] - y[i+2], scaled to the noise's sd) cancel a trend and
    its bend (the descent easing off, the rise being tested). Loss noise scales with the loss, so for a
    positive series they are taken on log values, where an exponential descent bends little once it
    nears its floor. Every window of points all within a factor 1 + NEAR of the lowest level counts
    (only the steep start is left out): 20-50 differences rather than the ~8 points nearest the low,
    whose median second difference put the noise at 0.5-2x its true value. The figure is a 3-sigma
    trimmed RMS started from the median: nearly as precise as a plain RMS, blind to a few outliers (the
    bend at the onset, a spike).
    """
    k = len(_D3)
    y = [math.log(a) for a in v] if rel else list(v)
    cap = math.log(best) + math.log(1 + NEAR) if rel else best + NEAR * abs(best)
    e = [sum(c * a for c, a in zip(_D3, y[i : i + k], strict=True)) for i in range(len(y) - k + 1)
         if max(y[i : i + k]) <= cap]  # fmt: skip
    if len(e) < MIN_NOISE_POINTS:
        return math.nan
    s = sorted(abs(x) for x in e)[len(e) // 2] / 0.6745  # median |x| of unit normal noise; bounded by NOISE_BLOCKS
    for _ in range(3):
        r = [x * x for x in e if abs(x) <= 3 * s]
        if not r or not s > 0:
            break
        s = math.sqrt(sum(r) / len(r) / _TRIM3)
    return s


def _turn(v: list[float], b: int, cap: float) -> float:
    """t statistic of the change of slope at the lowest point b.

    A continuous two-segment least-squares line, bent at b, through the points near the low before it
    (below `cap`, at most TURN_BACK) and every point after it, on log values for a positive series. Its
    standard error comes from the scatter of all those points about the two segments (10-30 degrees of
    freedom), where a line through the 4-5 points since a noisy low has 2-3: a dip at the low followed by
    a few higher points can make that line look very clear (t 6-10) and still be no turn (t 1-3 here).
    nan when fewer than 2 points near the low precede it: the line alone decides then.
    """
    lo = b
    while lo > 0 and b - lo < TURN_BACK and v[lo - 1] <= cap:  # bounded by TURN_BACK
        lo -= 1
    n = len(v) - lo
    if b - lo < 2 or n < 5:
        return math.nan
    pts = np.asarray(v[lo:], dtype=np.float64)
    y = np.log(pts) if pts.min() > 0 else pts
    if not np.isfinite(y).all():  # blocks hold finite points only; a fit through others means nothing
        return math.nan
    i = np.arange(lo - b, len(v) - b, dtype=np.float64)
    a = np.column_stack([np.ones(n), np.minimum(i, 0), np.maximum(i, 0)])
    beta, _, rank, _ = np.linalg.lstsq(a, y, rcond=None)
    if rank < 3:
        return math.nan
    cov = np.linalg.inv(a.T @ a)  # per unit noise variance
    ss = float(((y - a @ beta) ** 2).sum())
    change = float(beta[2] - beta[1])
    if not ss > 0:
        return math.copysign(math.inf, change)
    return change / math.sqrt(ss / (n - 3) * float(cov[1, 1] + cov[2, 2] - 2 * cov[1, 2]))


def overfitting(
    val: Series,
    t: Track,
    train: Series | None,
    train_at: Callable[[], Track],
    acc: Series | None,
    acc_at: Callable[[], Track],
) -> Finding:
    """Compare the validation level now with its lowest point, and training loss over that stretch
    (t: the validation summary as it stood at the judged x; train_at(), acc_at(): the others then, read
    only when the validation points alone make a case)."""
    if train is None:
        return None
    if t.n < MIN_VAL_POINTS:
        return None
    v = [s / c for s, c in zip(t.sum, t.cnt, strict=True) if c]  # at most CAPACITY blocks
    xs = [x for x, c in zip(t.x1, t.cnt, strict=True) if c]
    w, wb = WINDOW, BEST_WINDOW
    if len(v) < MIN_VAL_POINTS or len(v) < wb + w:
        return None
    # lowest level of wb consecutive points, and the lowest single point inside it (the onset)
    best, jb = math.inf, 0
    acc_s = sum(v[:wb])
    for j in range(wb, len(v) + 1):  # bounded by CAPACITY
        if j > wb:
            acc_s += v[j - 1] - v[j - 1 - wb]
        if acc_s / wb < best:
            best, jb = acc_s / wb, j
    if jb > len(v) - w:  # the lowest level overlaps the current one
        return None
    best_i = min(range(jb - wb, jb), key=v.__getitem__)
    bx = xs[best_i]
    cur = sum(v[-w:]) / w
    floor = RISE * abs(best)
    # a level above its lowest, and its two newest points too: not one spike (cheap: checked first)
    if not (cur - best > floor and min(v[-2:]) - best > 0.5 * floor):
        return None
    recent = v[-NOISE_BLOCKS:]
    rel = min(recent) > 0 and best > 0
    sd = _noise(recent, rel, best)
    known = math.isfinite(sd)  # else too few points near the low to know the noise yet (see below)
    # sustained: the points since the lowest one climb as a line (t statistic of the slope)
    seg = v[best_i:]
    k = len(seg)
    if k < 4:
        return None
    xm = (k - 1) / 2
    ym = sum(seg) / k
    sxx = sum((i - xm) ** 2 for i in range(k))  # bounded by CAPACITY
    slope = sum((i - xm) * (y - ym) for i, y in enumerate(seg)) / sxx
    res = sum((y - ym - slope * (i - xm)) ** 2 for i, y in enumerate(seg))
    tstat = slope * math.sqrt(sxx * (k - 2) / res) if res > 0 else math.inf
    if tstat < TREND_T:
        return None
    line_sd = math.sqrt(res / (k - 2))  # the scatter of the points about their line since the lowest one
    if not known:  # read by `gave_back` only (below)
        sd = line_sd / (abs(best) if rel else 1.0)
    thr = max(floor, RISE_NOISE * sd * (abs(best) if rel else 1.0) * math.sqrt(1 / w + 1 / wb))
    now = t.last_x()
    if not now > bx:
        return None
    # the training loss over the same stretch: falling, or flat at its low (within its own noise)
    span = max((now - bx) / 4, 0.0)
    tr = train_at()
    then_lvl, ca = tr.mean_between(bx - span, bx + span)
    now_lvl, cb = tr.mean_between(now - span, now)
    if not ca or not cb:
        return None
    tsd = tr.noise(max(0, tr.nblocks() - TRAIN_NOISE_BLOCKS))
    slack = TRAIN_RISE_NOISE * tsd * math.sqrt(1 / ca + 1 / cb) if math.isfinite(tsd) else 0.0
    if not now_lvl - then_lvl < TRAIN_RISE * abs(then_lvl) + slack:
        return None
    fell = (then_lvl - now_lvl) / abs(then_lvl) if then_lvl else 0.0
    # and clearly above the noise: the level stands out, or the climb is a very clear line, or the
    # training loss fell a lot meanwhile and the level stands a little out, climbing as a clear line (a
    # noisy validation loss drifting a few % up while the training loss heads to zero is no alert)
    lvl = (cur - best) / thr  # the level's rise in units of the noise threshold
    clear_line = tstat >= TREND_STRONG and lvl > TREND_LEVEL and len(v) >= TREND_MIN_POINTS
    learnt = then_lvl < (1 - LEARNT) * tr.start()  # not the steep start of training
    parting = fell >= TRAIN_FALL and lvl >= FALL_LEVEL and learnt and tstat >= PARTING_T
    gain = max(t.first, default=math.nan) - best  # the first points: the untrained model's loss
    # weighed against the scatter of the climb about its own line: the noise near the low also holds the
    # bend of a steep fall into it (family A's overfitting-tiny-set-1: 0.7% noise read there as 1.5-2%)
    lvl_line = (cur - best) / max(floor, RISE_NOISE * line_sd * math.sqrt(1 / w + 1 / wb))
    gave_back = (
        gain > 0
        and cur - best >= GIVE_BACK * gain
        and fell >= MEMORISE
        and lvl_line >= FALL_LEVEL
        and learnt
        and tstat >= GIVE_BACK_T
    )
    if parting or clear_line:  # lines read off the points since the low alone: the turn must show too
        if _turn(v, best_i, best + TURN_NEAR * abs(best)) < TURN_T:  # (nan: the line alone decides)
            parting = clear_line = False
    if known:
        others = (lvl > 1 and min(v[-2:]) - best > 0.5 * thr) or clear_line or parting
    else:  # turned up where its fall ends: no noise measured near the low yet, the line's own scatter is it
        others = tstat >= TREND_STRONG and lvl_line > 1 and learnt
    if not others and not gave_back:
        return None
    if not others:  # the evidence gives the noise the case was weighed against
        sd = line_sd / (abs(best) if rel else 1.0)
    extra = ""
    at = acc_at() if acc is not None else None
    if at is not None and at.nblocks():
        a_then, c3 = at.mean_between(bx - span, bx + span)
        a_now, c4 = at.mean_between(now - span, now)
        if c3 and c4:
            scale = max(abs(a_then), 1e-12)
            if a_now - a_then > 0.01 * scale:
                return None  # accuracy still improving: a calibration drift, not overfitting yet
            if a_then - a_now > 0.005 * scale:
                extra = f", and {acc.name} fell from {a_then:.3g} to {a_now:.3g}"
    tmove = f"fell {pct(fell)}" if now_lvl < then_lvl else f"stayed low (rose {pct(-fell)})"
    # the share of its whole descent it gave back (what makes the case when the rest does not)
    back = f", {pct((cur - best) / gain)} of its fall from {fmt(best + gain)}" if gave_back else ""
    return (
        bx,
        f"overfitting: {val.name} rose from {best:.3g} to {cur:.3g} since step {bx:g} "
        f"while {train.name} {'kept falling' if now_lvl < then_lvl else 'stayed low'} "
        f"({then_lvl:.3g} to {now_lvl:.3g}){extra}",
        f"{val.name} rose {pct((cur - best) / abs(best))}{back} over steps {fmt_step(bx)}-{fmt_step(now)} "
        f"(mean of its lowest {wb} points {fmt(best)}, of its last {w} {fmt(cur)}; its noise about "
        f"{pct(sd) if rel else fmt(sd)}) while {train.name} {tmove} ({fmt(then_lvl)} to {fmt(now_lvl)}){extra}",
    )
