"""Single-series loss detectors: divergence, not learning, learning rate too high.

Each looks at the block summary only (a bounded number of blocks), so a check costs the
same at step 100 and at step 10 million. Each returns (onset x, message) or None.
"""

from __future__ import annotations

import math
from bisect import bisect_left

from livepanel.diagnosis.alert import fmt, fmt_step, pct
from livepanel.diagnosis.series import DIVERGE_BACK, DIVERGE_DROP, LEVEL_POINTS, Series
from livepanel.diagnosis.track import Track

Finding = tuple[float, str, str] | None  # (onset x, message, evidence)

NOT_LEARNING_POINTS = 150  # points before "flat" can be told from "slow start"
STEADY_POINTS = 96  # ...when the env logs a learning rate at its working value from the start (no warm-up)
NOT_LEARNING_DROP = 0.05  # fell less than this fraction of its level over the judged points...
DROP_Z = 2.0  # ...give or take this many standard errors of that fall...
DRIFT_Z = 4.0  # falling this many standard errors over the judged points is learning...
DRIFT_MIN = 0.002  # ...if it falls at least this fraction of the level...
DRIFT_KEEP = 0.5  # ...unless the recent half falls less than this fraction of the first half's fall...
SLOW_FALL = 0.04  # a loss falling this fraction per NOT_LEARNING_POINTS points is told from a flat one...
SLOW_Z = 4.0  # ...by this many standard errors (noisy losses wait for more points)
KEEP_Z = 3.0  # ...by this many standard errors of their difference (an early dip, then flat)
LR_MIN_POINTS = 100
LR_SPREAD = 0.3  # standard deviation / level of both halves of the window
ABOVE_START = 1.5  # a loss that never came down and climbs while this far above its start: too high from step 0
RISEN = 3.0  # a loss whose last two windows stand this many times above its first points (the lowest of them)...
RISEN_BEST = 2.0  # ...whose lowest level never came back within this many times them (it went up at once)...
RISEN_SPREAD = 0.15  # ...and that swings this much (its level says enough): too high from step 0
SPIKE_SHARE = 1 / 3  # a block holding more than this share of a window's scatter is a spike, not a swing
LR_FALL = 0.4  # under a warm-up, "not coming down" is judged once a fall of this fraction of the level (the line
LR_Z = 3.0  # through all its points) would stand this many standard errors out...
LR_WAIT = 200  # ...or after this many points (see warmup_doubt)
LR_FALLING_Z = 2.0  # ...and then not while that line falls this many standard errors, and half of LR_FALL


DIVERGE_SD = 3.0  # a divergence's fall, and its climb, each this many times the loss's point-to-point noise

_fmt = fmt


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
    # The lowest level is the least of many and the start a median of 5 points: on a flat noisy loss they
    # stand a few point-SDs apart by chance, so the fall and the climb must each pass DIVERGE_SD of them.
    sd = t.noise(max(0, i2 - 16), i2) if i2 > 0 else t.noise(0)
    if math.isfinite(sd):
        lvl_sd = sd / math.sqrt(m)
        if gained < DIVERGE_SD * sd or cur - best < DIVERGE_SD * sd or prev - best < 3 * lvl_sd:
            return None
    onset = s.best_x
    for i in range(i2 - 1, -1, -1):  # last block still near the best level: the rise starts after it
        c = t.cnt[i]
        if c and t.sum[i] / c <= best + 0.1 * gained:
            onset = t.x1[i]
            break
    return (
        onset,
        f"{s.name} is diverging: it fell from {_fmt(start)} to {_fmt(best)}, "
        f"then climbed to {_fmt(cur)} since step {onset:g}",
        f"{s.name} fell from {_fmt(start)} to {_fmt(best)} (at step {fmt_step(s.best_x)}), then climbed back to "
        f"{_fmt(cur)} (mean of its last {c1} points, to step {fmt_step(t.x1[-1])}): {pct(1 - (start - cur) / gained)} "
        f"of the way back to its start",
    )


HOLD_POINTS = 32  # after a logged raise of the learning rate, a climbing loss is judged after this many points
HOLD_SHARE = 16  # ...and, while the loss still comes down at its start, up to 1/16 of the points before the raise
HOLD_MAX = 4  # a raise more than this many holds before explains nothing any more
FAR = 2.0  # ...unless the loss stood this many times its start over its last 3 levels: diverged, no need to wait
BACK_AT_START = 0.9  # settled at this fraction of its start, or above: diverged; lower (but back half way): too high
SETTLED = 0.9  # settled: its last level is at least this fraction of the one before (no longer coming down)
CALM = 0.1  # ...and it swings less than this fraction of its level from step to step (a model reset to chance)


