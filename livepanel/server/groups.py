"""GET /api/v1/group: one curve for a group of runs (the seeds of one setting), from full-resolution data.

The semantics are in docs/protocol.md ("Group curves"). In short: each run's points (sorted by step, the
last value of a repeated step, NaN and inf left out) are interpolated linearly at the union of all runs'
steps, inside each run's own first..last step; per step the mean, the band (min..max, or mean -/+ the
population std) and the number of runs; past `width` union steps, equal-width buckets of x.

Speed (benchmarks/bench_groups.py): runs that share their steps are one matrix, no interpolation.
Otherwise nothing of size runs x union steps is built. With the min-max band, each run's running sum over
the union's steps (from prefix sums of the steps) is read at the bucket bounds, and its extremes in a
bucket are at its own points there or at the bucket's first and last steps it covers. With the std band,
per-step sums of values and of their squares come from difference arrays: each run is cut into pieces,
each inside one of its segments and one bucket, on which it is one straight line whose coefficients are
taken relative to the bucket's first step, so that squares do not lose precision to large steps.
"""

from __future__ import annotations

import asyncio

import numpy as np

from livepanel.protocol import quote
from livepanel.server.handlers import BaseHandler
from livepanel.server.store import Store

MAX_ENVS = 1000
WIDTH, MIN_WIDTH, MAX_WIDTH = 2000, 10, 20000
BANDS = ("minmax", "std")
# integer steps spanning at most this many values (or 8 per point) are merged by a mask, not a sort
MASK_SPAN = 1 << 26

Curve = dict[str, np.ndarray]


