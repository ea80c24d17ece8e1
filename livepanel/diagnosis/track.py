"""A fixed-size, multi-resolution summary of one series, fed point by point or by the million.

Points are gathered into blocks; each closed block keeps a few sums (count, sum, min, max,
sum of |step-to-step change|, first and last x). At most CAPACITY blocks are kept: when full,
neighbours are merged in pairs and the block size doubles. So memory is constant, the work
per point is amortised O(1), and a block always spans between 1/CAPACITY and 2/CAPACITY of
the series: detectors that look at blocks see the whole history at a resolution that scales
with the run, which is what makes "caught within x% of the run" reachable at any length.
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_right
from itertools import accumulate

import numpy as np

CAPACITY = 128
SMALL = 64  # observe() calls up to this many points take the pure-Python path
LOG_FLOOR = -30.0  # log10 of a zero gradient norm: a collapse, not an error
_SQRT_PI_2 = math.sqrt(math.pi) / 2  # E|a-b| = 2 sigma / sqrt(pi) for Gaussian noise


class Track:
    """Block summary of one series; values are stored as log10 when `log` (gradient norms)."""

    __slots__ = (
        "log",
        "bsize",
        "bx",
        "by",
        "ax",
        "ay",
        "an",
        "prev",
        "n",
        "first",
        "cnt",
        "sum",
        "sq",
        "lo",
        "hi",
        "dab",
        "nd",
        "x0",
        "x1",
        "pc",
    )

    def __init__(self, log: bool = False) -> None:
        self.log = log
        self.bsize = 1
        # Points not yet in a block: Python floats while blocks are small (bsize <= SMALL), numpy
        # segments once they are large (no per-point Python work for a long series fed in chunks).
        self.bx: list[float] = []
        self.by: list[float] = []
        self.ax: list[np.ndarray] = []
        self.ay: list[np.ndarray] = []
        self.an = 0  # points in ax/ay
        self.prev = math.nan  # last finite (transformed) value, for step-to-step changes
        self.n = 0  # points closed into blocks
        self.first: list[float] = []  # first few finite values: the starting level
        self.cnt: list[int] = []
        self.sum: list[float] = []
        self.sq: list[float] = []  # sum of squares, for the spread inside a window
        self.lo: list[float] = []
        self.hi: list[float] = []
        self.dab: list[float] = []
        self.nd: list[int] = []
        self.x0: list[float] = []
        self.x1: list[float] = []
        self.pc: list[int] = [0]  # prefix sums of cnt (pc[i] = sum(cnt[:i])): levels found by bisection

    # ------------------------------------------------------------ feeding

    def pending(self) -> int:
        """Points waiting for their block."""
        return len(self.by) + self.an

    def ready(self) -> bool:
        return self.pending() >= self.bsize

    def close(self) -> None:
        """Close one block from the front of the pending points (call while `ready()`)."""
        b = self.bsize
        if b > SMALL:
            self._close_arrays(b)
            return
        xs, ys = self.bx, self.by
        if b == 1:
            self.close1(xs[0], ys[0])
            del xs[0], ys[0]
            return
        self._block(xs[0], xs[b - 1], ys[:b])
        del xs[:b], ys[:b]

    def add_arrays(self, x: np.ndarray, y: np.ndarray) -> None:
        """Queue many points while blocks are large (bsize > SMALL), as arrays: no per-point Python work.

        Points that fill no block yet are copied at once; otherwise the arrays are kept as given
        until the blocks they fill are closed, and `own()` must be called before returning to
        the caller, so that what stays pending (less than a block) is a copy of its own.
        """
        if self.by:
            self._flush_floats()
        if self.an + len(y) < self.bsize:
            x, y = x.copy(), y.copy()  # float64 already (see the caller)
        self.ax.append(x)
        self.ay.append(y)
        self.an += len(y)

    def own(self) -> None:
        """Copy what stays pending after blocks were closed from borrowed arrays (fewer than bsize points)."""
        if self.an:
            self.ax[:] = [np.concatenate(self.ax)]  # concatenate always makes a new array
            self.ay[:] = [np.concatenate([np.asarray(v, dtype=np.float64) for v in self.ay])]

    def _flush_floats(self) -> None:
        """Pending Python floats (the newest points) become one more segment."""
        self.ax.append(np.array(self.bx, dtype=np.float64))
        self.ay.append(np.array(self.by, dtype=np.float64))
        self.an += len(self.by)
        self.bx, self.by = [], []

    def _close_arrays(self, b: int) -> None:
        if not self.an:  # only Python floats pending (small calls): x is needed at the ends only
            xs, ys = self.bx, self.by
            self._block(xs[0], xs[b - 1], np.array(ys[:b], dtype=np.float64))
            del xs[:b], ys[:b]
            return
        if self.by:
            self._flush_floats()
        ax, ay = self.ax, self.ay
        if len(ay) > 1:
            ax[:] = [np.concatenate(ax)]
            ay[:] = [np.concatenate([np.asarray(v, dtype=np.float64) for v in ay])]
        x, y = ax[0], ay[0]
        self._block(float(x[0]), float(x[b - 1]), y[:b])
        self.an -= b
        if self.an:
            ax[0], ay[0] = x[b:], y[b:]
        else:
            ax.clear()
            ay.clear()

    def close1(self, x: float, v: float) -> None:
        """Close a block of one point (the first CAPACITY points of every series): same sums as _block."""
        if self.log and v - v == 0:
            v = math.log10(v) if v > 1e-30 else LOG_FLOOR
        p = self.prev
        if v - v == 0:
            self.cnt.append(1)
            self.sum.append(v + 0.0)  # as sum([v]) gives: -0.0 becomes 0.0
            self.sq.append(v * v)
            self.lo.append(v)
            self.hi.append(v)
            if p == p:
                self.dab.append(abs(v - p))
                self.nd.append(1)
            else:
                self.dab.append(0.0)
                self.nd.append(0)
            if len(self.first) < 5:
                self.first.append(v)
            self.prev = v
            self.pc.append(self.pc[-1] + 1)
        else:
            self.pc.append(self.pc[-1])
            self.cnt.append(0)
            self.sum.append(0.0)
            self.sq.append(0.0)
            self.lo.append(math.inf)
            self.hi.append(-math.inf)
            self.dab.append(0.0)
            self.nd.append(0)
        self.n += 1
        self.x0.append(x)
        self.x1.append(x)
        if len(self.cnt) >= CAPACITY:
            self._merge()

    def _block(self, x0: float, x1: float, vals: list[float] | np.ndarray) -> None:
        m = len(vals)
        if isinstance(vals, list):
            if self.log:
                vals = [math.log10(v) if v > 1e-30 else LOG_FLOOR for v in vals if v - v == 0]
                s = sum(vals)
            else:
                s = sum(vals)  # finite: every value is, nothing to filter, and this is the block's sum
                if s - s != 0:
                    vals = [v for v in vals if v - v == 0]
                    s = sum(vals)
            c = len(vals)
            if c:
                # sum() adds in order from 0, as a loop would; map keeps the per-point work in C
                lo, hi = min(vals), max(vals)
                q = sum(map(operator.mul, vals, vals))
                p, d = self.prev, 0.0
                if p == p:
                    d = abs(vals[0] - p)
                d = sum(map(abs, map(operator.sub, vals[1:], vals)), d)
                nd = c - (p != p)
                if len(self.first) < 5:
                    self.first.extend(vals[: 5 - len(self.first)])
                self.prev = vals[-1]
        else:
            v = np.asarray(vals, dtype=np.float64)
            s = float(v.sum())  # finite: every value is
            if s - s != 0:
                v = v[np.isfinite(v)]
                s = float(v.sum())
            if self.log:
                v = np.log10(np.maximum(v, 1e-30))
                v[v <= -30.0] = LOG_FLOOR
                s = float(v.sum())
            c = len(v)
            if c:
                lo, hi = float(v.min()), float(v.max())
                q = float(np.dot(v, v))
                d = float(np.abs(np.diff(v)).sum())
                nd = c - 1
                if self.prev == self.prev:
                    d += abs(float(v[0]) - self.prev)
                    nd += 1
                if len(self.first) < 5:
                    self.first.extend(v[: 5 - len(self.first)].tolist())
                self.prev = float(v[-1])
        if not c:
            s, q, lo, hi, d, nd = 0.0, 0.0, math.inf, -math.inf, 0.0, 0
        self.n += m
        self.pc.append(self.pc[-1] + c)
        self.cnt.append(c)
        self.sum.append(s)
        self.sq.append(q)
        self.lo.append(lo)
        self.hi.append(hi)
        self.dab.append(d)
        self.nd.append(nd)
        self.x0.append(x0)
        self.x1.append(x1)
        if len(self.cnt) >= CAPACITY:
            self._merge()

    def _merge(self) -> None:
        """Halve the number of blocks by merging neighbours; the block size doubles."""
        c, s, q, lo, hi, d, nd = self.cnt, self.sum, self.sq, self.lo, self.hi, self.dab, self.nd
        self.sq = [a + b for a, b in zip(q[::2], q[1::2], strict=True)]
        self.cnt = [a + b for a, b in zip(c[::2], c[1::2], strict=True)]
        self.sum = [a + b for a, b in zip(s[::2], s[1::2], strict=True)]
        self.lo = [min(a, b) for a, b in zip(lo[::2], lo[1::2], strict=True)]
        self.hi = [max(a, b) for a, b in zip(hi[::2], hi[1::2], strict=True)]
        self.dab = [a + b for a, b in zip(d[::2], d[1::2], strict=True)]
        self.nd = [a + b for a, b in zip(nd[::2], nd[1::2], strict=True)]
        self.pc = [0, *accumulate(self.cnt)]
        self.x0 = self.x0[::2]
        self.x1 = self.x1[1::2]
        self.bsize *= 2

    # ------------------------------------------------------------ reading

    def nblocks(self) -> int:
        return len(self.cnt)

    def start(self) -> float:
        """Starting level: median of the first few finite values (one early spike does not move it)."""
        f = sorted(self.first)
        return f[len(f) // 2] if f else math.nan

    def level(self, m: int, end: int | None = None) -> tuple[float, int, int]:
        """Mean of the trailing blocks before `end` holding at least m finite points.

        Returns (mean, count, index of the first block used); count < m when history is short.
        """
        end = len(self.cnt) if end is None else end
        if m <= 0:
            return math.nan, 0, end
        if end and self.cnt[end - 1] >= m:  # the usual case once blocks are large: the last block alone
            return (self.sum[end - 1] + 0.0) / self.cnt[end - 1], self.cnt[end - 1], end - 1
        pc = self.pc
        # the last i with at least m points in blocks [i, end), else 0; summed from the end, in order
        i = max(0, bisect_right(pc, pc[end] - m, 0, end + 1) - 1)
        c = pc[end] - pc[i]
        if not c:
            return math.nan, 0, i
        return sum(self.sum[end - 1 : i - 1 if i else None : -1]) / c, c, i

    def spread(self, begin: int, end: int | None = None) -> tuple[float, float, int]:
        """(mean, standard deviation, count) of all finite points in blocks [begin, end)."""
        end = len(self.cnt) if end is None else end
        pc = self.pc
        c = pc[end] - pc[begin] if begin < end else 0
        if not c:
            return math.nan, math.nan, 0
        mu = sum(self.sum[begin:end]) / c
        var = sum(self.sq[begin:end]) / c - mu * mu
        return mu, math.sqrt(var) if var > 0 else 0.0, c

    def noise(self, begin: int, end: int | None = None) -> float:
        """Point-to-point noise (standard deviation) over blocks [begin, end), from mean |change|."""
        end = len(self.cnt) if end is None else end
        nd = sum(self.nd[begin:end])
        return sum(self.dab[begin:end]) / nd * _SQRT_PI_2 if nd else math.nan

    def mean_between(self, xa: float, xb: float) -> tuple[float, int]:
        """Mean of the blocks overlapping [xa, xb] (at block resolution)."""
        c, s = 0, 0.0
        for i in range(len(self.cnt) - 1, -1, -1):  # bounded by CAPACITY
            if self.x1[i] < xa:
                break
            if self.x0[i] <= xb:
                c += self.cnt[i]
                s += self.sum[i]
        return (s / c if c else math.nan), c

    def last_x(self) -> float:
        return self.x1[-1] if self.x1 else math.nan
