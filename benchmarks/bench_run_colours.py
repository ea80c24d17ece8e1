"""Highlighting a run and moving the shared cursor over overlaid windows, in headless Chromium (by hand).

    python benchmarks/bench_run_colours.py [--windows 12] [--runs 6] [--points 10000] [--repeat 5] [--moves 60]

Starts its own `livepanel serve --store memory` on a free loopback port, logs `--runs` envs, each with
`--windows` line windows of two traces (train, val) of `--points` points, and opens the page with
every env selected, so every window overlays all runs. Two figures, medians over `--repeat` sweeps:

- highlight_ms: setting the page's focused run (what hovering a curve, a legend entry or a table row
  does) until every line window has redrawn with that run highlighted (the JavaScript of the redraws,
  measured after uPlot's queued commits ran; the raster follows in the next frame);
- cursor_move_ms: one pointer move over one window's plot, with the cursor synced to every window
  sharing its x axis and each of them updating its box of run values and the highlight.

Prints one JSON line per figure: {"figure", "unit", "median", "min", "max", "runs", ...}.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import common
import numpy as np

post = common.Poster("bench-run-colours-1")


def create(url: str, runs: int, windows: int, points: int) -> list[str]:
    rng = np.random.default_rng(0)
    x = np.arange(points, dtype="<f8")
    envs = [f"bench/run-{i:02d}" for i in range(runs)]
    for i, env in enumerate(envs):
        ops = []
        for w in range(windows):
            for t, trace in enumerate(("train", "val")):
                y = np.exp(-x / (points / 5)) + i + 0.1 * t + 0.05 * rng.random(points)
                ops.append({"op": "line", "env": env, "win": f"w{w:02d}", "name": trace, "x": x, "y": y})
        post(url, ops)
    return envs


HIGHLIGHT = """async (envs) => {
  const lp = window.__livepanel;
  const out = [];
  for (const env of [...envs, null]) {
    const t0 = performance.now();
    lp.focus.set(env);
    await Promise.resolve();  // uPlot's queued commits (queued before this) have run
    out.push(performance.now() - t0);
    await new Promise((r) => requestAnimationFrame(() => r()));
  }
  return out;
}"""

MOVES = """async ([win, moves]) => {
  const over = document.querySelector(`section[data-win="${win}"] .u-over`);
  const box = over.getBoundingClientRect();
  const out = [];
  over.dispatchEvent(new MouseEvent('mouseenter', { clientX: box.left + 5, clientY: box.top + 5 }));
  for (let i = 0; i < moves; i++) {
    const x = box.left + 5 + ((box.width - 10) * i) / (moves - 1);
    const y = box.top + box.height * (0.2 + 0.6 * ((i * 7) % moves) / moves);
    const t0 = performance.now();
    over.dispatchEvent(new MouseEvent('mousemove', { clientX: x, clientY: y, bubbles: true }));
    await Promise.resolve();
    out.push(performance.now() - t0);
    await new Promise((r) => requestAnimationFrame(() => r()));
  }
  over.dispatchEvent(new MouseEvent('mouseleave', { clientX: 0, clientY: 0 }));
  return out;
}"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--windows", type=int, default=12)
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--points", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--moves", type=int, default=60)
    common.add_chromium_arg(ap)
    args = ap.parse_args()
    if not (1 <= args.windows <= 50 and 2 <= args.runs <= 24 and 10 <= args.points <= 200_000):
        sys.exit("--windows 1..50, --runs 2..24, --points 10..200000")
    if not (1 <= args.repeat <= 50 and 10 <= args.moves <= 1000):
        sys.exit("--repeat 1..50, --moves 10..1000")
    common.require_bundle()
    with common.server(*common.BIG_PAYLOAD, store="memory") as srv:
        t0 = time.monotonic()
        envs = create(srv.url, args.runs, args.windows, args.points)
        common.emit(figure="create_s", unit="s", value=round(time.monotonic() - t0, 2))
        with common.browser(args.chromium) as browser:
            page = browser.new_page(viewport={"width": 1600, "height": 4000})
            page.goto(srv.url + "/?" + "&".join(f"env={e}" for e in envs))
            n = 2 * args.runs
            page.wait_for_function(
                f"() => window.__livepanel?.status === 'open' && Array.from({{length: {args.windows}}}, "
                f"(_, w) => 'w' + String(w).padStart(2, '0')).every((w) => "
                f"window.__livepanel.chart(w)?.labels.length === {n})",
                timeout=120_000,
            )
            highlight, moves = [], []
            for _ in range(args.repeat):
                highlight.append(statistics.median(page.evaluate(HIGHLIGHT, envs)))
                moves.append(statistics.median(page.evaluate(MOVES, ["w00", args.moves])))
    extra = {"windows": args.windows, "runs_shown": args.runs, "points": args.points}
    common.report("highlight_ms", "ms", highlight, digits=2, spread=True, **extra)
    common.report("cursor_move_ms", "ms", moves, digits=2, spread=True, **extra)


if __name__ == "__main__":
    main()