def clean(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A run's points as the group uses them: finite, sorted by x (stable), the last y of a repeated x."""
    x = np.asarray(x, dtype="f8")
    y = np.asarray(y, dtype="f8")
    keep = np.isfinite(x) & np.isfinite(y)
    if not keep.all():
        x, y = x[keep], y[keep]
    if len(x) > 1:
        step = np.diff(x)
        if not (step > 0).all():
            if (step < 0).any():
                order = np.argsort(x, kind="stable")
                x, y = x[order], y[order]
                step = np.diff(x)
            last = np.append(step != 0, True)
            x, y = x[last], y[last]
    return x, y


def curve(runs: list[tuple[np.ndarray, np.ndarray]], band: str, width: int) -> Curve:
    """The group curve of cleaned runs (clean()): x, mean, lo, hi (float64) and n (int32)."""
    runs = [r for r in runs if len(r[0])]
    if not runs:
        empty = np.empty(0, "f8")
        return {"x": empty, "mean": empty, "lo": empty, "hi": empty, "n": np.empty(0, "i4")}
    first = runs[0][0]
    if all(len(x) == len(first) and x[-1] == first[-1] and np.array_equal(x, first) for x, _ in runs[1:]):
        return _aligned(first, [y for _, y in runs], band, width)
    return _misaligned(runs, band, width)


def _aligned(x: np.ndarray, ys: list[np.ndarray], band: str, width: int) -> Curve:
    """Runs that log the same steps: one matrix, statistics down its columns."""
    matrix = np.stack(ys)
    mean = matrix.mean(axis=0)
    if band == "std":
        spread = matrix.std(axis=0)
        lo, hi = mean - spread, mean + spread
    else:
        lo, hi = matrix.min(axis=0), matrix.max(axis=0)
    n = np.full(len(x), len(ys), "i4")
    starts = buckets(x, width)
    if starts is None:
        return {"x": x, "mean": mean, "lo": lo, "hi": hi, "n": n}
    return _reduce(starts, x, mean * n, n, lo, hi)


def buckets(x: np.ndarray, width: int) -> np.ndarray | None:
    """The first index of each non-empty one of `width` equal-width buckets of sorted unique x; None when
    there are at most `width` points (no reduction)."""
    if len(x) <= width:
        return None
    x0, x1 = x[0], x[-1]
    ids = np.minimum(((x - x0) * width / (x1 - x0)).astype(np.int64), width - 1)  # exact for integer steps
    return np.concatenate(([0], np.flatnonzero(np.diff(ids)) + 1))


def _reduce(
    starts: np.ndarray,
    x: np.ndarray,
    total: np.ndarray | None,
    n: np.ndarray,
    lo: np.ndarray | None,
    hi: np.ndarray | None,
) -> Curve:
    """Per-step values into buckets: mean x, n-weighted mean (total: per-step sums of values), min of lo, max
    of hi, max n. A None: the caller has that per bucket already."""
    count = np.diff(np.append(starts, len(x)))
    out = {"x": np.add.reduceat(x, starts) / count, "n": np.maximum.reduceat(n, starts).astype("i4")}
    if total is not None:
        out["mean"] = np.add.reduceat(total, starts) / np.add.reduceat(n, starts, dtype=np.int64)
    if lo is not None and hi is not None:
        out["lo"], out["hi"] = np.minimum.reduceat(lo, starts), np.maximum.reduceat(hi, starts)
    return out


def _union(runs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, list[np.ndarray]]:
    """All runs' steps, sorted and unique, and each run's points as indices into them."""
    lo = min(x[0] for x, _ in runs)
    hi = max(x[-1] for x, _ in runs)
    total = sum(len(x) for x, _ in runs)
    span = hi - lo
    if span <= min(MASK_SPAN, 8 * total + 1_000_000) and all(np.array_equal(x, np.rint(x)) for x, _ in runs):
        mask = np.zeros(int(span) + 1, bool)  # integer steps (the usual): a mask over their range
        offsets = [(x - lo).astype(np.int64) for x, _ in runs]
        for off in offsets:
            mask[off] = True
        rank = np.cumsum(mask, dtype=np.int64) - 1
        return np.flatnonzero(mask) + lo, [rank[off] for off in offsets]
    joined = np.concatenate([x for x, _ in runs])
    order = np.argsort(joined, kind="stable")  # merges the sorted runs
    ordered = joined[order]
    new = np.empty(len(ordered), bool)
    new[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    index = np.empty(len(ordered), np.int64)
    index[order] = np.cumsum(new) - 1
    bounds = np.cumsum([len(x) for x, _ in runs])[:-1]
    return ordered[new], np.split(index, bounds)


def _misaligned(runs: list[tuple[np.ndarray, np.ndarray]], band: str, width: int) -> Curve:
    union, positions = _union(runs)
    m = len(union)
    starts = buckets(union, width)
    if starts is None:  # each step is a bucket of its own
        starts = np.arange(m)
        bucket = starts
    else:
        bucket = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, m)))
    # runs covering each step: +1 at a run's first step, -1 after its last
    ends = np.array([[p[0], p[-1] + 1] for p in positions])
    n = np.cumsum(np.bincount(ends.ravel(), np.tile([1, -1], len(positions)), m + 1)[:m]).round().astype(np.int64)
    center = float(np.mean([y[0] for _, y in runs]))  # values relative to it: sums lose less precision
    if band == "std":
        return _std(runs, positions, union, starts, bucket, n, center)
    return _minmax(runs, positions, union, starts, bucket, n, center)


