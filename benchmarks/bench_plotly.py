"""Plotly windows' speed in headless Chromium (run by hand, not in CI).

    python benchmarks/bench_plotly.py [--repeat 5] [--points 100000] [--size 500]

Starts its own `livepanel serve --store memory` on a free loopback port, drives the system Chromium with
the browser tests' flags, and prints one JSON line per figure: {"figure", "unit", "median", "runs",
"target", "ok", ...}. Each figure line also says which WebGL renderer Chromium used: headless Chromium
without a GPU draws WebGL with SwiftShader (on the CPU), so 3-D figures are a floor, not a GPU's speed.

Figures (issue 20):
- surface_draw_ms: a 500 x 500 surface from data in the page (a Float64Array, as the wire delivers it,
  cut into rows the way views/plotly.ts does) to drawn: Plotly.react of new values into a shown 800 x 600
  plot (as a window redraws), then two animation frames (painted). Target <= 300 ms.
- surface_first_draw_ms: the same into a new plot: its WebGL context and shaders are made first.
- surface_window_ms: the same figure sent by panel.plotly through the server; the plotly view's own
  Plotly.react time (its data-draw-ms), as a user sees it after the data arrived. Reported, no target.
- scatter3d_rotate_fps: a 100,000-point 3-D scatter (markers) rotated by Plotly's own drag: mouse events
  on the scene's canvas, one move per animation frame, up to 120 frames or 30 s; frames per second that
  WebGL drew in (draw calls counted). Target >= 30. (Plotly.relayout of scene.camera per frame was tried
  and is slower: each relayout replots the scene, seconds per frame here.)

The same figures for the fast 3-D path (static/fast3d.js, three.js), which plotly windows of only surfaces,
3-D scatters and meshes use instead of Plotly, measured the same way: fast3d_surface_first_draw_ms (a new
scene), fast3d_surface_draw_ms (new values into a shown scene), fast3d_surface_window_ms (through the server,
the view's data-draw-ms) and fast3d_scatter3d_rotate_fps (mouse drag on its canvas, one move per animation
frame, frames counted by WebGL draw calls). `--only fast3d` or `--only plotly` runs one half.
The rotation twice: fast3d_scatter3d_rotate_full_fps draws every point in every frame (the scene's adaptive
detail off); fast3d_scatter3d_rotate_fps is the default that users get: while the camera moves and frames come
slower than 33 ms, a uniform random subset of the markers (fast3d/lod.ts, at least 20,000; drawn_while_moving
is its mean over the drag, sampled every 20 ms), and every point once the camera stops.
"""

from __future__ import annotations

import argparse

import common
import numpy as np
from common import report

post = common.Poster("bench-plotly-1")


SURFACE = """async ([n, phase, fresh]) => {
    const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
    const flat = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) flat[i * n + j] = Math.sin(i / 25 + phase) * Math.cos(j / 25);
    }
    let div = document.getElementById('bench-surface');
    if (fresh && div) { Plotly.purge(div); div.remove(); div = null; }
    if (!div) { div = document.createElement('div'); div.id = 'bench-surface'; document.body.prepend(div); }
    const t0 = performance.now();
    const z = [];
    for (let i = 0; i < n; i++) z.push(flat.subarray(i * n, (i + 1) * n));
    await Plotly.react(div, [{type: 'surface', z}], {width: 800, height: 600}, {displayModeBar: false});
    await frame();
    await frame();
    return performance.now() - t0;
}"""

# Plotly's own rotation: a drag on the scene's canvas (the mouse events its camera controller listens to),
# one mouse move per animation frame; a frame counts when WebGL drew in it (draw calls counted).
ROTATE = """async ([n, frames]) => {
    const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
    const x = new Float32Array(n), y = new Float32Array(n), z = new Float32Array(n);
    for (let i = 0; i < n; i++) { x[i] = Math.random(); y[i] = Math.random(); z[i] = Math.random(); }
    const div = document.createElement('div');
    document.body.prepend(div);
    const trace = {type: 'scatter3d', mode: 'markers', x, y, z, marker: {size: 2}};
    const layout = {width: 800, height: 600, margin: {l: 0, r: 0, t: 0, b: 0}};
    await Plotly.react(div, [trace], layout, {displayModeBar: false});
    await frame();
    await frame();
    const scene = div._fullLayout.scene._scene;
    const gl = scene.glplot.gl;
    let calls = 0;
    for (const name of ['drawArrays', 'drawElements']) {
        const f = gl[name].bind(gl);
        gl[name] = (...a) => { calls++; return f(...a); };
    }
    const canvas = scene.glplot.canvas;
    const r = canvas.getBoundingClientRect();
    const cx = r.left + r.width / 2, cy = r.top + r.height / 2;
    const ev = (type, x, buttons) =>
        canvas.dispatchEvent(new MouseEvent(type, {clientX: x, clientY: cy, buttons, button: 0, bubbles: true}));
    const eye0 = JSON.stringify(scene.getCamera().eye);
    ev('mousedown', cx, 1);
    await frame();
    let drawn = 0, last = calls, i = 0;
    const t0 = performance.now();
    for (; i < frames && performance.now() - t0 < 30000; i++) {
        ev('mousemove', cx + 3 * (i + 1), 1);
        await frame();
        if (calls > last) drawn++;
        last = calls;
    }
    const secs = (performance.now() - t0) / 1000;
    ev('mouseup', cx + 3 * i, 0);
    const moved = JSON.stringify(scene.getCamera().eye) !== eye0;
    Plotly.purge(div);
    div.remove();
    return {fps: drawn / secs, frames: i, moved};
}"""


