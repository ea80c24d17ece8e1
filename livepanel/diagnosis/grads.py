"""Gradient-norm detectors: exploding (one series) and vanishing (layers of one env compared).

Gradient norms are tracked as log10, so "orders of magnitude" are plain differences and a
single spike moves a level average only a little.
"""

from __future__ import annotations

import math
import statistics

import numpy as np

from livepanel.diagnosis.alert import fmt, fmt_step
from livepanel.diagnosis.series import EXPLODE_DECADES, LEVEL_POINTS, VANISH_DECADES, Series
from livepanel.diagnosis.track import Track

Finding = tuple[float, str, str] | None  # (onset x, message, evidence)

EXPLODE_FROM_START = 2.2  # ...or this many above its start when it never fell below it (leaving its initialisation)
VANISH_FLOOR = 0.5  # vanishing: a layer fell at least this many orders of magnitude from its start in itself
NEAR_START = 0.25  # decades: a lowest level this close to the start is the start
EARLY = 0.25  # a rise that started within this fraction of the series' points is an early one...
EARLY_POINTS = 100  # ...or within this many
EXPLODE_PREV = 0.75  # exploding: the level before the current one already this many decades up (growing, not a spike)
VANISH_GAP = 1.25  # ...and at least this many more than some other layer of the env: healthy layers drift
# at most about 0.7 orders of magnitude apart; 1.5 was reached only at 9.4% of the run by a layer falling
# 4 orders per quarter of the run (the slowest collapse), too close to the 10% target to leave room for noise
STATIC_GAP = 2.5  # or a layer this many orders of magnitude below another of the env (both windows), from the start:
# healthy nets keep their layers within about 1 order of magnitude of each other (digits MLPs and CNNs: 0.1-1.0);
# sigmoid nets 3.6-4 orders apart can show only 2.6-3 when their layers' own scales differ (3.5 missed those)


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
    start = t.start()
    base = min(s.best, start)
    if cur - base < EXPLODE_DECADES or prev - base < EXPLODE_PREV:
        return None
    onset, rise = s.best_x, 0
    for i in range(i2 - 1, -1, -1):  # last block near the base level: growth starts after it
        c = t.cnt[i]
        if c and t.sum[i] / c <= base + 0.5:
            onset, rise = t.x1[i], t.pc[i + 1]
            break
    # a norm that never fell below its start and rose early may be leaving a small initialisation (a
    # healthy deep net grows 1.5-1.8 orders of magnitude in its first steps, then levels off): it must
    # grow further to be called exploding
    if s.best >= start - NEAR_START and rise < max(EARLY_POINTS, t.n * EARLY):
        need = EXPLODE_FROM_START
        if cur - base < need or prev - base < need * EXPLODE_PREV / EXPLODE_DECADES:
            return None
    return (
        onset,
        f"gradient norm {s.name} grew {cur - base:.1f} orders of magnitude "
        f"(from about {10**base:.3g} to {10**cur:.3g}) since step {onset:g}",
        f"{s.name} rose from {fmt(10**base)} (its lowest level) to {fmt(10**cur)} (geometric mean of its last "
        f"{c1} points, to step {fmt_step(t.x1[-1])}): {cur - base:.1f} orders of magnitude since step "
        f"{fmt_step(onset)}, and still growing ({fmt(10**prev)} the {c2} points before)",
    )


