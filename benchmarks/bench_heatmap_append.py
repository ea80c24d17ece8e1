"""Heatmap rows appended one call at a time (Visdom's heatmap(update="appendRow")), run by hand.

    python benchmarks/bench_heatmap_append.py [--repeat 3] [--rows 1000] [--cols 100]

Starts its own `livepanel serve` (SQLite store) on a free loopback port and prints one JSON line per
figure: {"figure", "unit", "median", "runs", ...}.

- append_row_ms: mean time per appendRow of one row of `cols` cells, from the first call to the last
  row stored (flush), while the window grows to `rows` rows. The server joins the row and stores the
  window's whole matrix, so the cost grows with the matrix (as Visdom's does).
- heatmap_rows_per_s: the rows stored per second over the same run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import common
import numpy as np

from livepanel.visdom import Visdom


def one_run(port: int, rows: int, cols: int, spool: Path, run: int) -> float:
    viz = Visdom(server="http://127.0.0.1", port=port, env=f"bench{run}", spool_dir=spool)
    try:
        win = viz.heatmap(np.zeros((1, cols)), win="hm")
        viz.flush(60)
        row = np.random.default_rng(run).random((1, cols))
        start = time.perf_counter()
        for _ in range(rows - 1):
            viz.heatmap(row, win=win, update="appendRow")
        assert viz.flush(600)
        elapsed = time.perf_counter() - start
        assert viz.panel.get(win)["z"].shape == (rows, cols)
        return elapsed
    finally:
        viz.panel.close(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--cols", type=int, default=100)
    args = ap.parse_args()
    with common.server() as srv:
        tmp = srv.data_dir.parent
        times = [one_run(srv.port, args.rows, args.cols, tmp / f"spool{i}", i) for i in range(args.repeat)]
    per_row = [1000 * t / (args.rows - 1) for t in times]
    base = {"rows": args.rows, "cols": args.cols}
    common.report("append_row_ms", "ms", per_row, digits=3, **base)
    common.report("heatmap_rows_per_s", "rows/s", [(args.rows - 1) / t for t in times], digits=None, **base)


if __name__ == "__main__":
    main()
