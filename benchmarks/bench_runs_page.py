"""The runs table's speed in headless Chromium (issue 19 item 11; run by hand, not in CI).

    python benchmarks/bench_runs_page.py [--runs 1000] [--keys 20] [--metrics 10] [--repeat 5]

Starts its own `livepanel serve --store memory` on a free loopback port, logs RUNS envs with KEYS config
keys and METRICS line metrics each through one real client (livepanel.Panel, batching), opens the page in
the system Chromium with Playwright, and prints one JSON line per figure with median, min and max:

- open_ms: from the click on "runs" to the table painted (a fresh page each time) <= 200 ms
  (open_with_plots_ms: until the parallel coordinates, the scatter and the importance are up to date too)
- sort_ms: from a header click to the sorted table painted <= 50 ms
- filter_ms: from a filter expression typed to the filtered table painted <= 50 ms
(and the app's own render time of each, *_render_ms, as window.__livepanel.runsTable reports it).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import common
import numpy as np

import livepanel

OPTIMIZERS = ("adam", "sgd", "rmsprop", "adamw")
# in one call (no round trip between the start and the end): do `what`, then wait for the frame after
# it to be painted (a rAF, then a task queued from it runs after that frame's paint)
MEASURE = """async (what) => {
  const t0 = performance.now();
  if (what.startsWith('click:')) document.querySelector(what.slice(6)).click();
  else { const box = document.querySelector('.lp-runs-filter');
         box.value = what.slice(7); box.dispatchEvent(new Event('input')); }
  await new Promise((done) => requestAnimationFrame(() => {
    const c = new MessageChannel(); c.port1.onmessage = done; c.port2.postMessage(null); }));
  return [t0, performance.now() - t0];
}"""


def report(figure: str, unit: str, runs: list[float], target: float | None = None, **extra) -> None:
    common.report(figure, unit, runs, target, spread=True, **extra)


def log_runs(url: str, runs: int, keys: int, metrics: int, points: int, spool: Path) -> float:
    """Every run's config and metrics through one client; returns the seconds it took (bounded: 600 s)."""
    t0 = time.monotonic()
    rng = np.random.default_rng(0)
    with livepanel.Panel(url, env="bench/runs-0000", spool_dir=spool, send_interval=0.05, max_queue=2_000_000) as p:
        x = np.arange(points, dtype=float)
        for i in range(runs):
            env = f"bench/runs-{i:04d}"
            config = {"optimizer": OPTIMIZERS[i % 4], "lr": float(10 ** rng.uniform(-5, -1)), "seed": i % 5}
            config.update(
                {f"hp{k:02d}": float(rng.normal()) if k % 3 else int(rng.integers(0, 8)) for k in range(keys - 3)}
            )
            p.config(config, env=env)
            for m in range(metrics):
                p.line(x, np.exp(-x / (10 + m)) + rng.random() * 0.1, win=f"metric{m:02d}", env=env)
            if time.monotonic() - t0 > 600:
                raise SystemExit(f"logging took over 600 s at run {i}")
        if not p.flush(600):
            raise SystemExit("the server did not acknowledge every batch in 600 s")
    return time.monotonic() - t0


def open_page(browser, url: str, runs: int):
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = ctx.new_page()
    page.goto(url + "/")
    page.wait_for_function(f"() => window.__livepanel && window.__livepanel.runs.rows.size >= {runs}", timeout=60000)
    return ctx, page


def bench_open(browser, url: str, runs: int, repeat: int) -> None:
    shown, render, beside = [], [], []
    for _ in range(repeat):
        ctx, page = open_page(browser, url, runs)
        page.wait_for_timeout(300)  # the landing page's windows settle first (bounded)
        t0, ms = page.evaluate(MEASURE, "click:.lp-toggle-runs")
        stats = page.evaluate("() => window.__livepanel.runsTable")
        assert stats["rows"] == runs, stats["rows"]
        shown.append(ms)
        render.append(stats["lastRenderMs"])
        page.wait_for_function(f"() => window.__livepanel.runsTable.besideAt > {t0}", timeout=30000)
        beside.append(page.evaluate("() => window.__livepanel.runsTable.besideAt") - t0)
        ctx.close()
    report("open_ms", "ms", shown, 200, rows=runs, dom_rows=stats["domRows"], columns=len(stats["columns"]))
    report("open_render_ms", "ms", render)
    report(
        "open_with_plots_ms", "ms", beside, note="the parallel coordinates, scatter and importance come after the table"
    )


def bench_sort_filter(browser, url: str, runs: int, repeat: int) -> None:
    ctx, page = open_page(browser, url, runs)
    page.locator(".lp-toggle-runs").click()
    page.wait_for_function(f"() => window.__livepanel.runsTable.rows === {runs}", timeout=30000)
    page.wait_for_timeout(300)
    cols = ["config.lr", "metric.metric03", "env", "config.hp05", "config.optimizer", "metric.metric07", "steps"]
    sort, sort_render = [], []
    for i in range(max(repeat, 5)):
        col = cols[i % len(cols)]
        sort.append(page.evaluate(MEASURE, f'click:.lp-rt-h[data-col="{col}"]')[1])
        sort_render.append(page.evaluate("() => window.__livepanel.runsTable.lastSortMs"))
        page.wait_for_timeout(100)  # the plots catch up (bounded)
    report("sort_ms", "ms", sort, 50, rows=runs)
    report("sort_render_ms", "ms", sort_render)
    exprs = ['optimizer == "adam" and lr < 0.001', 'name ~ "-0[0-4]"', "hp04 > 0 or seed == 2", "metric03 < 0.5", ""]
    filt, filt_render, shown = [], [], []
    for i in range(max(repeat, 5)):
        filt.append(page.evaluate(MEASURE, "filter:" + exprs[i % len(exprs)])[1])
        stats = page.evaluate("() => window.__livepanel.runsTable")
        filt_render.append(stats["lastFilterMs"])
        shown.append(stats["rows"])
        page.wait_for_timeout(100)
    report("filter_ms", "ms", filt, 50, rows_shown=shown)
    report("filter_render_ms", "ms", filt_render)
    ctx.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--keys", type=int, default=20)
    ap.add_argument("--metrics", type=int, default=10)
    ap.add_argument("--points", type=int, default=20, help="points per metric")
    ap.add_argument("--repeat", type=int, default=5)
    common.add_chromium_arg(ap)
    args = ap.parse_args()
    common.require_bundle()
    with common.server(store="memory") as srv:
        took = log_runs(srv.url, args.runs, args.keys, args.metrics, args.points, srv.data_dir.parent / "spool")
        common.emit(
            figure="log_s", unit="s", median=round(took, 1), runs=args.runs, keys=args.keys, metrics=args.metrics
        )
        with common.browser(args.chromium) as browser:
            bench_open(browser, srv.url, args.runs, args.repeat)
            bench_sort_filter(browser, srv.url, args.runs, args.repeat)


if __name__ == "__main__":
    main()
