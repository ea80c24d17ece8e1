"""Visdom's demo (tests/visdom_examples, every demo function into one env, as demo.py runs them) seen in
Chromium: every window shows and draws (a painted chart, a loaded image, text, a player, a sanitized
drawing), without a page error; a screenshot of each kind is kept under test-artifacts/browser/."""

from __future__ import annotations

import importlib
import sys
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from livepanel.visdom import Visdom

EXAMPLES = Path(__file__).resolve().parents[1] / "visdom_examples"
CANVAS_KINDS = ("line", "scatter", "bar", "histogram", "heatmap")


def _demo_functions() -> list:
    sys.path.insert(0, str(EXAMPLES))
    try:
        demo = importlib.import_module("demo")
    finally:
        sys.path.remove(str(EXAMPLES))
    names = [n for n in demo.run_demo.__code__.co_names if n.split("_")[0] in ("text", "image", "plot", "misc")]
    return [getattr(demo, n) for n in names] + [demo.image_svg]  # imported by demo.py, not run by run_demo


def painted(page, win: str) -> float:
    """Share of non-transparent pixels in the window's canvases (0 when blank)."""
    return page.evaluate(
        """(win) => {
            let n = 0, all = 0;
            for (const c of document.querySelectorAll(`section[data-win="${win}"] canvas`)) {
                if (!c.width || !c.height) continue;
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
                all += d.length / 4;
            }
            return all ? n / all : 0;
        }""",
        win,
    )


@pytest.mark.timeout(300)
def test_every_demo_window_draws(server, pages, tmp_path, monkeypatch, artifacts):
    monkeypatch.setattr(urllib.request, "urlretrieve", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    viz = Visdom(server="http://127.0.0.1", port=server.port, env="demo", spool_dir=tmp_path / "spool")
    try:
        for fn in _demo_functions():
            fn(viz, "demo", [])
        assert viz.flush(60)
        states = {w: viz.panel.get(w, env="demo", flush=False) for w in viz.panel.windows("demo")}
    finally:
        viz.panel.close(timeout=10)
    kinds = Counter(s["kind"] for s in states.values())
    assert kinds["line"] >= 10 and kinds["heatmap"] >= 4 and kinds["media"] >= 2, kinds

    page = pages.open(server.url + "/?env=demo", width=1600, height=1200)
    page.wait_for_function(f"() => document.querySelectorAll('section.lp-win').length === {len(states)}",
                           timeout=20000)  # fmt: skip
    shot: set[str] = set()
    for win, state in states.items():
        frame = page.locator(f'section.lp-win[data-win="{win}"]')
        frame.scroll_into_view_if_needed()
        kind = state["kind"]
        assert frame.get_attribute("data-kind") == kind, win
        if kind in CANVAS_KINDS:
            page.wait_for_function(
                "(win) => [...document.querySelectorAll(`section[data-win=\"${win}\"] canvas`)].some((c) => c.width)",
                arg=win, timeout=10000,
            )  # fmt: skip
            assert painted(page, win) > 0.002, (win, kind)
        elif kind == "image":
            n = len(state["steps"][-1]["images"])
            page.wait_for_function(
                "([win, n]) => { const i = [...document.querySelectorAll(`section[data-win=\"${win}\"] img`)];"
                " return i.length === n && i.every((e) => e.complete && e.naturalWidth > 0); }",
                arg=[win, n], timeout=10000,
            )  # fmt: skip
        elif kind == "text":
            assert frame.locator(".lp-md").inner_text().strip(), win
        elif kind == "media":
            fmt = state["format"]
            tag = "svg ellipse" if fmt == "svg" else "audio" if fmt in ("wav", "mp3", "ogg", "flac") else "video"
            frame.locator(tag).first.wait_for(timeout=10000)
        elif kind == "plotly":
            frame.locator(".main-svg, canvas").first.wait_for(timeout=30000)
        if kind not in shot:
            shot.add(kind)
            frame.screenshot(path=str(artifacts / f"visdom-demo-{kind}.png"))
    page.screenshot(path=str(artifacts / "visdom-demo.png"))