def back_up(s: Series) -> bool:
    """Whether the loss's level is back more than half way to its start after coming down (the state
    divergence looks for, whether or not it is still climbing): cheap, from the series alone."""
    t = s.track
    start, best = t.start(), s.best
    gained = start - best
    if not gained > DIVERGE_DROP * abs(start):
        return False
    lvl, c, _ = t.level(LEVEL_POINTS)
    return c >= LEVEL_POINTS and lvl > best + DIVERGE_BACK * gained


def _raise_in(lr: Series, x: float, since: float) -> tuple[float, float, float] | None:
    """The learning rate's latest raise told by x (Series.jumps), if it came at or after `since`:
    (its x, the level before, the level at x)."""
    for xr, before, told in reversed(lr.jumps):  # bounded by the raises of one series
        if told <= x:
            if since <= xr <= x:
                lt = lr.track.at(x)
                k = min(bisect_left(lt.x0, xr), lt.nblocks() - 1)
                top = max(lt.sum[j] / lt.cnt[j] for j in range(k, lt.nblocks()) if lt.cnt[j])  # bounded by CAPACITY
                return xr, before, top  # its highest level since the raise
            return None
    return None


def after_raise(
    s: Series, t: Track, lr: Series | None, x: float, found: Finding, best: float, best_x: float
) -> tuple[str, Finding] | None:
    """The verdict on a loss that climbed back more than half way to its start (t: as of x; found: what
    divergence found then, or None; best, best_x: its lowest level then). With no raise of the learning
    rate (lr, as of x) since the climb began, a divergence if found. After a raise the loss may spike far
    past its start for a few steps, then come down again, swinging: the verdict is held for HOLD_POINTS,
    unless the loss stands far past its start (FAR) all along. Then: below its start (BACK_AT_START) but
    still more than half way back, the learning rate is too high; back at its start and settled there (its
    last level not coming down from the one before; or 1/HOLD_SHARE of the points before the raise have
    passed) and calm (CALM: a model reset to chance), a divergence; swinging widely there, too high. Onset: the
    raise."""
    jump = _raise_in(lr, x, 2 * best_x - x) if lr is not None and best_x == best_x else None
    if jump is None:
        return ("divergence", found) if found else None
    xr, lr_before, lr_after = jump
    i = bisect_left(t.x0, xr)
    after = t.pc[-1] - t.pc[i]
    hold = max(HOLD_POINTS, t.pc[i] // HOLD_SHARE)
    start = t.start()
    gained = start - best
    if after > HOLD_MAX * hold:
        return ("divergence", found) if found else None
    if after < HOLD_POINTS:
        end, low = None, math.inf
        for _ in range(3):  # the last 3 levels
            lvl, c, end = t.level(LEVEL_POINTS, end)
            if c < LEVEL_POINTS:
                return None
            low = min(low, lvl)
        return ("divergence", found) if found and low >= FAR * start else None
    m = 2 * LEVEL_POINTS
    lvl, c, j = t.level(m)
    prev, c2, j2 = t.level(m, j)
    if c < m or c2 < m or j2 < i:  # two windows, both after the raise
        return None
    raised = f"{lr.name} went from {fmt(lr_before)} to {fmt(lr_after)} at step {fmt_step(xr)}; "
    back = (
        f"{s.name} fell from {_fmt(start)} to {_fmt(best)} (at step {fmt_step(best_x)}), then climbed back to "
        f"{_fmt(lvl)} (mean of its last {c} points, to step {fmt_step(t.x1[-1])}, {after:,} points after the raise): "
        f"{pct(1 - (start - lvl) / gained)} of the way back to its start"
    )
    if lvl >= BACK_AT_START * start:
        far = lvl >= FAR * start
        if lvl < SETTLED * prev and after < hold and not far:  # still coming down from a spike at the raise
            return None
        swing = t.noise(j) / lvl
        if swing >= CALM and not far:  # swinging widely there, not reset to chance: too high, but training
            if lvl * SETTLED > prev:  # still climbing: it may yet go far past its start
                return None
            return (
                "lr_too_high",
                (
                    xr,
                    f"{s.name} climbed back to {_fmt(lvl)} since the learning rate was raised at step {xr:g}, and "
                    f"swings widely there (about ±{100 * swing:.0f}% from step to step): the learning rate looks "
                    "too high",
                    raised + back + f", swinging ±{pct(swing)} from step to step",
                ),
            )
        return (
            "divergence",
            (
                xr,
                f"{s.name} is diverging: it fell from {_fmt(start)} to {_fmt(best)}, then climbed back to "
                f"{_fmt(lvl)} since the learning rate was raised at step {xr:g}",
                raised + back,
            ),
        )
    if lvl > best + DIVERGE_BACK * gained:
        return (
            "lr_too_high",
            (
                xr,
                f"{s.name} climbed back to {_fmt(lvl)} since the learning rate was raised at step {xr:g}, "
                f"and stays below its start ({_fmt(start)}): the learning rate looks too high",
                raised + back + ", and stayed below it",
            ),
        )
    return None


def _drift(t: Track, begin: int, end: int | None = None) -> tuple[float, float, float, int]:
    """Least-squares line through the blocks [begin, end) (block means weighted by their counts,
    against the point index): (fall over the stretch, its standard error, mean level, points).

    The fall is the line's drop from the first to the last point of the stretch; its standard
    error comes from the point-to-point noise of the stretch, so it shrinks as points come.
    (From running sums per block, Track.line_sums: not_learning runs it often on young series.)
    """
    end = len(t.cnt) if end is None else end
    w, total, cm, cm2, ms = t.line_sums(begin, end)
    if w < 2:
        return math.nan, math.nan, math.nan, 0
    ym = total / w
    mid = cm / w  # the stretch's mean place; each block's distance from it is (its middle - mid)
    sxx = cm2 - w * mid * mid
    sxy = ms - mid * total  # empty blocks add nothing (count and sum 0)
    sd = t.noise(begin, end)
    if not sxx > 0 or not math.isfinite(sd):
        return math.nan, math.nan, ym, int(w)
    fall = -sxy / sxx * w
    return fall, sd * w / math.sqrt(sxx), ym, int(w)


def not_learning(
    s: Series, t: Track | None = None, warmup_end: float = math.nan, lr_zero: bool = False, lr_steady: bool = False
) -> Finding:
    """Loss still flat near its starting value after the first NOT_LEARNING_POINTS points.

    `warmup_end` is the x where the env's learning rate stopped rising (when it logs one):
    a loss may stay flat while the learning rate is small, so the points are counted (and the
    loss judged) from a quarter of the way into the warm-up. Judged on the least-squares line
    through those points: it falls less than NOT_LEARNING_DROP of the level, and less than half
    of what a slow but steady learner (SLOW_FALL per NOT_LEARNING_POINTS points) would have
    fallen by now; a noisy loss waits until the two can be told apart (SLOW_Z standard errors).
    A loss whose line falls clearly (DRIFT_Z standard errors) is learning however slowly, unless
    its recent half is clearly flatter than its first (an early dip, then flat, is not learning).
    `t`: the series' summary as it was when judged (default: as it is).
    `lr_zero`: the env's learning rate was exactly 0 at every point so far: the model cannot learn, so
    a loss that did not fall is not learning as soon as NOT_LEARNING_POINTS points are in (no waiting
    to tell it from a slow learner).
    `lr_steady`: the env logs a learning rate, and it was at its working value from the start (no
    warm-up, not 0): a slow start is not explained by a small rate, so STEADY_POINTS points are enough.
    """
    t = s.track if t is None else t
    n = t.n
    need = STEADY_POINTS if lr_steady else NOT_LEARNING_POINTS
    if n < need or n > 64 * NOT_LEARNING_POINTS or t.nblocks() < 8:
        return None
    x_first, x_last = t.x0[0], t.x1[-1]
    spacing = (x_last - x_first) / max(n - 1, 1)
    if x_first > 5 * spacing + 1:  # the series starts mid-run (resumed): its flat start says nothing
        return None
    begin = 0
    if not math.isnan(warmup_end) and not lr_zero:
        if warmup_end == math.inf:  # the learning rate is still rising
            return None
        xa = (3 * x_first + warmup_end) / 4
        while begin < t.nblocks() and t.x0[begin] < xa:  # bounded by CAPACITY
            begin += 1
    fall, se, mu, m = _drift(t, begin)
    if m < need or not math.isfinite(fall) or not mu > 0:
        return None
    # a noisy loss is judged once a steady fall of SLOW_FALL per NOT_LEARNING_POINTS points would
    # stand SLOW_Z standard errors out (the fall grows as m, its error shrinks as 1/sqrt(m))
    slow = SLOW_FALL * m / NOT_LEARNING_POINTS * mu
    if slow < SLOW_Z * se and not lr_zero:
        return None
    _, sd, _ = t.spread(begin)
    if sd > LR_SPREAD * mu:  # too noisy to call flat; lr_too_high looks at that
        return None
    # flat: nearer no fall than the slowest steady fall we must tell from it (half way), and small (within its
    # noise: a flat loss at 15% noise has a line falling 5-8% for hundreds of points when its first ones ran high)
    small = NOT_LEARNING_DROP * mu + DROP_Z * se
    if not (fall < min(small, math.inf if lr_zero else slow / 2) and fall > -NOT_LEARNING_DROP * mu):
        return None
    # drifting down clearly and steadily (the recent half too, not only an early dip) is learning
    if fall > DRIFT_Z * se and fall > DRIFT_MIN * mu and not lr_zero:
        half, c = begin, 0
        for i in range(t.nblocks() - 1, begin - 1, -1):  # bounded by CAPACITY
            c += t.cnt[i]
            if c >= m // 2:
                half = i
                break
        ffall, fse, _, _ = _drift(t, begin, half)
        rfall, rse, _, _ = _drift(t, half)
        flatter = rfall < DRIFT_KEEP * ffall and ffall - rfall > KEEP_Z * math.hypot(fse, rse)
        if not flatter:
            return None
    xa = t.x0[begin]
    if lr_zero:
        since = " (the learning rate is 0)"
    else:
        since = f" (counted from step {fmt_step(xa)}, a quarter into the learning rate's warm-up)" if begin else ""
    return (
        x_first,
        f"{s.name} is not learning: after {n} points it is still at {_fmt(mu - fall / 2)}, "
        f"where it started ({_fmt(mu + fall / 2)})",
        f"{s.name} fell {pct(fall / mu)} over {m:,} points, steps {fmt_step(xa)}-{fmt_step(t.x1[-1])} "
        f"(its least-squares line: {_fmt(mu + fall / 2)} to {_fmt(mu - fall / 2)}){since}; a slow but steady "
        f"learner falls {pct(SLOW_FALL)} per {NOT_LEARNING_POINTS} points, {pct(slow / mu)} by now",
    )


def warmup_doubt(t: Track) -> bool:
    """Whether a verdict of lr_too_high is in doubt should the env's learning rate still rise in a warm-up (a
    healthy loss comes down slowly then and, noisy (50%), looks flat over two windows for a while): its line through
    all its points would not yet show a fall of LR_FALL by LR_Z standard errors (nor LR_WAIT points passed), or it
    does show a fall (LR_FALLING_Z standard errors, and half of LR_FALL). Not when it clearly climbs."""
    fall, se, mu, m = _drift(t, 0)
    if not math.isfinite(fall) or fall <= -LR_Z * se:
        return False
    se *= _spread_ratio(t)
    if fall > LR_FALLING_Z * se and fall > LR_FALL / 2 * mu:  # (benefit of the doubt: 2 standard errors do)
        return True
    return m < LR_WAIT and LR_FALL * mu < LR_Z * se


def _spread_ratio(t: Track) -> float:
    """Slow swings and heavy tails move a line more than the step-to-step noise (its standard error's) says:
    the ratio of the series' spread to that noise, at least 1."""
    _, sd, _ = t.spread(0)
    return max(1.0, sd / t.noise(0))


def _unspiked(t: Track, begin: int, end: int | None, sd: float) -> float:
    """The standard deviation sd of the points in blocks [begin, end), without the block that holds more than
    SPIKE_SHARE of their scatter about the mean, if one does (a spike: a swing spreads over many blocks)."""
    end = len(t.cnt) if end is None else end
    mu, _, c = t.spread(begin, end)
    ss = sd * sd * c
    for i in range(begin, end):  # bounded by CAPACITY
        share = t.sq[i] - 2 * mu * t.sum[i] + t.cnt[i] * mu * mu  # block i's scatter about mu
        c2 = c - t.cnt[i]
        if share > SPIKE_SHARE * ss and c2 > 0:
            mu2 = (mu * c - t.sum[i]) / c2
            ss2 = ss - share - c2 * (mu2 - mu) ** 2
            return math.sqrt(ss2 / c2) if ss2 > 0 else 0.0
    return sd


def lr_too_high(s: Series) -> Finding:
    """Loss bouncing with a large amplitude around a level that does not go down; or, whatever it did
    since, standing several times above its first points, never having come back near them, and swinging
    (a learning rate so high that the very first steps threw the model far off: onset at its first point)."""
    t = s.track
    n = t.n
    if n < LR_MIN_POINTS or t.nblocks() < 8:
        return None
    start = t.start()
    if not math.isfinite(start) or start <= 0:
        return None
    windows = last_two(t, max(LR_MIN_POINTS, n // 8) // 2)
    if windows is None:
        return None
    i1, i2, mu1, sd1, mu2, sd2 = windows
    lo = min(t.first)
    # its lowest level is its first one (it went up from its very first points), or it never came near them
    first_level = s.best_x <= t.x1[bisect_left(t.pc, LEVEL_POINTS) - 1]
    if lo > 0 and min(mu1, mu2) >= RISEN * lo and (s.best >= RISEN_BEST * lo or first_level):
        if sd1 < RISEN_SPREAD * mu1 or sd2 < RISEN_SPREAD * mu2:
            return None
        return (
            t.x0[0],
            f"{s.name} went up at once, to {mu1 / lo:.1f} times its first points, and swings there "
            f"(about ±{100 * sd1 / mu1:.0f}%): the learning rate looks too high",
            f"{s.name} swings by ±{pct(sd1 / mu1)} (standard deviation) around {_fmt(mu1)} over steps "
            f"{fmt_step(t.x0[i1])}-{fmt_step(t.x1[-1])}, and ±{pct(sd2 / mu2)} around {_fmt(mu2)} over steps "
            f"{fmt_step(t.x0[i2])}-{fmt_step(t.x1[i1 - 1])}: {mu1 / lo:.1f} times its first points (the lowest "
            f"{_fmt(lo)}); its lowest level since, {_fmt(s.best)}, is {s.best / lo:.1f} times them",
        )
    # one spike (a small batch's heavy tail, 2-4 times the level) does not make a slow healthy loss swing
    if _unspiked(t, i1, None, sd1) < LR_SPREAD * mu1 or _unspiked(t, i2, i1, sd2) < LR_SPREAD * mu2:
        return None
    if mu1 < 0.92 * mu2 or mu1 < 0.6 * start:  # still coming down, or already far below the start
        return None
    # climbing fast: divergence, unless it never came down (it went up from the start: too high from step 0)
    if mu1 > 2 * mu2 and not (s.best > (1 - DIVERGE_DROP) * start and mu2 > ABOVE_START * start):
        return None
    onset = t.x0[i2]
    return (
        onset,
        f"{s.name} swings widely (about ±{100 * sd1 / mu1:.0f}%) around {_fmt(mu1)} "
        f"without coming down: the learning rate looks too high",
        f"{s.name} swings by ±{pct(sd1 / mu1)} (standard deviation) around {_fmt(mu1)} over steps "
        f"{fmt_step(t.x0[i1])}-{fmt_step(t.x1[-1])}, and ±{pct(sd2 / mu2)} around {_fmt(mu2)} over steps "
        f"{fmt_step(onset)}-{fmt_step(t.x1[i1 - 1])}: not coming down, {pct(mu1 / start)} of where it started "
        f"({_fmt(start)})",
    )


SWING_POINTS = 32  # points (at least; or 1/16 of the series) in each of the two windows compared
SWING_RATIO = 3.0  # the loss's relative step-to-step noise grew this many times from one window to the next...
SWING_MIN = 0.05  # ...to at least this fraction of its level (with a raise of the learning rate to explain it)
SWING_ALONE = 4.0  # without one (none logged, or none raised): this many times...
SWING_ALONE_MIN = 0.15  # ...to at least this fraction of its level...
SWING_LEVEL = 1.1  # ...and the level did not come down (this many times the level before, at least)


def last_two(t: Track, w: int) -> tuple[int, int, float, float, float, float] | None:
    """The series' last two windows of about w points each: (first block of the latest, first block of the
    one before, mean and standard deviation of the latest, of the one before); None when either holds
    fewer than w // 2 points or a mean is not positive."""
    c1, i1 = t.back(w)
    c2, i2 = t.back(w, i1)
    if c1 < w // 2 or c2 < w // 2:
        return None
    mu1, sd1, _ = t.spread(i1)
    mu2, sd2, _ = t.spread(i2, i1)
    if not (mu1 > 0 and mu2 > 0):
        return None
    return i1, i2, mu1, sd1, mu2, sd2


def swing_up(t: Track) -> tuple[float, float, float, float, int, int] | None:
    """Whether the loss's step-to-step swing (its point-to-point noise) jumped SWING_RATIO-fold between the
    window before and the latest one, to at least SWING_MIN of its level: (swing before, after, level
    before, after, first block of the latest window, first block of the one before), or None."""
    n = t.n
    w = max(SWING_POINTS, n // 16)
    if n < 4 * w:
        return None
    windows = last_two(t, w)
    if windows is None:
        return None
    i1, i2, mu1, _, mu2, _ = windows
    a1, a2 = t.noise(i1), t.noise(i2, i1)
    if not (a1 >= SWING_RATIO * a2 and a1 >= SWING_MIN * mu1):
        return None
    return a2, a1, mu2, mu1, i1, i2


def lr_raised(s: Series, t: Track, lr: Series | None, x: float) -> Finding:
    """The loss swings far more since the learning rate was raised (lr: the env's, read as of x), or, with
    no raise to explain it, far more and without coming down: the learning rate is too high since then."""
    found = swing_up(t)
    if found is None:
        return None
    a2, a1, mu2, mu1, i1, i2 = found
    r1 = a1 / mu1
    start = t.start()
    if max(mu1, t.level(LEVEL_POINTS)[0]) >= start > 0:
        return None  # back past where it started: a divergence (its own story)
    jump = None
    if lr is not None:
        x_lo = t.x0[i2]
        for xr, before, told in reversed(lr.jumps):  # bounded by the raises of one series
            if told <= x:  # as the lr stood at x
                if xr >= x_lo:
                    jump = (xr, before)
                break
    if jump is not None:
        xr, before = jump
        # judged on HOLD_POINTS points after the raise, as after_raise is (a jump to a new level, or a spike of a
        # few steps at the raise, is no swing); back at its start since, after_raise tells the story
        k = bisect_left(t.x0, xr)
        if t.pc[-1] - t.pc[k] < HOLD_POINTS or t.level(2 * LEVEL_POINTS)[0] >= BACK_AT_START * start > 0:
            return None
        lt = lr.track.at(x)
        after = lt.level(1)[0]
        return (
            xr,
            f"{s.name} swings widely (about ±{100 * r1:.0f}% from step to step) since the learning rate was "
            f"raised at step {xr:g}: it looks too high",
            f"{lr.name} went from {fmt(before)} to {fmt(after)} at step {fmt_step(xr)}; {s.name}'s amplitude "
            f"x{a1 / a2:.1f} since (step-to-step ±{fmt(a1)} around {fmt(mu1)}, was ±{fmt(a2)} around {fmt(mu2)})",
        )
    if not (a1 >= SWING_ALONE * a2 and r1 >= SWING_ALONE_MIN and mu1 >= SWING_LEVEL * mu2):
        return None
    onset = t.x0[i1]
    for i in range(i1 - 1, i2 - 1, -1):  # bounded by CAPACITY: blocks before the window, swinging already
        c = t.cnt[i]
        if not c or t.noise(i, i + 1) < math.sqrt(a1 * a2):
            break
        onset = t.x0[i]
    return (
        onset,
        f"{s.name} swings widely (about ±{100 * r1:.0f}% from step to step) since step {onset:g} without coming "
        f"down: the learning rate looks too high",
        f"{s.name}'s amplitude grew x{a1 / a2:.1f} (step-to-step ±{fmt(a1)} around {fmt(mu1)} over steps "
        f"{fmt_step(t.x0[i1])}-{fmt_step(t.x1[-1])}, was ±{fmt(a2)} around {fmt(mu2)} before) and its level "
        f"rose {pct(mu1 / mu2 - 1)}",
    )
