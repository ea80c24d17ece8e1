"""A trace's points in memory: chunked numpy arrays with amortised O(1) appends.

Points live in chunks of at most CHUNK points. The last chunk grows by doubling up to
CHUNK, so a short trace wastes little memory and a long one is never re-concatenated:
an append copies only the new points. Each point costs 8 (x) + 4 or 8 (y) + 4 (t) bytes.
"""

from __future__ import annotations

import numpy as np

CHUNK = 1 << 16


class Series:
    """x (f8), y (f4 or f8, as first sent) and wall time t (f4 seconds after t0)."""

    __slots__ = ("ydtype", "t0", "_chunks", "_fill", "n", "monotonic", "_last_x", "_minmax")

    def __init__(self, ydtype: np.dtype | str = "f8", t0: float = 0.0):
        self.ydtype = np.dtype(ydtype).newbyteorder("<")
        self.t0 = t0
        self._chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._fill = 0  # points used in the last chunk
        self.n = 0
        self.monotonic = True
        self._last_x = -np.inf
        self._minmax: tuple[int, float, float] | None = None  # (points counted, min, max) of y, NaN left out

    @staticmethod
    def y_dtype_for(y: np.ndarray) -> np.dtype:
        """float32 stays float32; every other type is kept as float64."""
        return np.dtype("<f4") if y.dtype == np.float32 else np.dtype("<f8")

    def append(self, x: np.ndarray, y: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Append points (t: absolute wall times in seconds, or one for all); return them as stored."""
        m = len(x)
        if m == 0:
            return np.empty(0, "<f8"), np.empty(0, self.ydtype), np.empty(0, "<f4")
        if self.n == 0:
            self.t0 = float(t[0])
        if len(t) == 1 and m > 1:  # one time for every point
            ts = np.full(m, float(t[0]) - self.t0, "<f4")
        else:
            ts = (np.asarray(t, dtype="<f8") - self.t0).astype("<f4")
        return self.append_stored(x, y, ts)

    def append_stored(self, x: np.ndarray, y: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Append points whose time is already relative to t0 (as persisted)."""
        m = len(x)
        xs = np.asarray(x, dtype="<f8")
        if m == 0:
            return xs, np.empty(0, self.ydtype), np.empty(0, "<f4")
        if self.monotonic:
            first = xs[0]
            if not (first >= self._last_x) or (m > 1 and not bool(np.all(xs[1:] >= xs[:-1]))):
                self.monotonic = False
        self._last_x = xs[-1]
        ys = np.asarray(y, dtype=self.ydtype)
        ts = np.asarray(ts, dtype="<f4")
        pos = 0
        while pos < m:
            if not self._chunks or self._fill == len(self._chunks[-1][0]):
                self._grow(m - pos)
            cx, cy, ct = self._chunks[-1]
            take = min(len(cx) - self._fill, m - pos)
            sl = slice(self._fill, self._fill + take)
            cx[sl], cy[sl], ct[sl] = xs[pos : pos + take], ys[pos : pos + take], ts[pos : pos + take]
            self._fill += take
            pos += take
        self.n += m
        return xs, ys, ts

    def mark(self) -> tuple:
        """Where the series stands, for `rollback` (appends after it can be taken back)."""
        return self.n, len(self._chunks), self._fill, self.monotonic, self._last_x, self.t0

    def rollback(self, mark: tuple) -> None:
        """Forget the points appended since `mark`. A chunk grown since keeps its first points, and
        chunks started since are dropped, so the arrays are back to what they were."""
        self.n, chunks, self._fill, self.monotonic, self._last_x, self.t0 = mark
        del self._chunks[chunks:]
        self._minmax = None

    def stats(self) -> tuple[float, float, float, float] | None:
        """(min, max) of y without NaN (NaN when every y is NaN), and x and y of the last point; None when
        empty. Kept up to date by counting only the points appended since the last call."""
        if self.n == 0:
            return None
        counted, lo, hi = self._minmax or (0, np.inf, -np.inf)
        if counted < self.n:
            _, ys = self.tail(self.n - counted)
            finite = ys[~np.isnan(ys)]
            if len(finite):
                lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
            self._minmax = (self.n, lo, hi)
        x, y = self.tail(1)
        if lo > hi:  # no number yet
            lo = hi = float("nan")
        return lo, hi, float(x[0]), float(y[0])

    def _grow(self, want: int) -> None:
        """Make room: double a small last chunk, else start a new one."""
        if self._chunks and len(self._chunks[-1][0]) < CHUNK:
            old = self._chunks.pop()
            size = min(CHUNK, max(2 * len(old[0]), self._fill + want))
            new = self._alloc(size)
            for dst, src in zip(new, old, strict=True):
                dst[: self._fill] = src[: self._fill]
            self._chunks.append(new)
            return
        self._chunks.append(self._alloc(min(CHUNK, max(16, want))))
        self._fill = 0

    def _alloc(self, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.empty(size, "<f8"), np.empty(size, self.ydtype), np.empty(size, "<f4")

    def _parts(self):
        last = len(self._chunks) - 1
        for i, (cx, cy, ct) in enumerate(self._chunks):
            k = self._fill if i == last else len(cx)
            yield cx[:k], cy[:k], ct[:k]

    def arrays(self, x0: float | None = None, x1: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of x, y and absolute t, cut to x0 <= x <= x1 when given."""
        parts = list(self._parts())
        if not parts:
            return np.empty(0, "<f8"), np.empty(0, self.ydtype), np.empty(0, "<f8")
        if (x0 is not None or x1 is not None) and self.monotonic:
            lo = -np.inf if x0 is None else x0
            hi = np.inf if x1 is None else x1
            cut = []
            for px, py, pt in parts:
                if px[-1] < lo or px[0] > hi:
                    continue
                a, b = np.searchsorted(px, lo, "left"), np.searchsorted(px, hi, "right")
                cut.append((px[a:b], py[a:b], pt[a:b]))
            parts = cut or [(np.empty(0, "<f8"), np.empty(0, self.ydtype), np.empty(0, "<f4"))]
        x = np.concatenate([p[0] for p in parts])
        y = np.concatenate([p[1] for p in parts])
        t = np.concatenate([p[2] for p in parts]).astype("<f8") + self.t0
        if (x0 is not None or x1 is not None) and not self.monotonic:
            keep = np.ones(len(x), bool)
            if x0 is not None:
                keep &= x >= x0
            if x1 is not None:
                keep &= x <= x1
            x, y, t = x[keep], y[keep], t[keep]
        return x, y, t

    def tail(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the last k points' x and y, as stored (k at most n)."""
        xs, ys, left = [], [], min(k, self.n)
        for px, py, _ in reversed(list(self._parts())):
            if left <= 0:
                break
            take = min(left, len(px))
            xs.append(px[len(px) - take :])
            ys.append(py[len(py) - take :])
            left -= take
        if not xs:
            return np.empty(0, "<f8"), np.empty(0, self.ydtype)
        return np.concatenate(xs[::-1]), np.concatenate(ys[::-1])

    def raw_t(self) -> np.ndarray:
        """Relative f4 times as stored (persistence writes these)."""
        return np.concatenate([p[2] for p in self._parts()]) if self._chunks else np.empty(0, "<f4")

    def nbytes(self) -> int:
        return sum(c.nbytes for chunk in self._chunks for c in chunk)
