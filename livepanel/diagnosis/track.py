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
    )

    def __init__(self, log: bool = False) -> None:
        self.log = log
        self.bsize = 1
        self.bx: list[float] = []  # x and y of points not yet in a block
        self.by: list[float] = []
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

    # ------------------------------------------------------------ feeding

    def ready(self) -> bool:
        return len(self.by) >= self.bsize

    def close(self) -> None:
        """Close one block from the front of the pending points (call while `ready()`)."""
        b = self.bsize
        xs, ys = self.bx, self.by
        self._block(xs[0], xs[b - 1], ys[:b] if b <= SMALL else np.asarray(ys[:b], dtype=np.float64))
        del xs[:b], ys[:b]

    def close_array(self, x: np.ndarray, y: np.ndarray) -> None:
        """Close one block made of exactly bsize points given as arrays (the vectorised path)."""
        self._block(float(x[0]), float(x[-1]), y)

    def _block(self, x0: float, x1: float, vals: list[float] | np.ndarray) -> None:
        m = len(vals)
        if isinstance(vals, list):
            if self.log:
                vals = [math.log10(v) if v > 1e-30 else LOG_FLOOR for v in vals if v - v == 0]
            else:
                vals = [v for v in vals if v - v == 0]
            c = len(vals)
            if c:
                s, lo, hi = sum(vals), min(vals), max(vals)
                q = sum([v * v for v in vals])
                p, d = self.prev, 0.0
                if p == p:
                    d = abs(vals[0] - p)
                for a, b in zip(vals, vals[1:], strict=False):
                    d += abs(b - a)
                nd = c - (p != p)
                if len(self.first) < 5:
                    self.first.extend(vals[: 5 - len(self.first)])
                self.prev = vals[-1]
        else:
            v = np.asarray(vals, dtype=np.float64)
            fin = np.isfinite(v)
            if not fin.all():
                v = v[fin]
            if self.log:
                v = np.log10(np.maximum(v, 1e-30))
                v[v <= -30.0] = LOG_FLOOR
            c = len(v)
            if c:
                s, lo, hi = float(v.sum()), float(v.min()), float(v.max())
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
        i = len(self.cnt) if end is None else end
        c, s = 0, 0.0
        cnt, sm = self.cnt, self.sum
        while i > 0 and c < m:  # bounded by CAPACITY
            i -= 1
            c += cnt[i]
            s += sm[i]
        return (s / c if c else math.nan), c, i

    def spread(self, begin: int, end: int | None = None) -> tuple[float, float, int]:
        """(mean, standard deviation, count) of all finite points in blocks [begin, end)."""
        end = len(self.cnt) if end is None else end
        c = sum(self.cnt[begin:end])
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