THEME = "{fg: '#222', muted: '#777', grid: '#ccc', bg: '#fff'}"

# the fast path's surface: rows cut from the Float64Array as views/plotly.ts's toFigure does, then its draw
FAST_SURFACE = (
    """async ([n, phase, fresh]) => {
    const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
    const flat = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) flat[i * n + j] = Math.sin(i / 25 + phase) * Math.cos(j / 25);
    }
    let div = document.getElementById('bench-fast');
    if (fresh && div) { div.__scene.destroy(); div.remove(); div = null; }
    const t0 = performance.now();
    if (!div) {
        div = document.createElement('div'); div.id = 'bench-fast'; document.body.prepend(div);
        div.__scene = window.LivepanelFast3d.create(div);
    }
    const z = [];
    for (let i = 0; i < n; i++) z.push(flat.subarray(i * n, (i + 1) * n));
    div.__scene.draw({data: [{type: 'surface', z}], layout: {}}, 800, 600, """
    + THEME
    + """);
    await frame();
    await frame();
    return performance.now() - t0;
}"""
)

# the fast path's rotation: mouse events on its canvas (its orbit control listens to mousedown there and
# mousemove on the window), one move per animation frame; a frame counts when WebGL drew in it
FAST_ROTATE = (
    """async ([n, frames, adaptive]) => {
    const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
    const x = new Float32Array(n), y = new Float32Array(n), z = new Float32Array(n);
    for (let i = 0; i < n; i++) { x[i] = Math.random(); y[i] = Math.random(); z[i] = Math.random(); }
    const div = document.createElement('div');
    document.body.prepend(div);
    const scene = window.LivepanelFast3d.create(div);
    scene.adaptive = adaptive;
    const trace = {type: 'scatter3d', mode: 'markers', x, y, z, marker: {size: 2}};
    scene.draw({data: [trace], layout: {}}, 800, 600, """
    + THEME
    + """);
    await frame();
    await frame();
    const gl = scene.canvas.getContext('webgl2') || scene.canvas.getContext('webgl');
    let calls = 0;
    for (const name of ['drawArrays', 'drawElements']) {
        const f = gl[name].bind(gl);
        gl[name] = (...a) => { calls++; return f(...a); };
    }
    const canvas = scene.canvas;
    const r = canvas.getBoundingClientRect();
    const cx = r.left + r.width / 2, cy = r.top + r.height / 2;
    const ev = (type, x, buttons) =>
        canvas.dispatchEvent(new MouseEvent(type, {clientX: x, clientY: cy, buttons, button: 0, bubbles: true}));
    const view0 = JSON.stringify(scene.view());
    ev('mousedown', cx, 1);
    await frame();
    let sum = 0, count = 0;
    const probe = setInterval(() => { sum += scene.drawn(); count++; }, 20);
    let drawn = 0, last = calls, i = 0;
    const t0 = performance.now();
    for (; i < frames && performance.now() - t0 < 30000; i++) {
        ev('mousemove', cx + 3 * (i + 1), 1);
        await frame();
        if (calls > last) drawn++;
        last = calls;
    }
    const secs = (performance.now() - t0) / 1000;
    clearInterval(probe);
    ev('mouseup', cx + 3 * i, 0);
    const moved = JSON.stringify(scene.view()) !== view0;
    scene.destroy();
    div.remove();
    return {fps: drawn / secs, frames: i, moved, drawn: Math.round(sum / Math.max(1, count))};
}"""
)


def fast_page(browser, url: str):
    """A page that has loaded the fast 3-D path (it shows a small 3-D scatter)."""
    trace = {"type": "scatter3d", "mode": "markers", "x": [0.0, 1], "y": [0.0, 1], "z": [0.0, 1]}
    post(url, [{"op": "plotly", "env": "warm3d", "win": "w", "figure": {"data": [trace]}}])
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url + "/?env=warm3d")
    page.wait_for_function(
        "() => typeof window.LivepanelFast3d === 'object' && document.querySelector('.lp-plotly[data-state=drawn]')"
    )
    return page


