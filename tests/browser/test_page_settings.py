"""Page-wide chart settings (issue 19 item 4): smoothing, x axis and log y for every line
window at once, a window's own control overriding them, and the URL keeping them."""

from __future__ import annotations

import json

import numpy as np
from browser_helpers import next_seq
from wire import line_op, send_ops


def send(url: str, ops: list[dict]) -> None:
    status, answer = send_ops(url, ops, client="browser-settings", seq=next_seq())
    assert status == 200, answer


def timed(env: str, win: str, n: int, t0: float, dt: float = 2.0) -> dict:
    op = line_op(env, win, np.arange(n, dtype=float), np.exp(-np.arange(n) / 20) + 0.1)
    op["t"] = t0 + dt * np.arange(n, dtype=float)
    return op


def chart(page, win: str) -> dict:
    return page.evaluate("(win) => window.__livepanel.chart(win)", win)


def wait_chart(page, win: str, cond: str) -> None:
    """Wait until `cond` (JS over `c`, the chart's info) holds for window `win`."""
    predicate = f"() => {{ const c = window.__livepanel.chart({json.dumps(win)}); return !!c && ({cond}); }}"
    page.wait_for_function(predicate, timeout=5000)


def test_page_smoothing_applies_to_every_window_and_an_override_wins(server, pages, artifacts):
    send(server.url, [timed("ps", "a", 50, 1000.0), timed("ps", "b", 50, 1000.0)])
    page = pages.open(server.url + "/?env=ps", width=1600, height=1000)
    page.wait_for_function("() => ['a', 'b'].every((w) => window.__livepanel.chart(w)?.series === 1)", timeout=5000)
    page.locator(".lp-page-smooth input").fill("0.6")
    for win in ("a", "b"):
        wait_chart(page, win, "c.series === 2 && c.smooth === 0.6")
    assert page.locator(".lp-page-smooth-value").inner_text() == "0.60"
    assert "smooth=0.6" in page.url
    b = page.locator('section[data-win="b"]')
    assert b.locator(".lp-smooth-value").inner_text() == "0.60", "a window shows the page's value it follows"
    assert b.locator(".lp-page-reset").is_hidden()

    # window b's own smoothing wins; a still follows the page
    b.locator(".lp-smooth input").fill("0")
    page.wait_for_function("() => window.__livepanel.chart('b').series === 1", timeout=5000)
    assert chart(page, "b")["own"] == ["smooth"]
    assert chart(page, "a")["series"] == 2
    assert b.locator(".lp-page-reset").is_visible()
    assert "lp-own" in b.locator(".lp-smooth").get_attribute("class")
    page.screenshot(path=str(artifacts / "page-settings.png"))

    page.locator(".lp-page-smooth input").fill("0.3")
    page.wait_for_function("() => window.__livepanel.chart('a').smooth === 0.3", timeout=5000)
    assert chart(page, "b")["smooth"] == 0

    # back to the page's setting
    b.locator(".lp-page-reset").click()
    wait_chart(page, "b", "c.smooth === 0.3 && c.series === 2 && !c.own.length")
    assert b.locator(".lp-page-reset").is_hidden()


def test_x_axis_switch_relabels_and_relative_time_starts_at_zero_per_env(server, pages):
    n = 30
    send(server.url, [timed("px/one", "loss", n, 1_700_000_000.0), timed("px/two", "loss", n, 1_700_005_000.0)])
    page = pages.open(server.url + "/?env=px/one", width=1600, height=1000)
    wait_chart(page, "loss", "c.xlabel === 'step' && c.x0 === 0")  # uPlot draws the label on its canvas

    page.locator("select.lp-page-x").select_option("time")
    wait_chart(page, "loss", "c.xlabel === 'wall time' && c.x0 === 1700000000")
    assert "x=time" in page.url

    page.locator("select.lp-page-x").select_option("rel")
    wait_chart(page, "loss", "c.xlabel === 'time since start' && c.x0 === 0")
    # the window's own select shows the page's mode it follows
    assert page.locator('section[data-win="loss"] select.lp-xmode').input_value() == "rel"

    # two envs overlaid: each counts from its own first point, so their x values coincide
    page.evaluate("() => window.__livepanel.select(['px/one', 'px/two'])")
    page.wait_for_function(
        "() => window.__livepanel.chart('loss')?.series === 2 && window.__livepanel.points('loss') === 30", timeout=5000
    )
    assert chart(page, "loss")["x0"] == 0

    # a window's own x axis wins over the page's
    page.locator('section[data-win="loss"] select.lp-xmode').select_option("step")
    wait_chart(page, "loss", "c.xlabel === 'step' && c.x0 === 0 && c.own.join() === 'x'")


def test_the_url_reproduces_the_view_in_a_second_page(server, pages):
    send(server.url, [timed("pu", "a", 40, 5000.0), timed("pu", "b", 40, 5000.0)])
    first = pages.open(server.url + "/?env=pu", width=1600, height=1000)
    wait_chart(first, "a", "c.series === 1")
    first.locator(".lp-page-smooth input").fill("0.5")
    first.locator("select.lp-page-x").select_option("rel")
    first.locator("button.lp-page-logy").click()
    wait_chart(first, "b", "c.smooth === 0.5 && c.x === 'rel' && c.logy && c.series === 2")
    url = first.url
    for part in ("smooth=0.5", "x=rel", "logy=1"):
        assert part in url, url

    second = pages.open(url, width=1600, height=1000)
    for win in ("a", "b"):
        wait_chart(second, win, "c.smooth === 0.5 && c.x === 'rel' && c.logy && c.series === 2 && c.x0 === 0")
        assert chart(second, win)["xlabel"] == "time since start"
    assert second.locator(".lp-page-smooth-value").inner_text() == "0.50"
    assert second.locator("select.lp-page-x").input_value() == "rel"
    assert "on" in second.locator("button.lp-page-logy").get_attribute("class")


def test_a_scatter_names_its_x_axis_only_by_its_own_xlabel(server, pages):
    points = {"op": "scatter", "env": "sx", "x": np.array([1.0, -2.0]), "y": np.array([0.5, 3.0])}
    send(server.url, [dict(points, win="plain"), dict(points, win="named", opts={"xlabel": "width (px)"})])
    page = pages.open(server.url + "/?env=sx")
    wait_chart(page, "plain", "c.series === 1 && c.xlabel === ''")  # not "step": its x is no step
    wait_chart(page, "named", "c.series === 1 && c.xlabel === 'width (px)'")


def test_wall_time_of_points_logged_at_one_instant_spans_a_minute(server, pages):
    one_batch = line_op("inst", "loss", np.arange(50.0), np.exp(-np.arange(50) / 20))  # timed on arrival, at once
    send(server.url, [one_batch, timed("inst", "spread", 50, 1_700_000_000.0)])
    page = pages.open(server.url + "/?env=inst&x=time")
    wait_chart(page, "loss", "c.xlabel === 'wall time' && c.xspan === 60")  # not 86,400,000 s (2.7 years)
    wait_chart(page, "spread", "c.xspan >= 98 && c.xspan < 200")  # its own 98 s, as uPlot rounds it
