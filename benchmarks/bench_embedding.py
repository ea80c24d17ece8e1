"""Embedding windows' speed (run by hand, not in CI).

    python benchmarks/bench_embedding.py [--repeat 3] [--points 100000] [--only server|browser]

Prints one JSON line per figure: {"figure", "unit", "median", "runs", "target", "ok", ...}.

Server figures (numpy, in this process):
- pca_ms: embedding.pca of 50,000 x 256 float32 features (what the store runs when a step arrives).
  Target <= 1000 ms.
- neighbours_ms: the 10 nearest points of one point among 50,000 x 256 (cosine, brute force). No target.
- ingest_ms: panel.embedding of 50,000 x 256 until the server acknowledged it (stored, PCA done), through a
  `livepanel serve --store memory` on a free loopback port. No target.

Browser figures (headless Chromium with the browser tests' flags; SwiftShader draws WebGL on the CPU):
- embedding_rotate_fps: 100,000 points in 3-D drawn by the embedding renderer (fast3d/points.ts), rotated
  by mouse drags on its canvas (one move per animation frame, up to 120 frames); frames per second in
  which WebGL drew (draw calls counted), at a canvas of WxH (the window's body at the default window size
  is about 460 x 260; 800 x 600 is what bench_plotly.py's fast3d figure uses). Target >= 30.
  With every point drawn in every frame (the renderer's adaptive detail off).
- embedding_rotate_adaptive_fps: the same with the renderer's default: while the camera moves and frames
  come slower than 33 ms, it draws a uniform random subset (at least 20,000 points; drawn_while_moving
  says how many on average), and every point once the camera stops.
- fast3d_scatter3d_rotate_fps: the plotly windows' three.js Points (fast3d/index.ts, marker size 2) the
  same way and at the same sizes, for comparison.
- window_rotate_fps: an embedding window of 100,000 x 16 sent through the server and drawn in the page at
  its default size, rotated the same way (adaptive detail on, as users get it).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import common
import numpy as np
from common import report

import livepanel
from livepanel import embedding


def features(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((10, d)) * 3
    return (centres[np.arange(n) % 10] + rng.standard_normal((n, d))).astype(np.float32)


def bench_server(args, url: str) -> None:
    x = features(50_000, 256)
    runs = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        embedding.pca(x)
        runs.append((time.perf_counter() - t0) * 1000)
    report("pca_ms", "ms", runs, 1000, size="50000x256")
    norms = embedding.row_norms(x)
    runs = []
    for i in range(args.repeat):
        t0 = time.perf_counter()
        embedding.neighbours(x, norms, i, 10)
        runs.append((time.perf_counter() - t0) * 1000)
    report("neighbours_ms", "ms", runs, None, size="50000x256", k=10, metric="cosine")
    runs = []
    with livepanel.Panel(url, env="bench", spool_dir=tempfile.mkdtemp()) as panel:
        for step in range(args.repeat):
            t0 = time.perf_counter()
            panel.embedding(x, win="ingest", step=step)
            call = (time.perf_counter() - t0) * 1000
            assert panel.flush(120)
            runs.append((time.perf_counter() - t0) * 1000)
    report("ingest_ms", "ms", runs, None, size="50000x256", last_call_ms=round(call, 1))


# A drag on a canvas, one mouse move per animation frame; a frame counts when WebGL drew in it.
DRAG = """
async function drag(canvas, frames) {
    const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
    const gl = canvas.getContext('webgl2') || canvas.getContext('webgl');
    let calls = 0;
    for (const name of ['drawArrays', 'drawElements']) {
        const f = gl[name].bind(gl);
        gl[name] = (...a) => { calls++; return f(...a); };
    }
    const r = canvas.getBoundingClientRect();
    const cx = r.left + 10, cy = r.top + r.height / 2;
    const ev = (type, x, buttons) =>
        canvas.dispatchEvent(new MouseEvent(type, {clientX: x, clientY: cy, buttons, button: 0, bubbles: true}));
    ev('mousedown', cx, 1);
    await frame();
    let drawn = 0, last = calls, i = 0;
    const t0 = performance.now();
    for (; i < frames && performance.now() - t0 < 30000; i++) {
        window.dispatchEvent(new MouseEvent('mousemove', {clientX: cx + 3 * (i + 1), clientY: cy, buttons: 1}));
        await frame();
        if (calls > last) drawn++;
        last = calls;
    }
    const secs = (performance.now() - t0) / 1000;
    window.dispatchEvent(new MouseEvent('mouseup', {clientX: cx + 3 * i, clientY: cy, button: 0}));
    return {fps: drawn / secs, frames: i};
}
"""

POINTS = (
    "async ([n, w, h, frames, adaptive]) => {"
    + DRAG
    + """
    const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
    const pos = new Float32Array(n * 3), col = new Uint8Array(n * 3);
    for (let i = 0; i < n * 3; i++) { pos[i] = Math.random(); col[i] = (i * 37) % 255; }
    const div = document.createElement('div');
    document.body.prepend(div);
    const scene = window.LivepanelFast3d.points(div);
    scene.setBackground('#ffffff');
    scene.setSize(w, h);
    scene.setData(pos, 3, 3);
    scene.setColors(col);
    scene.adaptive = adaptive;
    await frame(); await frame();
    let sum = 0, count = 0;
    const probe = setInterval(() => { sum += scene.drawn(); count++; }, 20);
    const out = await drag(scene.canvas, frames);
    clearInterval(probe);
    out.drawn = Math.round(sum / Math.max(1, count));
    scene.destroy(); div.remove();
    return out;
}"""
)

FAST3D = (
    "async ([n, w, h, frames]) => {"
    + DRAG
    + """
    const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
    const x = new Float32Array(n), y = new Float32Array(n), z = new Float32Array(n);
    for (let i = 0; i < n; i++) { x[i] = Math.random(); y[i] = Math.random(); z[i] = Math.random(); }
    const div = document.createElement('div');
    document.body.prepend(div);
    const scene = window.LivepanelFast3d.create(div);
    const trace = {type: 'scatter3d', mode: 'markers', x, y, z, marker: {size: 2}};
    scene.draw({data: [trace], layout: {}}, w, h, {fg: '#222', muted: '#777', grid: '#ccc', bg: '#fff'});
    await frame(); await frame();
    const out = await drag(scene.canvas, frames);
    scene.destroy(); div.remove();
    return out;
}"""
)

WINDOW = (
    "async ([frames]) => {"
    + DRAG
    + """
    const canvas = document.querySelector('section[data-win="big"] .lp-embed-host canvas');
    const scene = document.querySelector('section[data-win="big"] .lp-embed-host').lpScene;
    let sum = 0, count = 0;
    const probe = setInterval(() => { sum += scene.drawn(); count++; }, 20);
    const out = await drag(canvas, frames);
    clearInterval(probe);
    out.drawn = Math.round(sum / Math.max(1, count));
    out.size = `${canvas.width}x${canvas.height}`;
    return out;
}"""
)


def bench_browser(args, url: str) -> None:
    x = features(args.points, 16)
    with livepanel.Panel(url, env="benchwin", spool_dir=tempfile.mkdtemp()) as panel:
        panel.embedding(x, labels=[str(i % 10) for i in range(args.points)], win="big")
        assert panel.flush(120)
    with common.browser(args.chromium) as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url + "/?env=benchwin")
        page.wait_for_function(
            "() => document.querySelector('section[data-win=big] .lp-embed')?.dataset.state === 'drawn'",
            timeout=120000,
        )
        renderer = common.webgl_renderer(page)
        for w, h in ((460, 260), (800, 600)):
            for figure, script, adaptive in (
                ("embedding_rotate_fps", POINTS, False),
                ("embedding_rotate_adaptive_fps", POINTS, True),
                ("fast3d_scatter3d_rotate_fps", FAST3D, None),
            ):
                runs = [page.evaluate(script, [args.points, w, h, args.frames, adaptive]) for _ in range(args.repeat)]
                fps = [r["fps"] for r in runs]
                extra = {"drawn_while_moving": [r["drawn"] for r in runs]} if adaptive else {}
                size = f"{w}x{h}"
                report(figure, "frames/s", fps, 30, higher=True, points=args.points, size=size, webgl=renderer, **extra)
        runs = [page.evaluate(WINDOW, [args.frames]) for _ in range(args.repeat)]
        report(
            "window_rotate_fps",
            "frames/s",
            [r["fps"] for r in runs],
            30,
            higher=True,
            points=args.points,
            size=runs[0]["size"],
            drawn_while_moving=[r["drawn"] for r in runs],
            webgl=renderer,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--only", choices=["server", "browser"])
    common.add_chromium_arg(ap)
    args = ap.parse_args()
    with common.server(store="memory") as srv:
        if args.only != "browser":
            bench_server(args, srv.url)
        if args.only != "server":
            bench_browser(args, srv.url)


if __name__ == "__main__":
    main()
