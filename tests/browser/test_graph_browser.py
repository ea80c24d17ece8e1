"""Graph windows in Chromium: static/graph.js loads only on a page that shows one; the graph draws, a node
click shows its details and its layer's windows (a click there brings the window into view), the search
finds a node inside a closed group, a double click closes a group, the shading follows the grad_norm the
env logs, a layer a vanishing-gradients alert names is marked, and user strings stay text. With
LIVEPANEL_UPDATE_DOCS=1 the ResNet screenshot replaces docs/graph.png (the README's picture)."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from browser_helpers import next_frames, next_seq
from conftest import ROOT
from wire import get, send_ops

import livepanel

torch = pytest.importorskip("torch")
nn = torch.nn

DRAWN = "(win) => document.querySelector(`section[data-win='${win}'] .lp-graph`)?.dataset.state === 'drawn'"
VIEW = "window.__livepanel.grid.frames.get('model').view"
# the colour of the canvas at a node's centre (or at its top-right corner: the alert mark)
PIXEL = """([id, corner]) => {
    const view = window.__livepanel.grid.frames.get('model').view;
    const b = view.box(id);
    if (!b) return null;
    const canvas = document.querySelector("section[data-win='model'] canvas.lp-graph-canvas");
    const r = canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const x = corner ? b.x + b.w - 4 - r.left : b.x + b.w / 2 - r.left;  // beside the mark's '!'
    const y = corner ? b.y - r.top : b.y + b.h * 0.8 - r.top;
    const d = canvas.getContext('2d').getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data;
    return [d[0], d[1], d[2]];
}"""


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.norm = nn.LayerNorm(4)

    def forward(self, x):
        return self.norm(x + self.lin(x)).relu()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(Block(), Block())
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(torch.flatten(self.blocks(x), 1))


def grad_norms(url: str, env: str, levels: dict[str, float], start: int = 0, n: int = 300) -> None:
    """Per-layer gradient norms as watch() logs them: window grad_norm, a trace per layer."""
    rng = np.random.default_rng(start)
    x = np.arange(start, start + n, dtype="f8")
    ops = [
        {"op": "line", "env": env, "win": "grad_norm", "name": name, "x": x, "y": v * np.exp(0.05 * rng.normal(size=n))}
        for name, v in levels.items()
    ]
    status, answer = send_ops(url, ops, client="graph-browser", seq=next_seq())
    assert status == 200, answer


def click_node(page, node: str) -> None:
    box = page.evaluate(f"(id) => {VIEW}.box(id)", node)
    assert box is not None, f"node {node} is not drawn"
    page.mouse.click(box["x"] + box["w"] / 2, box["y"] + box["h"] / 2)
    next_frames(page)


def test_the_graph_draws_reacts_and_shades_live(server, pages, tmp_path):
    requested: list[str] = []
    with livepanel.Panel(server.url, env="gb", spool_dir=tmp_path / "spool") as panel:
        panel.line([1.0, 2.0], win="loss", env="plain")
        panel.graph(Net(), torch.randn(3, 4), opts={"width": 1000, "height": 600})
        panel.histogram(np.arange(10.0), win="grads/blocks.1.lin")
        assert panel.flush()
    # a page without a graph window never asks for static/graph.js
    plain = pages.open(server.url + "/?env=plain")
    plain.on("request", lambda r: requested.append(r.url))
    plain.wait_for_function("() => (window.__livepanel?.draws['loss'] ?? 0) > 0")
    assert plain.evaluate("() => document.querySelector('script[data-lazy=\"static/graph.js\"]')") is None

    page = pages.open(server.url + "/?env=gb")
    page.wait_for_function(DRAWN, arg="model", timeout=15000)
    info = page.evaluate(f"() => ({{...{VIEW}.el.dataset}})")
    assert info["source"] == "fx" and info["total"] == "12" and int(info["nodes"]) == 12
    assert info["shaded"] == "0" and page.evaluate(PIXEL, ["head", False])[0] > 200  # no statistics yet: plain
    assert "Net · fx · 12 nodes" in page.inner_text("section[data-win='model'] .lp-graph-head")

    # the pointer on a node shows its name, op and shape
    box = page.evaluate(f"() => {VIEW}.box('head')")
    page.mouse.move(box["x"] + box["w"] / 2, box["y"] + box["h"] / 2)
    tip = page.locator("section[data-win='model'] .lp-graph-tip")
    tip.wait_for(state="visible")
    assert tip.inner_text() == "head\nLinear [3, 2]"
    page.mouse.move(box["x"] + box["w"] / 2, box["y"] - 40)
    tip.wait_for(state="hidden")
    # a click shows the node's details and its layer's windows; a click on one brings it into view
    click_node(page, "blocks_1_lin")
    details = page.locator("section[data-win='model'] .lp-graph-details")
    details.wait_for(state="visible")
    text = details.inner_text()
    assert "blocks.1.lin" in text and "Linear" in text and "[4, 4] · 16" in text and "in_features" in text
    page.locator(".lp-graph-win", has_text="grads/blocks.1.lin").click()
    page.wait_for_function(
        "() => document.querySelector(\"section[data-win='grads/blocks.1.lin']\").classList.contains('lp-flash')"
    )

    # shading follows grad_norm: the newest value of each layer's trace, on a log scale
    grad_norms(server.url, "gb", {"blocks.0.lin": 1e-6, "blocks.1.lin": 0.1, "head": 0.3})
    page.wait_for_function(f"() => {VIEW}.el.dataset.shaded === '3'", timeout=15000)
    next_frames(page)
    high = page.evaluate(PIXEL, ["head", False])
    assert high[0] > 180 and high[1] > 180 and high[2] < 120, high  # viridis' yellow end
    assert "grad_norm" in page.inner_text("section[data-win='model'] .lp-graph-legend")
    grad_norms(server.url, "gb", {"blocks.0.lin": 1e-6, "blocks.1.lin": 0.1, "head": 1e-7}, start=300, n=1)
    page.wait_for_function(
        f"(px) => {{ const p = ({PIXEL})(['head', false]); return p && p[0] < 120 && p[1] < 60 }}",
        arg=None,
        timeout=15000,
    )

    # the vanishing-gradients alert on blocks.0.lin marks that node
    page.wait_for_function(f"() => {VIEW}.el.dataset.marked === '1'", timeout=20000)
    status, alerts = get(server.url, "/api/v1/alerts", env="gb")
    assert [(a["kind"], a["trace"]) for a in alerts["alerts"]] == [("vanishing_gradients", "blocks.0.lin")]
    next_frames(page)
    red = page.evaluate(PIXEL, ["blocks_0_lin", True])
    assert red[0] > 150 and red[0] - red[1] > 80 and red[0] - red[2] > 80, red
    click_node(page, "blocks_0_lin")
    assert "vanishing gradients" in details.inner_text()

    # a double click closes the node's group; the search opens it again and selects the node it finds
    box = page.evaluate(f"() => {VIEW}.box('blocks_0_lin')")
    page.mouse.dblclick(box["x"] + box["w"] / 2, box["y"] + box["h"] / 2)
    page.wait_for_function(f"() => {VIEW}.el.dataset.nodes === '9'")
    assert page.evaluate(f"() => {VIEW}.box('blocks.0')") is not None
    search = page.locator("section[data-win='model'] .lp-graph-search")
    search.fill("norm")
    assert page.inner_text("section[data-win='model'] .lp-graph-count") == "1/2"
    search.press("Enter")  # the first match stays the current one: Enter goes to the next
    search.press("Enter")
    page.wait_for_function(f"() => {VIEW}.el.dataset.nodes === '12'")
    assert page.inner_text("section[data-win='model'] .lp-graph-count") == "1/2"
    assert "blocks.0.norm" in details.inner_text() and "LayerNorm" in details.inner_text()
    # an open group is a frame: a click on its header shows the group, whose button closes it
    frame = page.evaluate(f"() => {VIEW}.box('blocks.1')")
    page.mouse.click(frame["x"] + 30, frame["y"] + 6)
    name = "section[data-win='model'] .lp-graph-name"
    page.wait_for_function("(sel) => document.querySelector(sel).textContent === 'blocks.1'", arg=name)
    page.locator("section[data-win='model'] .lp-graph-details .lp-graph-btn", has_text="close group").click()
    page.wait_for_function(f"() => Number({VIEW}.el.dataset.nodes) === 9")  # its 4 nodes are one box
    search.fill("no such layer")
    assert page.inner_text("section[data-win='model'] .lp-graph-count") == "0"
    assert requested == []  # the plain page asked for nothing more


def test_user_strings_in_a_graph_stay_text(server, pages):
    evil = '<img src=x onerror="window.__pwned=1">'
    graph = {
        "source": "onnx",
        "name": evil,
        "note": evil,
        "nodes": [
            {"id": "a", "name": evil, "op": "<script>window.__pwned=2</script>", "module": evil, "attrs": {evil: evil}},
            {"id": "b", "name": "b", "op": "Relu"},
        ],
        "edges": [{"from": "a", "to": "b", "shape": [1, 2]}],
    }
    status, answer = send_ops(
        server.url,
        [{"op": "graph", "env": "evil", "win": "model", "graph": graph}],
        client="graph-browser",
        seq=next_seq(),
    )
    assert status == 200, answer
    page = pages.open(server.url + "/?env=evil")
    page.wait_for_function(DRAWN, arg="model", timeout=15000)
    click_node(page, "a")
    text = page.inner_text("section[data-win='model'] .lp-graph-details")
    assert evil in text and "<script>window.__pwned=2</script>" in text
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("section[data-win='model'] img").count() == 0


def test_resnet_screenshot(server, pages, artifacts, tmp_path):
    from graph_models import ResNet50

    torch.manual_seed(0)
    model = ResNet50(width=8, classes=10)
    layers = [n for n, m in model.named_modules() if n and list(m.parameters(recurse=False))]
    with livepanel.Panel(server.url, env="resnet", spool_dir=tmp_path / "spool") as panel:
        panel.graph(model, torch.randn(1, 3, 64, 64), opts={"width": 1480, "height": 1060})
        assert panel.flush()
    # gradients fall off toward the input, and the first convolution has all but vanished
    levels = {n: 10 ** (-2.5 * (1 - i / len(layers))) for i, n in enumerate(layers)}
    levels["conv1"] = 1e-8
    grad_norms(server.url, "resnet", levels)
    page = pages.open(server.url + "/?env=resnet&win=model", width=1500, height=1140)
    page.wait_for_function(DRAWN, arg="model", timeout=15000)
    page.wait_for_function(f"() => {VIEW}.el.dataset.marked === '1'", timeout=20000)
    page.wait_for_function(f"(n) => Number({VIEW}.el.dataset.shaded) === n", arg=len(layers))
    # the stages' blocks closed: each shaded by its layers' (geometric) mean, from the input (dark) to the head
    page.click("section[data-win='model'] .lp-graph-btn:has-text('close all')")
    page.wait_for_function(f"() => Number({VIEW}.el.dataset.nodes) === 25")  # 16 blocks, 9 nodes
    click_node(page, "conv1")
    page.wait_for_selector("section[data-win='model'] .lp-graph-details", state="visible")
    next_frames(page)
    shot = artifacts / "graph.png"
    page.screenshot(path=str(shot))
    assert 10_000 < shot.stat().st_size < 900_000
    if os.environ.get("LIVEPANEL_UPDATE_DOCS") == "1":
        shutil.copyfile(shot, ROOT / "docs" / "graph.png")
