"""Plotly windows in Chromium: each figure Visdom's methods make draws (pixels on screen, the expected
number of traces), Plotly.js is requested only by a page that shows such a window, LaTeX renders as
maths (MathJax SVG), and a live update redraws. Screenshots go to test-artifacts/browser/."""

from __future__ import annotations

import io

import numpy as np
import pytest
from browser_helpers import next_seq
from wire import send_ops

from livepanel.visdom import Visdom

# window -> number of traces its figure has
FIGURES = {
    "stem": 2,
    "pie": 1,
    "box": 2,
    "quiver": 1,
    "mesh": 1,
    "surf": 1,
    "contour": 1,
    "sun": 1,
    "dual": 2,
    "s3": 2,
    "pp": 1,
}
FAST3D = {"surf", "s3"}


def visdom_figures(server, tmp_path, env: str) -> None:
    rng = np.random.default_rng(2)
    vis = Visdom(server="http://127.0.0.1", port=server.port, env=env, spool_dir=tmp_path / "spool")
    try:
        x = np.linspace(0, 6, 15)
        vis.stem(X=np.column_stack([np.sin(x), np.cos(x)]), Y=x, win="stem", opts={"legend": ["sin", "cos"]})
        vis.pie(X=np.array([3, 1, 2]), win="pie", opts={"legend": ["a", "b", "c"]})
        vis.boxplot(X=rng.standard_normal((60, 2)), win="box", opts={"legend": ["Men", "Women"]})
        vis.quiver(X=rng.random((6, 6)) - 0.5, Y=rng.random((6, 6)) - 0.5, win="quiver")
        vis.mesh(X=rng.random((12, 3)), win="mesh", opts={"opacity": 0.6})
        g = np.linspace(-2, 2, 40)
        vis.surf(X=np.sin(g[:, None]) * np.cos(g[None, :]), win="surf")
        vis.contour(X=np.sin(g[:, None]) * np.cos(g[None, :]), win="contour")
        vis.sunburst(labels=np.array(["root", "a", "b", "c"]), parents=np.array(["", "root", "root", "a"]), win="sun")
        vis.dual_axis_lines(X=np.arange(10), Y1=np.arange(10), Y2=np.arange(10) ** 2, win="dual")
        vis.scatter(X=rng.random((50, 3)), Y=rng.integers(1, 3, 50), win="s3")
        vis.embeddings(rng.random((60, 5)), [i % 3 for i in range(60)], win="emb")  # a native embedding window
        vis.plotlyplot({"data": [{"type": "bar", "y": [2, 3, 1]}], "layout": {"title": {"text": "Bars"}}}, win="pp")
        assert vis.flush()
    finally:
        vis.panel.close(timeout=10)


def painted(page, win: str) -> float:
    """Share of the window body's pixels that differ from its background (0 when blank), from a screenshot:
    it sees WebGL canvases and SVG alike."""
    from PIL import Image

    png = page.locator(f'section[data-win="{win}"] .lp-plotly').screenshot()
    px = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    values, counts = np.unique(px, axis=0, return_counts=True)
    background = values[counts.argmax()]
    return float(np.mean(np.any(np.abs(px.astype(int) - background) > 24, axis=1)))


def drawn(page, count: int, timeout: float = 30000) -> None:
    page.wait_for_function(
        f"() => document.querySelectorAll('.lp-plotly[data-state=drawn]').length === {count}", timeout=timeout
    )


