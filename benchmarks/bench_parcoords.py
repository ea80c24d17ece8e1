"""Brushing the parallel coordinates of 1,000 runs, measured in headless Chromium (run by hand).

    python benchmarks/bench_parcoords.py [--runs 1000] [--repeat 5] [--frames 120]

Starts its own `livepanel serve --store memory` on a free loopback port, logs N envs each with a
config of 20 keys (optimizer, learning rate over 4 decades, seed, ...) and 10 metrics, opens the page
with the runs panel in the system Chromium (/usr/bin/chromium), shows 8 axes, and moves a brush
programmatically (`ParCoords.brush`) once per animation frame for `--frames` frames. Each repetition
reports frames per second (frames drawn over the wall time of the sweep) and the parallel
coordinates' own draw time per frame; the page's reaction to each brush change (the runs table and the
scatter following) is inside the measured frames; brush_fps_plot_only is the same sweep with the page
no longer told (the plot's own cost). brush_draw_ms is the JavaScript of a frame's drawing; the canvas
raster that follows is in the frames per second. Prints one JSON line per figure:
{"figure", "unit", "median", "min", "max", "runs", "target", "ok", ...}. Target (issue 19 item 11):
brushing at >= 30 frames/s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import urllib.request

import common
import numpy as np

from livepanel import protocol

OPTIMIZERS = ["adam", "adamw", "sgd", "lion", "rmsprop"]
CREATE_LIMIT_S = 120.0  # logging the runs must not take longer than this
post = common.Poster("bench-parcoords-1")


def run_ops(i: int, rng: np.random.Generator, points: int) -> list[dict]:
    """One run: its config (20 keys) and 10 metric traces of `points` points each."""
    env = f"pc-{i:04d}"
    lr = float(10 ** rng.uniform(-5, -1))
    config = {
        "optimizer": OPTIMIZERS[i % len(OPTIMIZERS)],
        "lr": lr,
        "seed": i % 3,
        "batch_size": int(2 ** rng.integers(4, 9)),
        "momentum": float(rng.uniform(0.8, 0.99)),
        "weight_decay": float(10 ** rng.uniform(-6, -2)),
        "dropout": round(float(rng.uniform(0, 0.5)), 3),
        "warmup": int(rng.integers(0, 2000)),
        "nesterov": bool(i % 2),
    }
    for k in range(20 - len(config)):
        config[f"p{k:02d}"] = float(rng.normal())
    x = np.arange(points, dtype="<f8")
    ops: list[dict] = [{"op": "run", "env": env, "config": config, "merge": True}]
    for m in range(10):
        y = np.exp(-x / (20 + 200 * lr * 1e3)) * (1 + m / 10) + rng.uniform(0, 0.2, points)
        ops.append({"op": "line", "env": env, "win": f"m{m}", "name": "train", "x": x, "y": y.astype("<f4")})
    return ops


def create(url: str, n: int, points: int) -> float:
    """Log n runs in batches; return the seconds it took (bounded by CREATE_LIMIT_S)."""
    rng = np.random.default_rng(0)
    t0 = time.monotonic()
    batch: list[dict] = []
    for i in range(n):
        batch += run_ops(i, rng, points)
        if len(batch) >= 50 * 11 or i == n - 1:
            post(url, batch)
            batch = []
        if time.monotonic() - t0 > CREATE_LIMIT_S:
            sys.exit(f"creating {n} runs took over {CREATE_LIMIT_S:.0f} s; stopped at {i + 1}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # every run is in the runs route before the page opens
        with urllib.request.urlopen(url + "/api/v1/runs", timeout=60) as resp:
            if len(protocol.unpackb(resp.read())["runs"]) >= n:
                return time.monotonic() - t0
        time.sleep(0.2)
    sys.exit(f"the server did not list {n} runs within 60 s")


def report(figure: str, unit: str, runs: list[float], target: float, higher_is_better: bool, **extra) -> None:
    common.report(figure, unit, runs, target, higher=higher_is_better, digits=2, spread=True, **extra)


PLOT = "document.querySelector('.lp-parcoords').lpPlot"


def open_page(browser, url: str, n: int):
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(url + "/?runs=1")  # the runs panel open, as a link to it opens it
    common.wait_live(page)
    page.wait_for_function(
        f"() => {{ const el = document.querySelector('.lp-parcoords'); return !!el && !!el.lpPlot && "
        f"el.lpPlot.debug().runs >= {n} && el.lpPlot.debug().geometry.width > 0; }}",
        timeout=60000,
    )
    return page


SWEEP = """async ([frames, key]) => {
  const pc = document.querySelector('.lp-parcoords').lpPlot;
  const ax = pc.debug().axes.find((a) => a.key === key);
  if (!ax) throw new Error('no axis ' + key);
  pc.clearBrushes();
  await new Promise((r) => requestAnimationFrame(() => r()));
  const d0 = pc.debug();
  const lo = Number(ax.ticks[0]), hi = Number(ax.ticks[ax.ticks.length - 1]);
  const width = (hi - lo) * 0.3;
  const t0 = performance.now();
  for (let i = 0; i < frames; i++) {
    const a = lo + ((hi - lo - width) * i) / (frames - 1);
    pc.brush(key, a, a + width);
    await new Promise((r) => requestAnimationFrame(() => r()));
  }
  await new Promise((r) => requestAnimationFrame(() => r()));
  const t1 = performance.now();
  const d1 = pc.debug();
  const drawn = d1.frames - d0.frames;
  const told = d1.told - d0.told;
  const passing = d1.passing ? d1.passing.length : -1;
  return { drawn, told, seconds: (t1 - t0) / 1000, drawMs: d1.drawMs.slice(-drawn), passing };
}"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--points", type=int, default=50, help="points per metric trace")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--frames", type=int, default=120)
    common.add_chromium_arg(ap)
    args = ap.parse_args()
    if not 1 <= args.runs <= 10_000 or not 1 <= args.repeat <= 50 or not 10 <= args.frames <= 2000:
        sys.exit("--runs 1..10000, --repeat 1..50, --frames 10..2000")
    common.require_bundle()
    with common.server(*common.BIG_PAYLOAD, store="memory") as srv:
        created = create(srv.url, args.runs, args.points)
        common.emit(figure="create_runs_s", unit="s", value=round(created, 2), runs=args.runs)
        with common.browser(args.chromium) as browser:
            page = open_page(browser, srv.url, args.runs)
            axes = ["config.optimizer", "config.lr", "config.seed", "config.batch_size", "config.momentum"]
            axes += ["config.weight_decay", "config.dropout", "metric.m0/train"]
            page.evaluate(f"(keys) => {PLOT}.setAxes(keys)", axes)
            shown = page.evaluate(f"() => {PLOT}.debug().axes.map((a) => a.key)")
            if len(shown) != 8:
                sys.exit(f"expected 8 axes, the page shows {shown}")
            fps, draw_med, draw_max, alone, told = [], [], [], [], []
            for _ in range(args.repeat):
                r = page.evaluate(SWEEP, [args.frames, "metric.m0/train"])
                fps.append(r["drawn"] / r["seconds"])
                told.append(r["told"] / r["seconds"])
                draw_med.append(statistics.median(r["drawMs"]))
                draw_max.append(max(r["drawMs"]))
            # the plot alone: the page no longer told of the brush (table, scatter, overlays stay)
            page.evaluate(f"() => {{ {PLOT}.opts.onBrush = () => {{}}; }}")
            for _ in range(args.repeat):
                r = page.evaluate(SWEEP, [args.frames, "metric.m0/train"])
                alone.append(r["drawn"] / r["seconds"])
            page.close()
    extra = {"runs_shown": args.runs, "axes": 8, "frames": args.frames}
    report("brush_fps", "frames/s", fps, 30, True, **extra)
    report("brush_page_told_per_s", "calls/s", told, 0, True, **extra, note="onBrush calls: the table follows")
    report("brush_fps_plot_only", "frames/s", alone, 30, True, **extra, note="onBrush not followed by the page")
    report("brush_draw_ms_median", "ms", draw_med, 33.3, False, **extra, note="ParCoords draw per frame")
    report("brush_draw_ms_max", "ms", draw_max, 33.3, False, **extra)


if __name__ == "__main__":
    main()