def bench_fast3d(browser, url: str, args, renderer: str) -> None:
    page = fast_page(browser, url)
    n = args.size
    first = [page.evaluate(FAST_SURFACE, [n, r, True]) for r in range(args.repeat)]
    report("fast3d_surface_first_draw_ms", "ms", first, 300, size=f"{n}x{n}", webgl=renderer)
    runs = [page.evaluate(FAST_SURFACE, [n, r + 0.5, False]) for r in range(args.repeat)]
    report("fast3d_surface_draw_ms", "ms", runs, 300, size=f"{n}x{n}", webgl=renderer)
    window_runs = []
    g = np.linspace(0, 20, n)
    for r in range(args.repeat):
        z = np.sin(g[:, None] + r) * np.cos(g[None, :])
        post(url, [{"op": "plotly", "env": "warm3d", "win": "surf", "figure": {"data": [{"type": "surface", "z": z}]}}])
        page.wait_for_function("(r) => (window.__livepanel.draws['surf'] ?? 0) > r", arg=r, timeout=60000)
        view = "document.querySelector('section[data-win=surf] .lp-plotly')"
        assert page.evaluate(f"() => {view}.dataset.renderer") == "fast3d"
        window_runs.append(page.evaluate(f"() => Number({view}.dataset.drawMs)"))
    report("fast3d_surface_window_ms", "ms", window_runs, 300, size=f"{n}x{n}", webgl=renderer)
    for figure, adaptive in (("fast3d_scatter3d_rotate_full_fps", False), ("fast3d_scatter3d_rotate_fps", True)):
        rot = [page.evaluate(FAST_ROTATE, [args.points, args.frames, adaptive]) for _ in range(args.repeat)]
        assert all(r["moved"] for r in rot), "the drag did not turn the camera"
        report(
            figure,
            "frames/s",
            [r["fps"] for r in rot],
            30,
            higher=True,
            points=args.points,
            frames=[r["frames"] for r in rot],
            drawn_while_moving=[r["drawn"] for r in rot],
            webgl=renderer,
        )
    page.close()


def open_page(browser, url: str):
    """A page that has loaded Plotly (it shows a small plotly window)."""
    post(url, [{"op": "plotly", "env": "warm", "win": "w", "figure": {"data": [{"y": [1, 2, 3]}]}}])
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url + "/?env=warm")
    page.wait_for_function(
        "() => typeof window.Plotly === 'object' && document.querySelector('.lp-plotly[data-state=drawn]')"
    )
    return page


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--size", type=int, default=500, help="the surface is size x size")
    ap.add_argument("--points", type=int, default=100_000, help="points of the 3-D scatter")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--only", choices=["plotly", "fast3d"], help="run only one renderer's figures")
    common.add_chromium_arg(ap)
    args = ap.parse_args()
    common.require_bundle("plotly.js")
    with common.server(*common.BIG_PAYLOAD, store="memory") as srv, common.browser(args.chromium) as browser:
        url = srv.url
        if args.only == "fast3d":
            page = browser.new_page()
            bench_fast3d(browser, url, args, common.webgl_renderer(page))
            return
        page = open_page(browser, url)
        renderer = common.webgl_renderer(page)
        n = args.size
        first = [page.evaluate(SURFACE, [n, r, True]) for r in range(args.repeat)]
        report("surface_first_draw_ms", "ms", first, 300, size=f"{n}x{n}", webgl=renderer)
        runs = [page.evaluate(SURFACE, [n, r + 0.5, False]) for r in range(args.repeat)]
        report("surface_draw_ms", "ms", runs, 300, size=f"{n}x{n}", webgl=renderer)
        window_runs = []
        g = np.linspace(0, 20, n)
        for r in range(args.repeat):
            z = np.sin(g[:, None] + r) * np.cos(g[None, :])
            post(
                url,
                [
                    {
                        "op": "plotly",
                        "env": "warm",
                        "win": "surf",
                        "figure": {"data": [{"type": "surface", "z": z}]},
                    }
                ],
            )
            page.wait_for_function("(r) => (window.__livepanel.draws['surf'] ?? 0) > r", arg=r, timeout=60000)
            ms = page.evaluate(
                "() => Number(document.querySelector('section[data-win=surf] .lp-plotly').dataset.drawMs)"
            )
            window_runs.append(ms)
        report("surface_window_ms", "ms", window_runs, 300, size=f"{n}x{n}", webgl=renderer)
        rot = [page.evaluate(ROTATE, [args.points, args.frames]) for _ in range(args.repeat)]
        assert all(r["moved"] for r in rot), "the drag did not turn the camera"
        fps = [r["fps"] for r in rot]
        frames = [r["frames"] for r in rot]
        report(
            "scatter3d_rotate_fps",
            "frames/s",
            fps,
            30,
            higher=True,
            points=args.points,
            frames=frames,
            webgl=renderer,
        )
        if args.only != "plotly":
            bench_fast3d(browser, url, args, renderer)


if __name__ == "__main__":
    main()