def _minmax(
    runs: list[tuple[np.ndarray, np.ndarray]],
    positions: list[np.ndarray],
    union: np.ndarray,
    starts: np.ndarray,
    bucket: np.ndarray,
    n: np.ndarray,
    center: float,
) -> Curve:
    """Per bucket: the sum of the runs' values over its steps (from each run's running sum over the union's
    steps, read at the bucket's bounds), and their min and max: a run's extremes over the union's steps in
    a bucket are at its own points there or at the bucket's first and last steps it covers."""
    m, nb = len(union), len(starts)
    rel = union - union[0]
    prefix = np.zeros(m + 1)  # prefix[k]: the sum of rel over the steps before k
    np.cumsum(rel, out=prefix[1:])
    bounds = np.append(starts, m)
    totals = np.zeros(nb)
    lo = np.full(nb, np.inf)
    hi = np.full(nb, -np.inf)
    for (x, y), p in zip(runs, positions, strict=True):
        y = y - center
        xr = x - union[0]
        k = len(p)
        slope = np.zeros(k)
        count = np.diff(p)  # union steps from each point up to the next one
        if k > 1:
            np.divide(np.diff(y), np.diff(xr), out=slope[:-1])
        at = prefix[p]
        running = np.zeros(k)  # running[j]: the sum of the run's values over the union's steps before p[j]
        np.cumsum(count * y[:-1] + slope[:-1] * (np.diff(at) - count * xr[:-1]), out=running[1:])
        first, last = bucket[p[0]], bucket[p[-1]]
        q = np.clip(bounds[first : last + 2], p[0], p[-1] + 1)  # the bounds of its buckets, inside the run
        j = np.minimum(np.searchsorted(p, q, side="right") - 1, k - 1)
        steps = q - p[j]
        summed = running[j] + steps * y[j] + slope[j] * (prefix[q] - at[j] - steps * xr[j])
        totals[first : last + 1] += np.diff(summed)
        own = bucket[p]
        group = np.concatenate(([0], np.flatnonzero(own[1:] != own[:-1]) + 1))
        np.minimum.at(lo, own[group], np.minimum.reduceat(y, group))
        np.maximum.at(hi, own[group], np.maximum.reduceat(y, group))
        edges = np.interp(rel[np.concatenate((q[:-1], q[1:] - 1))], xr, y)  # at each bucket's first and last step
        half = len(q) - 1
        lo[first : last + 1] = np.minimum(lo[first : last + 1], np.minimum(edges[:half], edges[half:]))
        hi[first : last + 1] = np.maximum(hi[first : last + 1], np.maximum(edges[:half], edges[half:]))
    out = _reduce(starts, union, None, n, None, None)
    out["mean"] = totals / np.add.reduceat(n, starts, dtype=np.int64) + center
    out["lo"], out["hi"] = lo + center, hi + center
    return out


def _std(
    runs: list[tuple[np.ndarray, np.ndarray]],
    positions: list[np.ndarray],
    union: np.ndarray,
    starts: np.ndarray,
    bucket: np.ndarray,
    n: np.ndarray,
    center: float,
) -> Curve:
    """Per step: the sums of the runs' values and of their squares, from difference arrays of the runs'
    pieces' coefficients (a line on each: alpha + slope * (step - its bucket's first step))."""
    m = len(union)
    anchor = union[starts][bucket]  # each step's bucket's first step
    d = union - anchor
    sums = np.zeros((5, m + 1))  # per-step changes of: alpha, slope, alpha^2, 2 alpha slope, slope^2
    for (x, y), p in zip(runs, positions, strict=True):
        ps, alpha, slope = _pieces(x, y - center, p, starts, anchor)
        last = p[-1] + 1
        values, delta = np.empty(len(ps)), np.empty(len(ps))
        _changes(sums[0], ps, alpha, last, delta)
        _changes(sums[1], ps, slope, last, delta)
        _changes(sums[2], ps, np.multiply(alpha, alpha, out=values), last, delta)
        np.multiply(alpha, slope, out=values)
        _changes(sums[3], ps, np.multiply(values, 2.0, out=values), last, delta)
        _changes(sums[4], ps, np.multiply(slope, slope, out=values), last, delta)
    acc = np.cumsum(sums[:, :m], axis=1)
    shifted = acc[0] + acc[1] * d  # per step, the sum of the runs' values less the center
    squares = acc[2] + acc[3] * d + acc[4] * d * d
    mean = shifted / n
    spread = np.sqrt(np.maximum(squares / n - mean * mean, 0.0))
    spread[n == 1] = 0.0  # one run: no spread (not the rounding of a difference)
    mean += center
    return _reduce(starts, union, shifted + n * center, n, mean - spread, mean + spread)


