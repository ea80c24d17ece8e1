"""Graph windows' speed in headless Chromium (run by hand, not in CI).

    python benchmarks/bench_graph.py [--repeat 3] [--layers 57]

Starts its own `livepanel serve --store memory` on a free loopback port, drives the system Chromium with
the browser tests' flags, and prints one JSON line per figure: {"figure", "unit", "median", "runs",
"target", "ok", ...}. The models are written by hand in tests/graph_models.py (torchvision is not
installed): a ResNet-50 traced by torch.fx with shapes (177 nodes), and a transformer encoder of `--layers`
blocks (57 give 2,002 nodes).

Figures (issue 21, item 1):
- resnet50_draw_ms: panel.graph's message posted to drawn in a page that shows the env: server, socket,
  decode, the graph model, the dagre layout and the canvas drawing (the first run also loads
  static/graph.js). Each run is a new graph (it replaces the window's), laid out anew (no layout kept).
  Every node shows (177 boxes fit the 250 a graph opens to). Target <= 1000 ms.
- transformer_draw_ms: the same for the 2,000-node transformer as the page opens it (module groups
  closed past the level where more than 250 boxes would show). Target <= 3000 ms.
- flat2000_draw_ms: the same transformer without its module paths (as an ONNX file without scopes would
  be): 2,002 boxes in no group, laid out in parts of 250 stacked top to bottom. Target <= 3000 ms.
- transformer_open_all_ms: "open all" on it: every one of the 2,000 nodes laid out and drawn (from the
  click to drawn), with no group layout kept from before. Target <= 3000 ms. Groups are laid out one by
  one (src/graph/layout.ts), and the 57 blocks share one structure: `dagre_runs` counts the dagre runs.
- transformer_pan_fps_fit, _labels, _all_in_view: the 2,000 open nodes dragged by the mouse (pointer
  events on the canvas, one move per animation frame for 120 frames) at the zoom the window opens at,
  at 0.8 (labels and edge shapes drawn), and zoomed out until the whole graph is in view (every box and
  edge drawn, labels too small to draw); frames the canvas drew per second. Target >= 30. Also `draw_ms`:
  the median time of one canvas draw (what bounds the frame rate on a faster display).
"""

from __future__ import annotations

import argparse
import time

import common
from common import report

from livepanel.client import graph as client_graph

post = common.Poster("bench-graph-1")
VIEW = "window.__livepanel.grid.frames.get('model').view"


def draws(page) -> int:
    return page.evaluate("() => window.__livepanel.draws['model'] ?? 0")


def drew_more(page, before: int) -> None:
    page.wait_for_function(
        "(n) => (window.__livepanel.draws['model'] ?? 0) > n", arg=before, polling="raf", timeout=120000
    )


def send_and_wait(page, url: str, env: str, graph: dict) -> float:
    """Post a graph; ms until the page drew it."""
    before = draws(page)
    t0 = time.perf_counter()
    post(url, [{"op": "graph", "env": env, "win": "model", "graph": graph, "opts": {"width": 1200, "height": 760}}])
    drew_more(page, before)
    return (time.perf_counter() - t0) * 1000


# a mouse drag on the canvas from inside the page: one pointer move per animation frame (as a browser
# delivers them), frames counted by the canvas's own draws
PAN = """async (frames) => {
    const view = window.__livepanel.grid.frames.get('model').view;
    const canvas = document.querySelector("section[data-win='model'] canvas.lp-graph-canvas");
    const r = canvas.getBoundingClientRect();
    let x = r.left + r.width / 2, y = r.top + r.height / 2;
    const send = (type) => canvas.dispatchEvent(
        new PointerEvent(type, {clientX: x, clientY: y, pointerId: 7, button: 0, bubbles: true}));
    const frame = () => new Promise((done) => requestAnimationFrame(() => done()));
    send('pointerdown');
    await frame();
    view.scene.drawTimes.length = 0;
    const t0 = performance.now();
    for (let i = 0; i < frames; i++) {
        x += Math.floor(i / 30) % 2 ? -7 : 7;
        y += Math.floor(i / 60) % 2 ? -3 : 3;
        send('pointermove');
        await frame();
    }
    const seconds = (performance.now() - t0) / 1000;
    send('pointerup');
    const times = [...view.scene.drawTimes].sort((a, b) => a - b);
    return [times.length / seconds, times[Math.floor(times.length / 2)] ?? NaN];
}"""


