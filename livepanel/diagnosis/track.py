"""A fixed-size, multi-resolution summary of one series, fed point by point or by the million.

Points are gathered into blocks; each closed block keeps a few sums (count, sum, sum of squares,
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
from collections.abc import Callable
from itertools import accumulate

import numpy as np

from livepanel.sumsq import sum_of_squares

CAPACITY = 128
SMALL = 64  # observe() calls up to this many points take the pure-Python path
JUDGE_GROWTH = 64  # detectors run again within a large call (and not_learning at all) once 1/64 more closed
JUDGE_BLOCKS = 4  # ...or this many of its smallest blocks, if more (a young dense series)
LOG_FLOOR = -30.0  # log10 of a zero gradient norm: a collapse, not an error
_SQRT_PI_2 = math.sqrt(math.pi) / 2  # E|a-b| = 2 sigma / sqrt(pi) for Gaussian noise


class Track:
    """Block summary of one series; values are stored as log10 when `log` (gradient norms)."""

    __slots__ = (
        "log",
        "bsize",
        "jmin",
        "by",
        "buf",
        "an",
        "px0",
        "prev",
        "n",
        "first",
        "st",
        "cnt",
        "sum",
        "sq",
        "dab",
        "nd",
        "x0",
        "x1",
        "pc",
        "fcm",
        "fcm2",
        "fms",
        "keep",
        "b0",
        "eras",
        "clock",
        "lx",
    )

    def __init__(
        self, log: bool = False, min_block: int = 1, keep: bool = False, clock: list[int] | None = None
    ) -> None:
        self.log = log
        # keep: the lists of past merges are kept (a few), so that another series can read this one as it
        # was at an earlier x (Track.at); clock[0] is the number of batches settled (old ones are dropped)
        self.keep = keep
        self.b0 = min_block
        self.eras: list[tuple] = []
        self.clock = clock if clock is not None else [0]
        self.lx = -math.inf  # x of the last point received (closed or pending)
        self.bsize = min_block  # a power of two; doubles at each merge
        self.jmin = JUDGE_BLOCKS * min_block if min_block > 1 else 1  # points between judgements in a call, at least
        # Points not yet in a block (fewer than bsize): numpy values in buf[:an] (only when blocks are
        # large, bsize > SMALL, and a large call came), then Python floats in `by` (small calls).
        # Only their values are kept: a block needs the x of its first and last point, no more.
        self.by: list[float] = []
        self.buf: np.ndarray | None = None
        self.an = 0
        self.px0 = math.nan  # x of the first pending point
        self.prev = math.nan  # last finite (transformed) value, for step-to-step changes
        self.n = 0  # points closed into blocks
        self.first: list[float] = []  # first few finite values: the starting level
        self.st = math.nan  # their median, once all are there
        self.cnt: list[int] = []
        self.sum: list[float] = []
        self.sq: list[float] = []  # sum of squares, for the spread inside a window
        self.dab: list[float] = []
        self.nd: list[int] = []
        self.x0: list[float] = []
        self.x1: list[float] = []
        self.pc: list[int] = [0]  # prefix sums of cnt (pc[i] = sum(cnt[:i])): levels found by bisection
        # per closed block, for line fits (line_sums): count*middle, count*middle^2, middle*sum (until a merge)
        self.fcm: list[float] = []
        self.fcm2: list[float] = []
        self.fms: list[float] = []

    # ------------------------------------------------------------ feeding

    def pending(self) -> int:
        """Points waiting for their block."""
        return len(self.by) + self.an

    def feed(
        self,
        x: np.ndarray,
        v: list[float] | np.ndarray,
        hook: Callable[[int], bool | None] | None,
        judge: Callable[[], None],
    ) -> None:
        """Queue the points of one call (x their x, v their values: Python floats or a float64 array) and
        close every block they fill, calling hook(blocks) after each closed block, and judge() after each
        block where the series is due (Track.due) or whose hook returned true. So the detectors run at
        points the series itself defines, whatever the calls it came in: the same verdicts, at the same x,
        point by point or all at once.

        Nothing of the caller's arrays is kept: what stays pending is copied (list or own buffer).
        """
        n = len(v)
        if not n:
            return
        pend = len(self.by) + self.an
        if not pend:
            self.px0 = x[0]
        if pend + n < self.bsize:
            self._queue(v)
            return
        off = 0
        if pend:  # the open block, completed from this call's first points
            off = self.bsize - pend
            self._close(self.px0, x[off - 1], self._take_pending(v[:off]))
            self._closed(hook, judge)
        arr = isinstance(v, np.ndarray)
        while n - off >= self.bsize:  # bounded: each pass closes at least one block of bsize >= 1 points
            b = self.bsize
            k = min((n - off) // b, CAPACITY - len(self.cnt))
            if arr and k > 1 and self._close_many(x, v, off, k, hook, judge):
                off += k * b
                continue
            vals = v[off : off + b]
            if arr and b <= SMALL:
                vals = vals.tolist()
            self._close(x[off], x[off + b - 1], vals)
            off += b
            self._closed(hook, judge)
        if off < n:
            self.px0 = x[off]
            self._queue(v[off:] if off else v)

    def due(self) -> bool:
        """Whether the detectors run at the block just closed: each time the series' length reaches a
        multiple of a power of two near 1/JUDGE_GROWTH of it (at least jmin points), so about every
        block once the series has merged, every jmin points while young."""
        n = self.n
        g = n // JUDGE_GROWTH
        g = 1 << (g.bit_length() - 1) if g else 1
        if g < self.jmin:
            g = self.jmin
        return not n % g

    def _closed(self, hook: Callable[[int], bool | None] | None, judge: Callable[[], None]) -> None:
        """After a block closed (and merged, if full): its hook, then the detectors if due."""
        if (hook is not None and hook(len(self.cnt))) or self.due():
            judge()

    def _queue(self, v: list[float] | np.ndarray) -> None:
        """Keep points that fill no block (a copy: the caller's arrays are not held)."""
        if isinstance(v, list):
            self.by += v
            return
        b = self.bsize
        if b <= SMALL:
            self.by += v.tolist()
            return
        buf, an = self.buf, self.an
        if buf is None or len(buf) < b:  # blocks grew: a larger buffer, pending values moved over
            new = np.empty(b, dtype=np.float64)
            if an:
                new[:an] = buf[:an]
            self.buf = buf = new
        if self.by:  # they came after buf[:an] and before v
            m = len(self.by)
            buf[an : an + m] = self.by
            an += m
            self.by = []
        m = len(v)
        buf[an : an + m] = v
        self.an = an + m

    def _take_pending(self, head: list[float] | np.ndarray) -> list[float] | np.ndarray:
        """The pending points (buf[:an], then by) followed by `head`, as one block's values; pending is left empty."""
        if not isinstance(head, list):
            head = head.tolist() if self.bsize <= SMALL or not self.an else head
        if self.bsize <= SMALL:  # an is 0: buf is used only for large blocks
            vals = self.by + head
        elif self.an and not self.by:  # completed in its own buffer (closed before the buffer is reused)
            vals = self.buf[: self.bsize]
            vals[self.an :] = head
            self.an = 0
        elif self.an:
            vals = np.concatenate((self.buf[: self.an], np.array(self.by, dtype=np.float64), head))
            self.an = 0
        else:
            vals = np.array(self.by + head, dtype=np.float64)
        self.by = []
        return vals

    def _close(self, x0: float, x1: float, vals: list[float] | np.ndarray) -> None:
        """Close one block of these values (as many as bsize), first and last x given."""
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
                q = sum(map(operator.mul, vals, vals))
                p, d = self.prev, 0.0
                if p == p:
                    d = abs(vals[0] - p)
                if c > 1:
                    d = sum(map(abs, map(operator.sub, vals[1:], vals)), d)
                nd = c - (p != p)
                if len(self.first) < 5:
                    self.first.extend(vals[: 5 - len(self.first)])
                self.prev = vals[-1]
        else:
            v = vals
            q = sum_of_squares(v)  # finite when every value is (or an overflow: filtered the same way)
            if q - q != 0:
                v = v[np.isfinite(v)]
                q = sum_of_squares(v)
            if self.log:
                v = np.log10(np.maximum(v, 1e-30))
                v[v <= -30.0] = LOG_FLOOR
                q = sum_of_squares(v)
            c = len(v)
            if c:
                s = float(np.add.reduce(v))
                d = float(np.add.reduce(np.abs(v[1:] - v[:-1])))
                nd = c - 1
                if self.prev == self.prev:
                    d += abs(float(v[0]) - self.prev)
                    nd += 1
                if len(self.first) < 5:
                    self.first.extend(v[: 5 - len(self.first)].tolist())
                self.prev = float(v[-1])
        if not c:
            s, q, d, nd = 0.0, 0.0, 0.0, 0
        self.n += m
        self.pc.append(self.pc[-1] + c)
        self.cnt.append(c)
        self.sum.append(s + 0.0)  # -0.0 becomes 0.0, as sum() gives
        self.sq.append(q)
        self.dab.append(d)
        self.nd.append(nd)
        self.x0.append(float(x0))
        self.x1.append(float(x1))
        if len(self.cnt) >= CAPACITY:
            self._merge()

    def _close_many(
        self,
        x: np.ndarray,
        v: np.ndarray,
        off: int,
        k: int,
        hook: Callable[[int], bool | None] | None,
        judge: Callable[[], None],
    ) -> bool:
        """Close k blocks from v[off:] (a large call): their sums vectorised, then appended one by one
        with their hook and judgement, as if closed one at a time; False (nothing done) when a value is
        not finite (the caller closes them one by one, which filters them)."""
        b = self.bsize
        seg = v[off : off + k * b]
        if not math.isfinite(sum_of_squares(seg)):
            return False
        if self.log:
            seg = np.log10(np.maximum(seg, 1e-30))
            seg[seg <= -30.0] = LOG_FLOOR
        rows = seg.reshape(k, b)
        diff = np.empty(k * b, dtype=np.float64)
        p = self.prev
        diff[0] = abs(seg[0] - p) if p == p else 0.0
        np.abs(seg[1:] - seg[:-1], out=diff[1:])
        first_nd = b - 1 if p != p else b
        if len(self.first) < 5:
            self.first.extend(seg[: 5 - len(self.first)].tolist())
        self.prev = float(seg[-1])
        sums = (rows.sum(axis=1) + 0.0).tolist()
        sqs = np.einsum("ij,ij->i", rows, rows).tolist()
        dabs = diff.reshape(k, b).sum(axis=1).tolist()
        end = off + k * b
        x0s = np.asarray(x[off:end:b], dtype=np.float64).tolist()
        x1s = np.asarray(x[off + b - 1 : end : b], dtype=np.float64).tolist()
        for j in range(k):  # bounded by CAPACITY: the blocks, in order, each as _close leaves it
            self.pc.append(self.pc[-1] + b)
            self.cnt.append(b)
            self.sum.append(sums[j])
            self.sq.append(sqs[j])
            self.dab.append(dabs[j])
            self.nd.append(first_nd if not j else b)
            self.x0.append(x0s[j])
            self.x1.append(x1s[j])
            self.n += b
            if len(self.cnt) >= CAPACITY:
                self._merge()
            self._closed(hook, judge)
        return True

    def _merge(self) -> None:
        """Halve the number of blocks by merging neighbours; the block size doubles."""
        c, s, q, d, nd = self.cnt, self.sum, self.sq, self.dab, self.nd
        if self.keep:  # the lists are replaced below, not changed: the past state stays readable as is
            now = self.clock[0]
            self.eras = [e for e in self.eras[:-1] if e[0] >= now - 1] + self.eras[-1:]
            self.eras.append((now, self.bsize, c, s, q, d, nd, self.x0, self.x1, self.pc))
        self.sq = [a + b for a, b in zip(q[::2], q[1::2], strict=True)]
        self.cnt = [a + b for a, b in zip(c[::2], c[1::2], strict=True)]
        self.sum = [a + b for a, b in zip(s[::2], s[1::2], strict=True)]
        self.dab = [a + b for a, b in zip(d[::2], d[1::2], strict=True)]
        self.nd = [a + b for a, b in zip(nd[::2], nd[1::2], strict=True)]
        self.pc = [0, *accumulate(self.cnt)]
        self.fcm, self.fcm2, self.fms = [], [], []
        self.x0 = self.x0[::2]
        self.x1 = self.x1[1::2]
        self.bsize *= 2

    # ------------------------------------------------------------ reading

    def at(self, xq: float) -> Track:
        """This series as it was when its last block ending at or before x closed (itself when that is its
        last block; otherwise a copy of the lists, from the merges kept: see keep). Older than the oldest
        state kept: that oldest state (within the last batch or two, all are kept)."""
        x1 = self.x1
        if not x1 or x1[-1] <= xq:
            return self
        end = bisect_right(x1, xq)
        if end >= (0 if self.bsize == self.b0 else CAPACITY // 2):
            return self._view(self.bsize, self.cnt, self.sum, self.sq, self.dab, self.nd, self.x0, x1, self.pc, end)
        era = None
        for era in reversed(self.eras):  # bounded by the kept merges
            _, b, c, s, q, d, nd, e0, e1, pc = era
            lo = 0 if b == self.b0 else CAPACITY // 2
            end = min(bisect_right(e1, xq), CAPACITY - 1)
            if end >= lo:
                return self._view(b, c, s, q, d, nd, e0, e1, pc, end)
        if era is None:
            return self._view(
                self.bsize, self.cnt, self.sum, self.sq, self.dab, self.nd, self.x0, x1, self.pc, CAPACITY // 2
            )
        return self._view(*era[1:], CAPACITY // 2)

    def snap(self) -> tuple:
        """This state, to read later as it is now (Track.thaw): the lists are only appended to until a merge
        replaces them, so references and a length keep it, without a copy."""
        return (
            self,
            self.bsize,
            self.cnt,
            self.sum,
            self.sq,
            self.dab,
            self.nd,
            self.x0,
            self.x1,
            self.pc,
            len(self.cnt),
        )

    @staticmethod
    def thaw(snap: tuple) -> Track:
        """The state Track.snap kept (the track itself when nothing closed since)."""
        t = snap[0]
        if snap[2] is t.cnt and snap[-1] == len(t.cnt):
            return t
        return t._view(*snap[1:])

    def _view(
        self, b: int, c: list, s: list, q: list, d: list, nd: list, e0: list, e1: list, pc: list, end: int
    ) -> Track:
        t = Track.__new__(Track)
        t.log, t.bsize, t.jmin, t.b0 = self.log, b, self.jmin, self.b0
        t.by, t.buf, t.an, t.px0, t.prev = [], None, 0, math.nan, math.nan
        t.first, t.st = self.first, self.st
        t.cnt, t.sum, t.sq, t.dab, t.nd = c[:end], s[:end], q[:end], d[:end], nd[:end]
        t.x0, t.x1, t.pc = e0[:end], e1[:end], pc[: end + 1]
        t.n = end * b
        t.fcm, t.fcm2, t.fms = [], [], []
        t.keep, t.eras, t.clock, t.lx = False, [], self.clock, t.x1[-1] if end else -math.inf
        return t

    def nblocks(self) -> int:
        return len(self.cnt)

    def start(self) -> float:
        """Starting level: median of the first few finite values (one early spike does not move it)."""
        if self.st == self.st:
            return self.st
        f = sorted(self.first)
        if not f:
            return math.nan
        if len(f) >= 5:  # first holds at most 5 values: the start is known for good
            self.st = f[len(f) // 2]
        return f[len(f) // 2]

    def back(self, m: int, end: int | None = None) -> tuple[int, int]:
        """The trailing blocks before `end` holding at least m finite points: (count, index of the first)."""
        end = len(self.cnt) if end is None else end
        if m <= 0:
            return 0, end
        if end and self.cnt[end - 1] >= m:  # the usual case once blocks are large: the last block alone
            return self.cnt[end - 1], end - 1
        pc = self.pc
        # the last i with at least m points in blocks [i, end), else 0
        i = max(0, bisect_right(pc, pc[end] - m, 0, end + 1) - 1)
        return pc[end] - pc[i], i

    def level(self, m: int, end: int | None = None) -> tuple[float, int, int]:
        """Mean of the trailing blocks before `end` holding at least m finite points.

        Returns (mean, count, index of the first block used); count < m when history is short.
        """
        end = len(self.cnt) if end is None else end
        c, i = self.back(m, end)
        if not c:
            return math.nan, 0, i
        if i == end - 1:
            return (self.sum[i] + 0.0) / c, c, i
        return sum(self.sum[end - 1 : i - 1 if i else None : -1]) / c, c, i  # summed from the end, in order

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

    def line_sums(self, begin: int, end: int) -> tuple[int, float, float, float, float]:
        """Sums for a least-squares line through blocks [begin, end): (points, sum of their values, and
        over the blocks: count*middle, count*middle^2, middle*sum), a block's middle being its middle
        point's place among the series' finite points. The products are kept per closed block until the
        next merge, so a young series judged every few blocks computes only the blocks closed since."""
        cm, cm2, ms = self.fcm, self.fcm2, self.fms
        pc, cnt, sm = self.pc, self.cnt, self.sum
        for i in range(len(cm), len(cnt)):  # bounded by CAPACITY
            mid = (pc[i] + pc[i + 1]) * 0.5
            c = cnt[i]
            cm.append(c * mid)
            cm2.append(c * mid * mid)
            ms.append(mid * sm[i])
        return pc[end] - pc[begin], sum(sm[begin:end]), sum(cm[begin:end]), sum(cm2[begin:end]), sum(ms[begin:end])

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
