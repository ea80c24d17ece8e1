"""The fast 3-D path of plotly windows in Chromium: a 500 x 500 surface and a 100,000-point 3-D scatter draw
with static/fast3d.js (three.js) instead of Plotly, a drag rotates them, the PNG export has the picture, a
page without such a figure never requests the script, and figures the path cannot draw stay with Plotly.
Screenshots go to test-artifacts/browser/."""

from __future__ import annotations

import io

import numpy as np
from browser_helpers import next_seq
from PIL import Image
from wire import send_ops

TWO_FRAMES = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"


def painted(png: bytes) -> float:
    """Share of pixels that differ from the most common colour (0 when blank)."""
    px = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3).astype(int)
    values, counts = np.unique(px, axis=0, return_counts=True)
    return float(np.mean(np.any(np.abs(px - values[counts.argmax()]) > 24, axis=1)))


def body(page, win: str):
    return page.locator(f'section[data-win="{win}"] .lp-plotly')


def wait_drawn(page, win: str, renderer: str | None = "fast3d", timeout: float = 60000) -> None:
    want = "" if renderer is None else renderer
    page.wait_for_function(
        f"""() => {{
            const v = document.querySelector('section[data-win="{win}"] .lp-plotly');
            return v?.dataset.state === 'drawn' && (v.dataset.renderer ?? '') === '{want}';
        }}""",
        timeout=timeout,
    )


def send(server, env: str, win: str, figure: dict) -> None:
    op = {"op": "plotly", "env": env, "win": win, "figure": figure}
    assert send_ops(server.url, [op], client="fast3d-test", seq=next_seq())[0] == 200


def big_figures(server, env: str) -> None:
    g = np.linspace(0, 20, 500)
    z = np.sin(g[:, None]) * np.cos(g[None, :])
    send(server, env, "surf", {"data": [{"type": "surface", "z": z, "colorscale": "Viridis"}], "layout": {}})
    rng = np.random.default_rng(3)
    xyz = rng.standard_normal((100_000, 3))
    trace = {
        "type": "scatter3d",
        "mode": "markers",
        "x": xyz[:, 0],
        "y": xyz[:, 1],
        "z": xyz[:, 2],
        "marker": {"size": 2, "color": xyz[:, 2]},
    }
    send(server, env, "pts", {"data": [trace], "layout": {"title": {"text": "cloud"}}})


def test_big_surface_and_scatter_draw_with_the_fast_path_and_rotate(server, pages, artifacts):
    big_figures(server, "big")
    requested: list[str] = []
    page = pages.open(server.url + "/?env=big", width=1400, height=1000)
    page.on("request", lambda r: requested.append(r.url))
    for win in ("surf", "pts"):
        page.locator(f'section[data-win="{win}"]').scroll_into_view_if_needed()
        wait_drawn(page, win)
        assert body(page, win).locator("canvas.lp-fast3d-gl").count() == 1
        assert body(page, win).locator(".js-plotly-plot .gl-container").count() == 0
        assert painted(body(page, win).screenshot()) > 0.05, win
    assert page.evaluate("() => typeof window.Plotly") == "undefined"  # Plotly.js was never needed
    assert not [u for u in requested if u.endswith("/static/plotly.js")]
    page.screenshot(path=str(artifacts / "fast3d.png"), full_page=True)
    assert not [m for m in pages.console if "Content Security Policy" in m]  # three.js runs under the CSP
    # a drag orbits the camera: the picture changes
    win = "pts"
    before = body(page, win).screenshot()
    box = page.locator(f'section[data-win="{win}"] canvas.lp-fast3d-gl').bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    for i in range(1, 11):
        page.mouse.move(cx + 12 * i, cy + 4 * i)
    page.mouse.up()
    page.wait_for_function(TWO_FRAMES)
    after = body(page, win).screenshot()
    a = np.asarray(Image.open(io.BytesIO(before)).convert("RGB")).astype(int)
    b = np.asarray(Image.open(io.BytesIO(after)).convert("RGB")).astype(int)
    assert a.shape == b.shape and np.mean(np.any(np.abs(a - b) > 24, axis=2)) > 0.01
    body(page, win).screenshot(path=str(artifacts / "fast3d_rotated.png"))