def test_every_visdom_figure_draws(server, pages, artifacts, tmp_path):
    visdom_figures(server, tmp_path, "figs")
    page = pages.open(server.url + "/?env=figs", width=1500, height=1200)
    page.wait_for_function(f"() => document.querySelectorAll('section.lp-win').length === {len(FIGURES) + 1}")
    # scroll each into view: windows off screen wait to draw
    for win in FIGURES:
        page.locator(f'section[data-win="{win}"]').scroll_into_view_if_needed()
        page.wait_for_function(
            f"() => document.querySelector('section[data-win=\"{win}\"] .lp-plotly')?.dataset.state === 'drawn'",
            timeout=30000,
        )
        view = page.locator(f'section[data-win="{win}"] .lp-plotly')
        assert view.get_attribute("data-traces") == str(FIGURES[win]), win
        # the 3-D surface and scatter draw with the fast 3-D path (three.js), the others with Plotly
        assert view.get_attribute("data-renderer") == ("fast3d" if win in FAST3D else None), win
        assert page.locator(f'section[data-win="{win}"]').get_attribute("data-kind") == "plotly"
        assert painted(page, win) > 0.02, win
    assert page.locator('section[data-win="pp"] .lp-title').inner_text() == "Bars"
    # Visdom's embeddings: the embedding window (WebGL points, a colour key per label), not a Plotly figure
    emb = page.locator('section[data-win="emb"]')
    emb.scroll_into_view_if_needed()
    assert emb.get_attribute("data-kind") == "embedding"
    page.wait_for_function(
        "() => document.querySelector('section[data-win=\"emb\"] .lp-embed')?.dataset.state === 'drawn'", timeout=30000
    )
    assert emb.locator(".lp-embed-legend").inner_text().split() == ["0", "1", "2"]
    page.screenshot(path=str(artifacts / "plotly_kinds.png"), full_page=True)
    assert page.locator(".lp-plotly[data-state=error]").count() == 0
    # Plotly's inline styles (its map stylesheet, a colour bar's empty style) are none the policy refuses
    assert not [m for m in pages.console if "content security policy" in m.lower().replace("-", " ")], pages.console


def test_a_page_without_plotly_windows_never_loads_plotly(server, pages, tmp_path):
    x = np.arange(5.0)
    status, _ = send_ops(
        server.url, [{"op": "line", "env": "plain", "win": "loss", "x": x, "y": x}], client="plotly-b", seq=next_seq()
    )
    assert status == 200
    status, _ = send_ops(
        server.url,
        [{"op": "plotly", "env": "fig", "win": "p", "figure": {"data": [{"y": [1, 2]}]}}],
        client="plotly-b",
        seq=next_seq(),
    )
    assert status == 200
    requested: list[str] = []
    ctx = pages.browser.new_context(viewport={"width": 1200, "height": 800})
    pages.contexts.append(ctx)
    page = ctx.new_page()
    page.on("request", lambda r: requested.append(r.url))  # from the first request on
    page.on("pageerror", lambda exc: pages.errors.append(f"pageerror: {exc}"))
    page.goto(server.url + "/?env=plain")
    page.wait_for_function("() => (window.__livepanel?.draws['loss'] ?? 0) > 0")
    assert any(u.endswith("/static/app.js") for u in requested)
    assert not [u for u in requested if "plotly" in u or "mathjax" in u]
    assert page.evaluate("() => typeof window.Plotly") == "undefined"
    # the same page, switched to an env with one: Plotly loads then, once
    page.goto(server.url + "/?env=fig")
    drawn(page, 1)
    assert sum(u.endswith("/static/plotly.js") for u in requested) == 1
    assert not [u for u in requested if "mathjax" in u]  # no $...$ in the figure: no MathJax


