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
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "browser"), str(ROOT / "tests"), str(ROOT)]
from conftest import LAUNCH_ARGS  # noqa: E402  (the Chromium flags the browser tests use)
from serverproc import ServerProcess  # noqa: E402

from livepanel import protocol  # noqa: E402

_seq = iter(range(1, 1 << 40))


def post(url: str, ops: list[dict]) -> None:
    body = protocol.packb({"client": "bench-run-colours-1", "seq": next(_seq), "ops": ops})
    req = urllib.request.Request(url + "/api/v1/ingest", body, {"Content-Type": "application/msgpack"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        assert resp.status == 200


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


def report(figure: str, unit: str, runs: list[float], **extra) -> None:
    med = statistics.median(runs)
    line = {"figure": figure, "unit": unit, "median": round(med, 2), "min": round(min(runs), 2)}
    line |= {"max": round(max(runs), 2), "runs": [round(r, 2) for r in runs], **extra}
    print(json.dumps(line), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--windows", type=int, default=12)
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--points", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--moves", type=int, default=60)
    ap.add_argument("--chromium", default=os.environ.get("LIVEPANEL_CHROMIUM", "/usr/bin/chromium"))
    args = ap.parse_args()
    if not (1 <= args.windows <= 50 and 2 <= args.runs <= 24 and 10 <= args.points <= 200_000):
        sys.exit("--windows 1..50, --runs 2..24, --points 10..200000")
    if not (1 <= args.repeat <= 50 and 10 <= args.moves <= 1000):
        sys.exit("--repeat 1..50, --moves 10..1000")
    if not (ROOT / "livepanel" / "static" / "app.js").exists():
        sys.exit("build the app first: cd frontend && npm ci && npm run build (or pip install -e .)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        srv = ServerProcess(Path(tmp) / "data", "--max-payload", str(256 << 20), store="memory").start()
        try:
            t0 = time.monotonic()
            envs = create(srv.url, args.runs, args.windows, args.points)
            print(json.dumps({"figure": "create_s", "unit": "s", "value": round(time.monotonic() - t0, 2)}))
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=args.chromium, args=LAUNCH_ARGS)
                try:
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
                finally:
                    browser.close()
        finally:
            srv.stop()
    extra = {"windows": args.windows, "runs_shown": args.runs, "points": args.points}
    report("highlight_ms", "ms", highlight, **extra)
    report("cursor_move_ms", "ms", moves, **extra)


if __name__ == "__main__":
    main()
