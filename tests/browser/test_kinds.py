"""Every window kind renders (screenshots in light and dark kept under
test-artifacts/browser/), compare overlays, zoom re-fetch, smoothing, export."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from browser_helpers import every_kind, next_seq
from wire import line_op, send_ops

KINDS = {
    "loss": "line",
    "embedding": "scatter",
    "classes": "bar",
    "confusion": "heatmap",
    "notes": "text",
    "input": "image",
    "batch": "image",
    "grads": "histogram",
}


def send(url, ops):
    status, answer = send_ops(url, ops, client="browser-kinds", seq=next_seq())
    assert status == 200, answer


def painted(page, win: str) -> float:
    """Share of non-background pixels in the window's first canvas (0 when blank)."""
    return page.evaluate(
        """(win) => {
            const c = document.querySelector(`section[data-win="${win}"] canvas`);
            if (!c || !c.width) return 0;
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
            return n / (d.length / 4);
        }""",
        win,
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_kind_renders(server, pages, artifacts, scheme):
    send(server.url, every_kind("kinds"))
    page = pages.open(server.url + "/?env=kinds", color_scheme=scheme, width=1500, height=1100)
    page.wait_for_function(f"() => document.querySelectorAll('section.lp-win').length === {len(KINDS)}", timeout=5000)
    for win, kind in KINDS.items():
        assert page.locator(f'section[data-win="{win}"]').get_attribute("data-kind") == kind
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.lp-image img')).every((i) => i.complete && i.naturalWidth === 8)",
        timeout=5000,
    )
    for win in ("loss", "embedding", "classes", "confusion", "grads"):
        assert painted(page, win) > 0.01, win
    assert page.locator('section[data-win="loss"] .lp-title').inner_text() == "Loss"
    assert page.locator('section[data-win="loss"] .lp-legend-label').all_inner_texts() == ["train", "val"]
    assert page.locator('section[data-win="notes"] h1').inner_text() == "Notes"
    assert page.locator('section[data-win="notes"] a').get_attribute("rel") == "noopener noreferrer"
    assert page.locator('section[data-win="batch"] img').count() == 6
    assert page.locator('section[data-win="input"] figcaption').inner_text() == "sample"
    bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert (bg == "rgb(15, 18, 22)") == (scheme == "dark"), bg
    page.screenshot(path=str(artifacts / f"kinds-{scheme}.png"))
    for win in KINDS:  # one picture per window (the grid scrolls inside the page)
        page.locator(f'section[data-win="{win}"]').screenshot(path=str(artifacts / f"kind-{win}-{scheme}.png"))


def test_interactions_per_kind(server, pages, artifacts):
    send(server.url, every_kind("inter"))
    page = pages.open(server.url + "/?env=inter", width=1500, height=1100)
    page.wait_for_function(f"() => document.querySelectorAll('section.lp-win').length === {len(KINDS)}", timeout=5000)
    # histogram: step slider (latest by default) and the distribution over steps
    hist = page.locator('section[data-win="grads"]')
    assert "step 5 (latest)" in hist.locator(".lp-step").inner_text()
    hist.locator(".lp-step input").fill("2")
    assert hist.locator(".lp-step span").inner_text() == "step 2"
    hist.locator("select").select_option("distribution")
    assert "6 steps, 0 to 5" in hist.locator(".lp-hist-info").inner_text()
    assert painted(page, "grads") > 0.05
    # heatmap: value on hover, colormap switch
    heat = page.locator('section[data-win="confusion"] canvas')
    box = heat.bounding_box()
    page.mouse.move(box["x"] + 60, box["y"] + 30)
    tip = page.locator('section[data-win="confusion"] .lp-tip')
    assert tip.is_visible() and ":" in tip.inner_text()
    page.locator('section[data-win="confusion"] select').select_option("magma")
    # image: crisp pixel zoom
    img = page.locator('section[data-win="input"] img')
    page.locator('section[data-win="input"] button', has_text="+").click()
    assert (
        page.evaluate("getComputedStyle(document.querySelector('section[data-win=\"input\"] img')).imageRendering")
        == "pixelated"
    )
    assert img.bounding_box()["width"] >= 8
    # line: legend toggle, smoothing adds a faint raw series under each line
    loss = page.locator('section[data-win="loss"]')
    loss.locator(".lp-legend-item").first.click()
    assert "off" in loss.locator(".lp-legend-item").first.get_attribute("class")
    loss.locator(".lp-smooth input").fill("0.9")
    page.wait_for_function(
        "() => document.querySelectorAll('section[data-win=\"loss\"] .lp-legend-item').length === 2", timeout=5000
    )
    # cursor values in the legend
    plot = loss.locator(".u-over").bounding_box()
    page.mouse.move(plot["x"] + plot["width"] / 2, plot["y"] + plot["height"] / 2)
    assert "@" in loss.locator(".lp-legend-value").nth(1).inner_text()
    # log y and wall-time x
    loss.locator("button", has_text="log y").click()
    loss.locator("select.lp-xmode").select_option("time")
    assert painted(page, "loss") > 0.01
    page.screenshot(path=str(artifacts / "interactions.png"), full_page=True)