def test_latex_renders_as_maths_and_updates_redraw(server, pages, artifacts, tmp_path):
    fig = {
        "data": [{"type": "scatter", "name": "$\\alpha_t$", "x": np.arange(4.0), "y": np.array([1.0, 3, 2, 4])}],
        "layout": {"showlegend": True, "xaxis": {"title": {"text": "$\\sqrt{x}$"}}},
    }
    op = {"op": "plotly", "env": "tex", "win": "tex", "figure": fig}
    assert send_ops(server.url, [op], client="plotly-t", seq=next_seq())[0] == 200
    page = pages.open(server.url + "/?env=tex")
    drawn(page, 1)
    # MathJax drew the legend name and the axis title as SVG glyphs (not the text "$\alpha_t$")
    page.wait_for_function("() => document.querySelectorAll('.lp-plotly [data-math=\"Y\"] svg path').length >= 2")
    assert page.locator(".lp-plotly .legendtext-math-group").count() == 1
    # the raw text "$\alpha_t$" is hidden: the glyphs stand in for it
    raw = "() => getComputedStyle(document.querySelector('.lp-plotly text.legendtext')).display"
    assert page.evaluate(raw) == "none"
    page.locator('section[data-win="tex"]').screenshot(path=str(artifacts / "plotly_latex.png"))
    draws = page.evaluate("() => window.__livepanel.draws['tex']")
    more = dict(op, figure={"data": [{"name": "$\\alpha_t$", "x": np.array([4.0]), "y": np.array([0.0])}]})
    more["update"] = "append"
    assert send_ops(server.url, [more], client="plotly-t", seq=next_seq())[0] == 200
    page.wait_for_function(f"() => window.__livepanel.draws['tex'] > {draws}")
    page.wait_for_function("() => document.querySelector('.js-plotly-plot').data[0].x.length === 5")


@pytest.mark.parametrize("scheme", ["dark"])
def test_a_figure_follows_the_dark_theme(server, pages, scheme):
    op = {"op": "plotly", "env": "dark", "win": "d", "figure": {"data": [{"type": "bar", "y": [1, 2]}]}}
    assert send_ops(server.url, [op], client="plotly-d", seq=next_seq())[0] == 200
    page = pages.open(server.url + "/?env=dark", color_scheme=scheme)
    drawn(page, 1)
    fill = page.evaluate("() => getComputedStyle(document.querySelector('.lp-plotly .xtick text')).fill")
    assert fill != "rgb(68, 68, 68)"  # Plotly's default dark grey would not read on the dark panel


