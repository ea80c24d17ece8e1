"""Min/max decimation: at most a few points per pixel column, so spikes survive.

For each column the point with the smallest y, the one with the largest, and the first
non-finite one (so gaps stay gaps) are kept, in their original order. Columns are equal
slices of x when x is sorted, else equal counts of points.
"""

from __future__ import annotations

import numpy as np


def decimate(x: np.ndarray, y: np.ndarray, width: int) -> np.ndarray:
    """Indices of the points to keep to draw (x, y) on `width` pixel columns."""
    n = len(x)
    width = max(1, int(width))
    if n <= 2 * width:
        return np.arange(n)
    if n and x[0] < x[-1] and bool(np.all(x[1:] >= x[:-1])):
        edges = np.linspace(x[0], x[-1], width + 1)
        starts = np.searchsorted(x, edges[:-1], "left")
        starts[0] = 0
    else:
        starts = (np.arange(width) * n) // width
    starts = np.unique(starts)
    starts = starts[starts < n]
    yf = y.astype("f8", copy=False)
    finite = np.isfinite(yf)
    lo_y = np.where(finite, yf, np.inf)
    hi_y = np.where(finite, yf, -np.inf)
    mins = np.minimum.reduceat(lo_y, starts)
    maxs = np.maximum.reduceat(hi_y, starts)
    # Position of each column's min and max: first index in the column equal to it.
    col = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, n)))
    keep = np.zeros(n, bool)
    for target, values in ((mins, lo_y), (maxs, hi_y)):
        hit = values == target[col]
        first = _first_per_column(hit, col, len(starts))
        keep[first[first >= 0]] = True
    bad = _first_per_column(~finite, col, len(starts))
    keep[bad[bad >= 0]] = True
    keep[0] = keep[n - 1] = True
    return np.flatnonzero(keep)


def _first_per_column(mask: np.ndarray, col: np.ndarray, ncols: int) -> np.ndarray:
    """For each column, the first index where mask is true, or -1."""
    idx = np.flatnonzero(mask)
    out = np.full(ncols, -1, np.int64)
    if len(idx):
        cols = col[idx]
        first = np.ones(len(idx), bool)
        first[1:] = cols[1:] != cols[:-1]
        out[cols[first]] = idx[first]
    return out