def test_compare_runs_overlays_env_traces(server, pages, artifacts):
    x = np.arange(100.0)
    for env, rate in (("opt/adam", 30), ("opt/sgd", 80)):
        send(
            server.url,
            [
                line_op(env, "loss", x, np.exp(-x / rate), name="train"),
                line_op(env, "loss", x[::10], np.exp(-x[::10] / rate) + 0.05, name="val"),
            ],
        )
    send(server.url, [line_op("opt/sgd", "only-sgd", [0, 1], [1, 2])])
    page = pages.open(server.url + "/?env=opt/adam&env=opt/sgd")
    page.wait_for_function("() => window.__livepanel.chart('loss')?.labels.length === 4", timeout=5000)
    labels = page.evaluate("() => window.__livepanel.chart('loss').labels")
    assert labels == ["opt/adam/train", "opt/adam/val", "opt/sgd/train", "opt/sgd/val"]
    # the compact legend: each run once, each trace kind once
    legend = page.locator('section[data-win="loss"] .lp-legend-label').all_inner_texts()
    assert legend == ["opt/adam", "opt/sgd", "train", "val"]
    assert page.locator("section.lp-win").count() == 2  # union of window ids, overlays for shared ids
    # appends to one env update the overlay
    send(server.url, [line_op("opt/sgd", "loss", [100], [0.2], name="train")])
    page.wait_for_function(
        "() => window.__livepanel.state.envs.get('opt/sgd').windows.get('loss').traces[0].y.len === 101", timeout=5000
    )
    page.screenshot(path=str(artifacts / "compare.png"))


def test_zoom_refetches_full_resolution_and_double_click_resets(server, pages):
    n = 300_000
    x = np.arange(n, dtype="<f8")
    y = np.sin(x / 5000) + (x == 123_457) * 5  # one spike that decimation must keep
    send(server.url, [line_op("big", "signal", x, y, name="s")])
    page = pages.open(server.url + "/?env=big")
    page.wait_for_function("() => window.__livepanel.points('signal') > 0", timeout=10000)
    snap = page.evaluate("window.__livepanel.points('signal')")
    assert snap < 20_000, "the snapshot is decimated"
    assert page.evaluate("window.__livepanel.state.envs.get('big').windows.get('signal').traces[0].decimated")
    assert page.evaluate(
        "Math.max(...window.__livepanel.state.envs.get('big').windows.get('signal').traces[0].y.values)"
    ) == pytest.approx(y.max())
    # drag to zoom on the chart: the range comes back at full resolution
    over = page.locator('section[data-win="signal"] .u-over').bounding_box()
    page.mouse.move(over["x"] + over["width"] * 0.40, over["y"] + 20)
    page.mouse.down()
    page.mouse.move(over["x"] + over["width"] * 0.42, over["y"] + 40, steps=3)
    page.mouse.up()
    page.wait_for_function(f"() => window.__livepanel.points('signal') > {snap}", timeout=10000)
    zoomed = page.evaluate("window.__livepanel.points('signal')")
    span = 0.02 * n
    assert 0.7 * span < zoomed < 1.3 * span + 200, (zoomed, span)  # every point of the range
    page.locator('section[data-win="signal"] .u-over').dblclick()
    page.wait_for_function(f"() => window.__livepanel.points('signal') === {snap}", timeout=5000)


def test_export_png_and_csv(server, pages, tmp_path):
    send(
        server.url,
        [
            line_op("exp", "loss", [0, 1, 2], [3.0, 2.0, 1.0], name="train"),
            {"op": "heatmap", "env": "exp", "win": "m", "z": np.eye(3)},
        ],
    )
    page = pages.open(server.url + "/?env=exp")
    page.wait_for_selector('section[data-win="m"] canvas')
    for win in ("loss", "m"):
        with page.expect_download() as dl:
            page.locator(f'section[data-win="{win}"] .lp-export', has_text="PNG").click()
        path = tmp_path / f"{win}.png"
        dl.value.save_as(path)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert dl.value.suggested_filename == f"exp-{win}.png"  # env-window, as the CSV export names its file
    with page.expect_download() as dl:
        page.locator('section[data-win="loss"] .lp-export', has_text="CSV").click()
    path = tmp_path / "loss.csv"
    dl.value.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert rows[0][:3] == ["trace", "x", "y"]
    assert [r[2] for r in rows[1:]] == ["3.0", "2.0", "1.0"] or [float(r[2]) for r in rows[1:]] == [3.0, 2.0, 1.0]