def test_png_and_json_export_of_a_plotly_window(server, pages, tmp_path):
    import json

    fig = {"data": [{"type": "surface", "z": np.outer(np.arange(5.0), np.arange(6.0))}], "layout": {}}
    op = {"op": "plotly", "env": "exp", "win": "surf", "figure": fig}
    assert send_ops(server.url, [op], client="plotly-e", seq=next_seq())[0] == 200
    page = pages.open(server.url + "/?env=exp")
    drawn(page, 1)
    with page.expect_download() as dl:
        page.locator('section[data-win="surf"] .lp-export', has_text="PNG").click()
    path = tmp_path / "surf.png"
    dl.value.save_as(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and dl.value.suggested_filename == "exp-surf.png"
    with page.expect_download() as dl:
        page.locator('section[data-win="surf"] .lp-export', has_text="JSON").click()
    path = tmp_path / "surf.json"
    dl.value.save_as(path)
    state = json.loads(path.read_text())
    assert state["kind"] == "plotly" and state["figure"]["data"][0]["type"] == "surface"


def test_latex_in_a_window_title_renders_as_maths(server, pages, artifacts):
    x = np.arange(5.0)
    ops = [
        {"op": "line", "env": "tt", "win": "lr", "x": x, "y": x, "opts": {"title": "rate $\\eta_t$ per step"}},
        {"op": "line", "env": "tt", "win": "plain", "x": x, "y": x, "opts": {"title": "costs 5$"}},
    ]
    assert send_ops(server.url, ops, client="plotly-tt", seq=next_seq())[0] == 200
    page = pages.open(server.url + "/?env=tt")
    page.wait_for_function("() => document.querySelector('section[data-win=lr] .lp-title')?.dataset.tex === 'drawn'")
    title = page.locator('section[data-win="lr"] .lp-title')
    assert maths_drawn(page, 'section[data-win="lr"] .lp-title') >= 2  # MathJax glyphs for \eta and t
    assert title.inner_text().startswith("rate ") and "$" not in title.inner_text()
    plain = page.locator('section[data-win="plain"] .lp-title')
    assert plain.inner_text() == "costs 5$" and plain.get_attribute("data-tex") == ""
    page.locator('section[data-win="lr"] header').screenshot(path=str(artifacts / "tex_title.png"))
    assert page.evaluate("() => typeof window.Plotly") == "undefined"  # maths in a title needs no Plotly


def test_latex_in_a_trace_name_renders_as_maths_in_the_legend(server, pages):
    x = np.arange(5.0)
    ops = [
        {"op": "line", "env": "tl", "win": "loss", "name": "$\\beta_1$ run", "x": x, "y": x},
        {"op": "line", "env": "tl", "win": "loss", "name": "plain", "x": x, "y": 2 * x},
    ]
    assert send_ops(server.url, ops, client="plotly-tl", seq=next_seq())[0] == 200
    page = pages.open(server.url + "/?env=tl")
    page.wait_for_function(
        "() => [...document.querySelectorAll('section[data-win=loss] .lp-legend-label')]"
        ".some((l) => l.dataset.tex === 'drawn')"
    )
    labels = page.locator('section[data-win="loss"] .lp-legend-label')
    tex = labels.filter(has=page.locator("svg"))
    assert tex.count() == 1 and "$" not in tex.inner_text() and tex.inner_text().endswith(" run")
    assert "plain" in labels.all_inner_texts()


def maths_drawn(page, selector: str) -> int:
    """The glyphs MathJax drew in the element, each found where its drawing points (the MathML kept for
    screen readers out of sight: shown, it would stand in for the drawing)."""
    found = page.evaluate(
        """(sel) => {
            const box = document.querySelector(sel);
            const uses = [...box.querySelectorAll('svg use')];
            const missing = uses.filter((u) => !u.closest('svg').querySelector(u.getAttribute('xlink:href'))).length;
            const shown = [...box.querySelectorAll('mjx-assistive-mml')]
                .filter((m) => getComputedStyle(m).position !== 'absolute').length;
            return {glyphs: uses.length, missing, shown};
        }""",
        selector,
    )
    assert found["missing"] == 0 and found["shown"] == 0, found
    return found["glyphs"]


def test_latex_in_axis_names_and_legend_of_a_line_renders_as_maths(server, pages, artifacts):
    x = np.arange(4.0)
    opts = {"xlabel": "$\\sqrt{t}$ (s)", "ylabel": "$\\alpha_t$", "title": "$\\beta$ fit"}
    op = {"op": "line", "env": "tx", "win": "fit", "name": "$\\gamma_1$", "x": x, "y": x * x, "opts": opts}
    assert send_ops(server.url, [op], client="plotly-tx", seq=next_seq())[0] == 200
    page = pages.open(server.url + "/?env=tx")
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text))
    page.reload()
    win = 'section[data-win="fit"]'
    page.wait_for_function(
        f"() => document.querySelectorAll('{win} [data-tex=\"drawn\"]').length === 4", timeout=10000
    )  # the title, both axis names and the legend's name
    for part in (".lp-title", ".lp-axis-tex-x", ".lp-axis-tex-y", ".lp-legend"):
        assert maths_drawn(page, f"{win} {part}") >= 1, part
    assert page.evaluate("() => window.__livepanel.chart('fit').xlabel") == opts["xlabel"]
    x_name = page.locator(f"{win} .lp-axis-tex-x").bounding_box()
    plot = page.locator(f"{win} .u-over").bounding_box()
    assert abs(x_name["x"] + x_name["width"] / 2 - (plot["x"] + plot["width"] / 2)) < 2  # centred under the plot
    assert x_name["y"] > plot["y"] + plot["height"]
    page.evaluate(f"() => {{ document.querySelector('{win}').style.width = '900px'; }}")  # wider: re-centred
    page.wait_for_function(
        f"""() => {{
            const n = document.querySelector('{win} .lp-axis-tex-x').getBoundingClientRect();
            const p = document.querySelector('{win} .u-over').getBoundingClientRect();
            return p.width > 700 && Math.abs(n.left + n.width / 2 - (p.left + p.width / 2)) < 2;
        }}""",
        timeout=5000,
    )
    assert not [m for m in console if "content security policy" in m.lower().replace("-", " ")], console
    page.locator(win).screenshot(path=str(artifacts / "tex_axes.png"))