def test_png_export_of_a_fast_3d_window(server, pages, tmp_path):
    g = np.linspace(-2, 2, 60)
    send(server, "png", "surf", {"data": [{"type": "surface", "z": np.sin(g[:, None]) * np.cos(g[None, :])}]})
    page = pages.open(server.url + "/?env=png")
    wait_drawn(page, "surf")
    with page.expect_download() as dl:
        page.locator('section[data-win="surf"] .lp-export', has_text="PNG").click()
    path = tmp_path / "surf.png"
    dl.value.save_as(path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and dl.value.suggested_filename == "png-surf.png"
    assert painted(data) > 0.05  # the surface is in it, not a blank WebGL buffer


def test_a_page_without_3d_figures_never_loads_the_fast_path(server, pages):
    x = np.arange(5.0)
    assert (
        send_ops(
            server.url,
            [{"op": "line", "env": "flat", "win": "loss", "x": x, "y": x}],
            client="fast3d-test",
            seq=next_seq(),
        )[0]
        == 200
    )
    send(server, "flat", "bars", {"data": [{"type": "bar", "y": [1, 2, 3]}]})
    send(
        server,
        "three",
        "m",
        {
            "data": [
                {
                    "type": "mesh3d",
                    "x": [0, 1, 0, 0],
                    "y": [0, 0, 1, 0],
                    "z": [0, 0, 0, 1],
                    "i": [0, 0, 0, 1],
                    "j": [1, 1, 2, 2],
                    "k": [2, 3, 3, 3],
                }
            ]
        },
    )
    requested: list[str] = []
    ctx = pages.browser.new_context(viewport={"width": 1200, "height": 800})
    pages.contexts.append(ctx)
    page = ctx.new_page()
    page.on("request", lambda r: requested.append(r.url))
    page.on("pageerror", lambda exc: pages.errors.append(f"pageerror: {exc}"))
    page.goto(server.url + "/?env=flat")
    wait_drawn(page, "bars", renderer=None)  # a 2-D figure: Plotly
    assert not [u for u in requested if "fast3d" in u]
    page.goto(server.url + "/?env=three")
    wait_drawn(page, "m")
    assert sum(u.endswith("/static/fast3d.js") for u in requested) == 1


def test_figures_the_fast_path_cannot_draw_stay_with_plotly(server, pages):
    z = np.outer(np.arange(5.0), np.arange(6.0))
    mixed = {"data": [{"type": "surface", "z": z}, {"type": "scatter", "y": [1, 2]}]}
    send(server, "mix", "mixed", mixed)  # a 2-D trace beside the 3-D one
    send(server, "mix", "cones", {"data": [{"type": "surface", "z": z, "contours": {"z": {"show": True}}}]})
    send(
        server,
        "mix",
        "delaunay",
        {"data": [{"type": "mesh3d", "x": [0, 1, 0, 1], "y": [0, 0, 1, 1], "z": [0, 1, 1, 0]}]},
    )
    send(
        server,
        "mix",
        "text",
        {"data": [{"type": "scatter3d", "mode": "markers+text", "x": [1], "y": [1], "z": [1], "text": ["a"]}]},
    )
    send(
        server,
        "mix",
        "hull",
        {
            "data": [
                {
                    "type": "mesh3d",
                    "alphahull": 0,
                    "x": [0, 1, 0, 0, 0.2],
                    "y": [0, 0, 1, 0, 0.2],
                    "z": [0, 0, 0, 1, 0.2],
                }
            ]
        },
    )
    tex = {"type": "scatter3d", "mode": "markers", "name": "$\\alpha$", "x": [1], "y": [1], "z": [1]}
    send(server, "mix", "tex", {"data": [tex], "layout": {"showlegend": True}})  # maths: MathJax with Plotly
    page = pages.open(server.url + "/?env=mix", width=1500, height=1200)
    for win in ("mixed", "cones", "delaunay", "text", "tex"):
        page.locator(f'section[data-win="{win}"]').scroll_into_view_if_needed()
        wait_drawn(page, win, renderer=None)
        assert body(page, win).locator(".js-plotly-plot").count() == 1
    page.locator('section[data-win="hull"]').scroll_into_view_if_needed()
    wait_drawn(page, "hull")  # no triangles but alphahull 0: the convex hull, drawn fast
    assert painted(body(page, "hull").screenshot()) > 0.02
    assert page.locator(".lp-plotly[data-state=error]").count() == 0


def test_a_live_surface_redraws_with_its_new_values(server, pages):
    g = np.linspace(-2, 2, 80)
    send(server, "live", "surf", {"data": [{"type": "surface", "z": np.sin(g[:, None]) * np.cos(g[None, :])}]})
    page = pages.open(server.url + "/?env=live")
    wait_drawn(page, "surf")
    before = body(page, "surf").screenshot()
    draws = page.evaluate("() => window.__livepanel.draws['surf']")
    # the same grid, new values (its triangles are kept, its vertices refilled)
    send(server, "live", "surf", {"data": [{"type": "surface", "z": np.cos(3 * g[:, None]) * g[None, :]}]})
    page.wait_for_function(f"() => window.__livepanel.draws['surf'] > {draws}")
    page.wait_for_function(TWO_FRAMES)
    after = body(page, "surf").screenshot()
    a = np.asarray(Image.open(io.BytesIO(before)).convert("RGB")).astype(int)
    b = np.asarray(Image.open(io.BytesIO(after)).convert("RGB")).astype(int)
    assert np.mean(np.any(np.abs(a - b) > 24, axis=2)) > 0.02
    assert painted(after) > 0.05


SCENE = "document.querySelector('section[data-win=\"cloud\"] .lp-plotly-plot').lpScene"


def test_a_big_scatter_draws_a_subset_of_its_markers_while_dragged_and_all_at_rest(server, pages):
    rng = np.random.default_rng(5)
    xyz = rng.uniform(-1, 1, (30_000, 3))
    colours = np.where(xyz[:, 0] > 0, "red", "blue").tolist()  # each point's colour follows it into the subset
    big = {"type": "scatter3d", "mode": "markers", "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2]}
    big["marker"] = {"size": 3, "color": colours}
    t = np.linspace(0, 6, 1000)
    small = {"type": "scatter3d", "mode": "lines+markers", "x": np.cos(t), "y": np.sin(t), "z": t / 3 - 1}
    small["marker"] = {"size": 2, "color": "green"}
    layout = {"showlegend": False, "scene": {"camera": {"eye": {"x": 0, "y": -2.2, "z": 0.01}}}}
    send(server, "lod", "cloud", {"data": [big, small], "layout": layout})
    page = pages.open(server.url + "/?env=lod")
    wait_drawn(page, "cloud")
    page.wait_for_function(f"() => {SCENE}.drawn() === 31000")  # at rest: every marker of both traces

    def sides(png: bytes) -> float:
        """Mean x of red pixels minus mean x of blue ones, over the picture's width (seen from -y, the x>0
        points are on the right: near 0.5 if colours stayed with their points, near 0 if shuffled apart)."""
        px = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
        r, g, b = px[..., 0], px[..., 1], px[..., 2]
        red = np.nonzero((r > 150) & (g < 90) & (b < 90))[1]
        blue = np.nonzero((b > 150) & (r < 90) & (g < 90))[1]
        assert red.size > 500 and blue.size > 500
        return float(red.mean() - blue.mean()) / px.shape[1]

    before = body(page, "cloud").screenshot()
    home = page.evaluate(f"() => JSON.stringify({SCENE}.view())")
    assert sides(before) > 0.2
    # any moving frame counts as slow (the subset then shows on a GPU too); record markers drawn per frame
    page.evaluate(
        f"""() => {{
            const s = {SCENE};
            s.lod.frameMs = 0.01;
            window.__lodMin = Infinity;
            window.__lodProbe = true;
            const probe = () => {{
                window.__lodMin = Math.min(window.__lodMin, s.drawn());
                if (window.__lodProbe) requestAnimationFrame(probe);
            }};
            requestAnimationFrame(probe);
        }}"""
    )
    box = page.locator('section[data-win="cloud"] canvas.lp-fast3d-gl').bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    for i in range(1, 16):
        page.mouse.move(cx + 6 * i, cy)
    page.wait_for_function("() => window.__lodMin < 31000", timeout=10000)  # a frame drawn while dragged
    least = page.evaluate("() => { window.__lodProbe = false; return window.__lodMin; }")
    page.mouse.up()
    # while moving: fewer markers of the big trace (never under 20,000 of them); the small one stays whole
    assert 21000 <= least < 31000, least
    page.wait_for_function(f"() => {SCENE}.drawn() === 31000")  # at rest again: every marker
    # back at the home camera, at rest, the picture is the one before the drag
    page.locator('section[data-win="cloud"] canvas.lp-fast3d-gl').dblclick()
    page.wait_for_function(f"(v) => JSON.stringify({SCENE}.view()) === v && {SCENE}.drawn() === 31000", arg=home)
    page.wait_for_function(TWO_FRAMES)
    after = body(page, "cloud").screenshot()
    a = np.asarray(Image.open(io.BytesIO(before)).convert("RGB")).astype(int)
    b = np.asarray(Image.open(io.BytesIO(after)).convert("RGB")).astype(int)
    inner = (slice(4, -4), slice(4, -4))  # the click's focus ring is on the border
    assert np.mean(np.any(np.abs(a[inner] - b[inner]) > 24, axis=2)) < 0.002