def pan_fps(page, frames: int, zoom: float | None = None) -> tuple[float, float]:
    if zoom == 0.0:  # the whole graph in view: every box and edge drawn each frame
        zoom = page.evaluate(
            f"() => {{ const s = {VIEW}.scene; const r = s.canvas.getBoundingClientRect();"
            " return Math.min(r.width / s.graphW, r.height / s.graphH); }"
        )
    if zoom is not None:  # zoom about the middle to this scale
        page.evaluate(
            f"(z) => {{ const s = {VIEW}.scene; const r = s.canvas.getBoundingClientRect();"
            " s.zoomAt(z / s.zoom, r.width / 2, r.height / 2); s.draw(); }",
            zoom,
        )
    fps, ms = page.evaluate(PAN, frames)
    return fps, ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--layers", type=int, default=57, help="transformer blocks (57: 2,002 nodes)")
    ap.add_argument("--frames", type=int, default=120)
    common.add_chromium_arg(ap)
    args = ap.parse_args()
    common.require_bundle("graph.js")
    import torch
    from graph_models import ResNet50, Transformer

    resnet = client_graph.build(ResNet50(), torch.randn(1, 3, 224, 224))
    transformer = client_graph.build(Transformer(args.layers), torch.zeros(2, 16, dtype=torch.long))
    with common.server(store="memory") as srv, common.browser(args.chromium) as browser:
        url = srv.url
        flat = {**transformer, "nodes": [{**n, "module": ""} for n in transformer["nodes"]], "modules": []}
        models = (("resnet50", resnet, 1000), ("flat2000", flat, 3000), ("transformer", transformer, 3000))
        for name, graph, target in models:
            env = f"bench-{name}"
            one = torch.ones(1, dtype=torch.float64).numpy()
            post(url, [{"op": "line", "env": env, "win": "loss", "x": one, "y": one}])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{url}/?env={env}")
            common.wait_live(page)
            runs, layout = [], []
            for r in range(args.repeat):
                graph["name"] = f"{name} run {r}"  # a new graph each time: laid out anew
                runs.append(send_and_wait(page, url, env, graph))
                layout.append(page.evaluate(f"() => Number({VIEW}.el.dataset.layoutMs)"))
            boxes = page.evaluate(f"() => Number({VIEW}.el.dataset.nodes)")
            report(f"{name}_draw_ms", "ms", runs, target, nodes=len(graph["nodes"]), boxes=boxes,
                   layout_ms=[round(v, 1) for v in layout], first_loads_graph_js=True)  # fmt: skip
            if name != "transformer":
                page.close()
                continue
            opened = []
            for _ in range(args.repeat):
                page.click("section[data-win='model'] .lp-graph-btn:has-text('close all')")
                page.wait_for_function(f"() => Number({VIEW}.el.dataset.nodes) < 200")
                page.evaluate(f"() => {VIEW}.scene.forget()")  # no layout kept from the run before
                before = draws(page)
                t0 = time.perf_counter()
                page.click("section[data-win='model'] .lp-graph-btn:has-text('open all')")
                drew_more(page, before)
                opened.append((time.perf_counter() - t0) * 1000)
            boxes = page.evaluate(f"() => Number({VIEW}.el.dataset.nodes)")
            report("transformer_open_all_ms", "ms", opened, 3000, boxes=boxes,
                   layout_ms=page.evaluate(f"() => Number({VIEW}.el.dataset.layoutMs)"),
                   parts=page.evaluate(f"() => Number({VIEW}.el.dataset.segments)"),
                   dagre_runs=page.evaluate(f"() => {VIEW}.info().runs"))  # fmt: skip
            for label, zoom in (("fit", None), ("labels", 0.8), ("all_in_view", 0.0)):
                fps, ms = [], []
                for _ in range(args.repeat):
                    f, m = pan_fps(page, args.frames, zoom)
                    fps.append(f)
                    ms.append(m)
                zoom = page.evaluate(f"() => {VIEW}.info().zoom")
                report(f"transformer_pan_fps_{label}", "frames/s", fps, 30, higher=True, boxes=boxes,
                       draw_ms=[round(v, 2) for v in ms], zoom=round(zoom, 2),
                       labels=zoom * 12 >= 7)  # fmt: skip
            page.close()


if __name__ == "__main__":
    main()