def _changes(row: np.ndarray, ps: np.ndarray, quantity: np.ndarray, last: int, delta: np.ndarray) -> None:
    """Add to a difference array a run's step function: `quantity` on each piece (starting at `ps`, the last
    ending before `last`); `delta` is room for the changes."""
    delta[0] = quantity[0]
    np.subtract(quantity[1:], quantity[:-1], out=delta[1:])
    row[ps] += delta  # piece starts are distinct: no repeated index
    row[last] -= quantity[-1]


def _pieces(
    x: np.ndarray, y: np.ndarray, p: np.ndarray, starts: np.ndarray, anchor: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A run cut into pieces, each inside one of its segments and one bucket, in order: each piece's first
    step (an index into the union; a piece ends where the next begins, the last after the run's last
    step), and the line it is on there: value = alpha + slope * (step - anchor), anchor: the first step of
    its bucket."""
    k = len(p)
    slope = np.zeros(k)
    if k > 1:
        np.divide(np.diff(y), np.diff(x), out=slope[:-1])
    alpha = y + slope * (anchor[p] - x)  # the line's value at the first step of the bucket of each point
    a, b = np.searchsorted(starts, [p[0], p[-1]], side="right")
    inner = starts[a:b]  # buckets that begin inside the run, after its first step
    if not len(inner):
        return p, alpha, slope
    at = np.searchsorted(p, inner)  # where each goes among the run's points
    inner = inner[p[np.minimum(at, k - 1)] != inner]  # one that begins at a point of the run needs no piece
    if not len(inner):
        return p, alpha, slope
    at = np.searchsorted(p, inner)
    seg = at - 1  # the segment it cuts
    s = slope[seg]
    return np.insert(p, at, inner), np.insert(alpha, at, y[seg] + s * (anchor[inner] - x[seg])), np.insert(slope, at, s)


class GroupHandler(BaseHandler):
    """GET /api/v1/group?win=W&trace=T&env=E1&env=E2...[&band=minmax|std][&width=N] (docs/protocol.md)."""

    store: Store

    async def get(self) -> None:
        win = self.arg("win")
        if win is None:
            self.fail(400, "name the window with ?win=W")
        trace = self.get_query_argument("trace", "")
        envs = self.get_query_arguments("env")
        if not envs:
            self.fail(400, "name the runs of the group with ?env=E1&env=E2...")
        if len(envs) > MAX_ENVS:
            self.fail(400, f"a group has at most {MAX_ENVS} envs, got {len(envs)}")
        if len(set(envs)) != len(envs):
            twice = next(e for i, e in enumerate(envs) if e in envs[:i])
            self.fail(400, f"env {quote(twice)} is named twice")
        band = self.arg("band", str, "minmax")
        if band not in BANDS:
            self.fail(400, f"band must be minmax or std, got {quote(band)}")
        width = self.arg("width", int, WIDTH)
        if not MIN_WIDTH <= width <= MAX_WIDTH:
            self.fail(400, f"width must be from {MIN_WIDTH} to {MAX_WIDTH}, got {width}")
        names, points = [], []
        for env in envs:
            w = self.store.state.window(env, win)
            series = w.traces.get(trace) if w is not None and w.kind == "line" else None
            if series is None:
                continue
            names.append(env)
            points.append(series.tail(series.n))  # copies: the series may grow while the curve is made
        if not names:
            self.fail(404, f"none of the {len(envs)} env(s) has a line trace {quote(trace)} in window {quote(win)}")
        result = await asyncio.get_running_loop().run_in_executor(None, _compute, points, band, width)
        self.send({"win": win, "trace": trace, "envs": names, "band": band, **result})


def _compute(points: list[tuple[np.ndarray, np.ndarray]], band: str, width: int) -> Curve:
    return curve([clean(x, y) for x, y in points], band, width)
