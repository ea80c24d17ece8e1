"""Scatter markers drawn with Visdom's options, in headless Chromium (run by hand, not in CI).

    python benchmarks/bench_visdom_markers.py [--repeat 5] [--points 100000]

Starts its own `livepanel serve --store memory` on a free loopback port, sends scatters with the
real Visdom-compatible client, and prints one JSON line per figure (median of the runs): the time
from throwing a chart away to the next frame after it is drawn again (of the points the page holds:
`drawn`), for
- scatter_circle_ms: uPlot's own round markers (the plain case);
- scatter_diamond_ms: a symbol livepanel paints (views/linepaint.ts), one colour;
- scatter_colours_ms: 3,000 diamonds in 3,000 per-point colours (a trace the page holds whole: one
  of more than twice the page's width in pixels comes decimated, in its trace's colour);
- scatter_labels_ms: 2,000 points with a text label each.
"""

from __future__ import annotations

import argparse

import common
import numpy as np
from common import report

from livepanel.visdom import Visdom


def draw_ms(page, win: str, repeat: int) -> list[float]:
    """Rebuild the chart and wait for the next frame, `repeat` times."""
    runs = []
    for _ in range(repeat):
        runs.append(
            page.evaluate(
                """async (win) => { const t0 = performance.now(); window.__livepanel.rebuild(win);
                await new Promise((r) => requestAnimationFrame(() => r())); return performance.now() - t0; }""",
                win,
            )
        )
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--points", type=int, default=100_000)
    common.add_chromium_arg(ap)
    args = ap.parse_args()
    n = args.points
    with common.server(store="memory") as srv:
        viz = Visdom(
            server="http://127.0.0.1", port=srv.port, env="bench-markers", spool_dir=srv.data_dir.parent / "spool"
        )
        rng = np.random.default_rng(0)
        pts = rng.random((n, 2))
        colours = rng.integers(0, 256, (3000, 3))
        viz.scatter(X=pts, win="circle", opts={"markersize": 4})
        viz.scatter(X=pts, win="diamond", opts={"markersize": 4, "markersymbol": "diamond"})
        viz.scatter(X=pts[:3000], win="colours", opts={"markersymbol": "diamond", "markercolor": colours})
        viz.scatter(X=pts[:2000], win="labels", opts={"textlabels": [f"p{i}" for i in range(2000)]})
        assert viz.flush(60)
        viz.panel.close(timeout=5)
        with common.browser(args.chromium) as browser:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(srv.url + "/?env=bench-markers")
            for win in ("circle", "diamond", "colours", "labels"):
                page.wait_for_function(f"() => window.__livepanel.points('{win}') > 0", timeout=60000)
            for win in ("circle", "diamond"):  # stored n; the page holds the decimated snapshot (drawn)
                drawn = page.evaluate(f"window.__livepanel.points('{win}')")
                report(f"scatter_{win}_ms", "ms", draw_ms(page, win, args.repeat), 300, points=n, drawn=drawn)
            colours_ms = draw_ms(page, "colours", args.repeat)
            painted = page.evaluate("window.__livepanel.chart('colours').looks[0].perPoint")
            report("scatter_colours_ms", "ms", colours_ms, 300, points=3000, per_point_colours=painted)
            report("scatter_labels_ms", "ms", draw_ms(page, "labels", args.repeat), 300, points=2000)


if __name__ == "__main__":
    main()