def blown_up(t: Track, before: np.ndarray, name: str) -> tuple[str, str] | None:
    """At a NaN/Inf: whether the last finite value before it stood EXPLODE_FROM_START orders of magnitude
    above the series' start (a norm that blew up in a step or two, too fast for the levels of exploding):
    (message, evidence) then. `before`: this call's values before the NaN (its earlier ones are in t)."""
    fin = before[np.isfinite(before)]
    if len(fin):
        last = float(fin[-1])
    elif t.an or t.by:
        pend = t.by or t.buf[: t.an].tolist()
        last = next((v for v in reversed(pend) if v - v == 0), math.nan)
    else:
        last = 10**t.prev if t.prev == t.prev else math.nan
    first = list(t.first)
    if len(first) < 5 and len(fin):
        first += np.log10(np.maximum(fin[: 5 - len(first)], 1e-30)).tolist()
    if not first or not last > 0:
        return None
    start = sorted(first)[len(first) // 2]
    up = math.log10(last) - start
    if up < EXPLODE_FROM_START:
        return None
    return (
        f"gradient norm {name} grew {up:.1f} orders of magnitude (from about {10**start:.3g} to {last:.3g}) "
        f"just before it became non-finite",
        f"{name}'s last finite value was {fmt(last)}, {up:.1f} orders of magnitude above its start ({fmt(10**start)})",
    )


def drop(t: Track) -> tuple[float, float]:
    """How far this layer fell from its start (decades): over its last LEVEL_POINTS points, and the ones
    before (nan when it has too few points)."""
    m = LEVEL_POINTS
    cur, c1, i1 = t.level(m)
    if c1 < m or t.n < 2 * m:
        return math.nan, math.nan
    prev, c2, _ = t.level(m, i1)
    start = t.start()
    return start - cur, (start - prev if c2 >= m else math.nan)


def candidate(s: Series) -> bool:
    """Whether to compare this layer with the others now: it fell (VANISH_FLOOR from its start, both windows
    say so: a collapse, once the others' change is known), or its length is a power of two (a layer far
    below the others from the start)."""
    t = s.track
    n = t.n
    if n < 2 * LEVEL_POINTS:
        return False
    if not n & (n - 1):
        return True
    d, p = drop(t)
    return d >= VANISH_FLOOR and p >= 0.75 * VANISH_FLOOR


def collapsed(d: float, p: float, drops: list[tuple[float, float]]) -> bool:
    """Whether a layer that fell d (p the window before) decades from its start collapsed, given the
    (d, p) of the env's other layers: VANISH_DECADES below its start, or below where the layers' median
    went when they rose together (all of a net's norms rise 0.5 orders in a warm-up: measured from the
    start, a collapse after it showed 0.5 later), having fallen VANISH_FLOOR in itself."""
    if not (d >= VANISH_FLOOR and p >= 0.75 * VANISH_FLOOR):
        return False
    if d >= VANISH_DECADES and p >= 0.75 * VANISH_DECADES:
        return True
    rose = max(0.0, -statistics.median(od for od, _ in drops)) if drops else 0.0
    rose_p = max(0.0, -statistics.median(op for _, op in drops)) if drops else 0.0
    return d + rose >= VANISH_DECADES and p + rose_p >= 0.75 * VANISH_DECADES


def vanishing(s: Series, t: Track, peers: list[tuple[Series, Track]]) -> Finding:
    """This layer collapsed while another layer of the same env did not (fell VANISH_GAP decades less),
    or it sits STATIC_GAP decades below another layer (both windows), as both stood at the judged x."""
    d, p = drop(t)
    if d != d:
        return None
    m = LEVEL_POINTS
    cur, _, i1 = t.level(m)
    prev, _, _ = t.level(m, i1)
    steady = low = None
    of = [(o, ot, *drop(ot)) for o, ot in peers]  # bounded by the gradient series of one env
    fell = collapsed(d, p, [(od, op) for _, _, od, op in of if od == od and op == op])
    for o, ot, od, _ in of:
        if od != od:
            continue
        if fell and od <= d - VANISH_GAP:
            if steady is None or od < steady[1]:
                steady = (o, od)
        oc, _, j1 = ot.level(m)
        opv, _, _ = ot.level(m, j1)
        if oc - cur >= STATIC_GAP and opv - prev >= STATIC_GAP and (low is None or oc > low[1]):
            low = (o, oc)
    start = t.start()
    if steady is not None:
        o, od = steady
        onset = t.x0[0]
        for i in range(t.nblocks() - 1, -1, -1):  # last block still near the start level
            c = t.cnt[i]
            if c and t.sum[i] / c >= start - 0.5:
                onset = t.x1[i]
                break
        return (
            onset,
            f"gradients are vanishing in {s.name}: its norm fell {d:.1f} orders of magnitude "
            f"while {o.name} changed {-od:+.1f}",
            f"{s.name} fell from {fmt(10**start)} to {fmt(10**cur)} ({d:.1f} orders of magnitude) since step "
            f"{fmt_step(onset)}, while {o.name} changed {-od:+.1f} orders (to {fmt(10 ** (ot_level(o, peers)))}) "
            f"by step {fmt_step(t.x1[-1])}",
        )
    if low is not None:
        o, oc = low
        return (
            t.x0[0],
            f"gradients are vanishing in {s.name}: its norm is {oc - cur:.1f} orders of magnitude below {o.name}'s",
            f"{s.name} is {fmt(10**cur)}, {oc - cur:.1f} orders of magnitude below {o.name} ({fmt(10**oc)}) "
            f"(geometric means of their last {m} points, to step {fmt_step(t.x1[-1])}), and was "
            f"{fmt(10**start)} at its start",
        )
    return None


def ot_level(o: Series, peers: list[tuple[Series, Track]]) -> float:
    for p, pt in peers:
        if p is o:
            return pt.level(LEVEL_POINTS)[0]
    return math.nan
