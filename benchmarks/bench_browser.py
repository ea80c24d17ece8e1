"""Browser speed, measured in headless Chromium (run by hand, not in CI).

    python benchmarks/bench_browser.py [--repeat 3] [--quick]

Starts its own `livepanel serve --store memory` on a free loopback port, drives
the system Chromium (/usr/bin/chromium) with Playwright, and prints one JSON
line per figure: {"figure", "unit", "median", "runs", "target", "ok", ...}.

Figures (targets from the frontend issue):
- draw_1m_ms: a 1,000,000-point trace drawn from scratch (uPlot built, data
  set, painted, next frame reached) <= 300 ms. Also fetch_decode_draw_1m_ms:
  the same including the full-resolution fetch and msgpack decode.
- frame_p95_ms: 50 windows each receiving 10 appends per second; p95 of the
  interval between animation frames <= 20 ms (and flush_p95_ms: the app's
  own work per frame).
- usable_20x1m_ms: a page with 20 windows of 1,000,000 points each, from
  navigation start to every window drawn and live <= 2000 ms (decimated
  snapshots first; full resolution on zoom).
"""

from __future__ import annotations

import argparse
import threading
import time

import common
import numpy as np
from common import report

post = common.Poster("bench-browser-1")


def line(env: str, win: str, x, y, name: str = "") -> dict:
    return {"op": "line", "env": env, "win": win, "name": name, "x": np.asarray(x, "<f8"), "y": np.asarray(y, "<f4")}


def bench_draw_1m(browser, url: str, repeat: int) -> None:
    n = 1_000_000
    x = np.arange(n, dtype="<f8")
    post(url, [line("bench-1m", "big", x, np.sin(x / 20000) + np.random.default_rng(0).normal(0, 0.1, n))])
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    page.goto(url + "/?env=bench-1m")
    page.wait_for_function("() => window.__livepanel.points('big') > 0", timeout=30000)
    e2e, draw = [], []
    for _ in range(repeat):
        page.evaluate("window.__livepanel.resetZoom('big')")
        e2e.append(
            page.evaluate("""async () => {
            const t0 = performance.now();
            await window.__livepanel.zoom('big', -1, 2e6, true);
            await new Promise((r) => requestAnimationFrame(() => r()));
            if (window.__livepanel.points('big') !== 1000000) throw new Error('not full resolution');
            return performance.now() - t0;
        }""")
        )
        draw.append(
            page.evaluate("""async () => {
            const t0 = performance.now();
            window.__livepanel.rebuild('big');
            await new Promise((r) => requestAnimationFrame(() => r()));
            return performance.now() - t0;
        }""")
        )
    page.close()
    report("draw_1m_ms", "ms", draw, 300, points=n)
    report("fetch_decode_draw_1m_ms", "ms", e2e, 300, points=n, note="includes the 12 MB full-resolution fetch")


def bench_frames(browser, url: str, repeat: int, seconds: float, all_visible: bool = False) -> None:
    wins = [f"w{i:02d}" for i in range(50)]
    x = np.arange(1000.0)
    post(url, [line("bench-50", w, x, np.cos(x / 100 + i)) for i, w in enumerate(wins)])
    p95s, flush95 = [], []
    for _ in range(repeat):
        page = browser.new_page(
            viewport={"width": 1920, "height": 1300} if all_visible else {"width": 1600, "height": 1000}
        )
        page.goto(url + "/?env=bench-50")
        page.wait_for_function("() => document.querySelectorAll('section.lp-win').length === 50", timeout=30000)
        if all_visible:  # small windows, every one on screen (none can defer its redraws)
            page.evaluate(
                "document.body.classList.add('picker-hidden'); "
                "for (const f of window.__livepanel.grid.frames.values()) f.setSize(230, 150)"
            )
            page.wait_for_timeout(300)
            assert page.evaluate("[...window.__livepanel.grid.frames.values()].every((f) => f.visible)")
        page.evaluate("""() => {
            const lp = window.__livepanel; lp.frames = []; lp.flushTimes.length = 0; lp.drawCount = 0;
            let last = performance.now();
            const tick = (t) => {
                lp.frames.push(t - last); last = t;
                if (!lp.stopFrames) requestAnimationFrame(tick);
            };
            requestAnimationFrame(tick);
        }""")
        stop = threading.Event()
        step = [1000]

        def feed(stop=stop, step=step):  # every 100 ms one append to each of the 50 windows = 10 appends/s each
            nxt = time.monotonic()
            while not stop.is_set():
                s = step[0]
                post(url, [line("bench-50", w, [s], [np.cos(s / 100 + i)]) for i, w in enumerate(wins)])
                step[0] += 1
                nxt += 0.1
                time.sleep(max(0.0, nxt - time.monotonic()))

        t = threading.Thread(target=feed, daemon=True)
        t.start()
        time.sleep(seconds)
        stop.set()
        t.join()
        res = page.evaluate("""() => { const lp = window.__livepanel; lp.stopFrames = true;
            return {frames: lp.frames.slice(5), flush: lp.flushTimes.slice(), draws: lp.drawCount}; }""")
        page.close()
        p95s.append(float(np.percentile(res["frames"], 95)))
        flush95.append(float(np.percentile(res["flush"], 95)) if res["flush"] else 0.0)
    tag = "_all_visible" if all_visible else ""
    report(
        f"frame_p95{tag}_ms",
        "ms",
        p95s,
        20,
        windows=50,
        appends_per_s_per_window=10,
        seconds=seconds,
        note="every window on screen"
        if all_visible
        else "1600x1000 viewport: windows off screen redraw when scrolled to",
    )
    report(f"flush_p95{tag}_ms", "ms", flush95, 20, note="the app's own work per animation frame")


def bench_usable(browser, url: str, repeat: int, n: int) -> None:
    x = np.arange(n, dtype="<f8")
    rng = np.random.default_rng(1)
    for i in range(20):
        post(url, [line("bench-20", f"m{i:02d}", x, np.cumsum(rng.normal(0, 1, n)).astype("<f4"))])
    runs = []
    for _ in range(repeat):
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(url + "/?env=bench-20")
        page.wait_for_function(
            "() => window.__livepanel.status === 'open' && Object.keys(window.__livepanel.lastDraw).length === 20",
            timeout=60000,
        )
        runs.append(
            page.evaluate("Math.max(...Object.values(window.__livepanel.lastDraw))")
        )  # ms since navigation start
        page.close()
    report("usable_20x1m_ms", "ms", runs, 2000, windows=20, points_per_window=n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="shorter runs (100,000-point windows, 5 s of appends)")
    common.add_chromium_arg(ap)
    args = ap.parse_args()
    common.require_bundle()
    with common.server(*common.BIG_PAYLOAD, store="memory") as srv, common.browser(args.chromium) as browser:
        bench_draw_1m(browser, srv.url, args.repeat)
        bench_frames(browser, srv.url, args.repeat, 5.0 if args.quick else 10.0)
        bench_frames(browser, srv.url, args.repeat, 5.0 if args.quick else 10.0, all_visible=True)
        bench_usable(browser, srv.url, args.repeat, 100_000 if args.quick else 1_000_000)


if __name__ == "__main__":
    main()
