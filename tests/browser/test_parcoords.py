"""The parallel coordinates and the scatter of runs in Chromium (issue 19 items 6 and 12): runs logged
with a config by the real client give one axis per varying config key and a metric (log for a learning
rate spanning decades, categorical for the optimizer); a mouse drag on an axis brushes it, and the
runs passing every brush are what the runs table shows; hovering a line or a point sets the page's focus."""

from __future__ import annotations

import json

import numpy as np
import pytest
from browser_helpers import next_frames

import livepanel

RUNS = {  # env: (optimizer, lr, momentum (None: not logged), seed, final loss)
    "pc/adam-a": ("adam", 1e-4, 0.9, 1, 0.20),
    "pc/adam-b": ("adam", 1e-3, 0.95, 2, 0.30),
    "pc/sgd-a": ("sgd", 1e-1, 0.9, 1, 0.80),
    "pc/sgd-b": ("sgd", 1e-2, None, 2, 0.60),
    "pc/lion-a": ("lion", 3e-4, 0.99, 1, 0.45),
    "pc/lion-b": ("lion", 3e-2, 0.8, 2, 0.70),
}
PLOT = "document.querySelector('.lp-parcoords').lpPlot"
SCATTER = "document.querySelector('.lp-scatter').lpPlot"


def log_runs(url: str, spool, runs: dict = RUNS) -> None:
    for env, (opt, lr, momentum, seed, final) in runs.items():
        config = {"optimizer": opt, "lr": lr, "seed": seed, "batch_size": 64}
        if momentum is not None:
            config["momentum"] = momentum
        with livepanel.Panel(url, env=env, config=config, spool_dir=spool) as p:
            x = np.arange(20, dtype=float)
            p.line(x, final + 0.01 * np.exp(-x), win="loss", name="train")
            assert p.flush(10)


@pytest.fixture
def page(server, tmp_path, pages):
    log_runs(server.url, tmp_path / "spool")
    page = pages.open(f"{server.url}/?runs=1", width=1600, height=1100)
    wait(page, f"d.runs === {len(RUNS)} && d.axes.length >= 5 && d.geometry.width > 0")
    page.locator(".lp-parcoords").scroll_into_view_if_needed()
    return page


def wait(page, cond: str, timeout: float = 8000) -> None:
    """Poll until `cond` (JS over `d`, the parallel coordinates' debug(), and `lp`, the page hooks) holds."""
    js = (
        "() => { const el = document.querySelector('.lp-parcoords'); if (!el || !el.lpPlot) return false; "
        f"const d = el.lpPlot.debug(); const lp = window.__livepanel; return !!({cond}); }}"
    )
    page.wait_for_function(js, timeout=timeout)


def as_js_json(value) -> str:
    """A JS string literal of JSON.stringify(value), to compare with in a page."""
    return json.dumps(json.dumps(value, separators=(",", ":")))


def debug(page) -> dict:
    return page.evaluate(f"() => {PLOT}.debug()")


def axis_point(page, key: str, p: float) -> tuple[float, float]:
    """Page coordinates of position p (0 bottom .. 1 top) on the axis of `key`."""
    d = debug(page)
    i = [a["key"] for a in d["axes"]].index(key)
    box = page.locator(".lp-pc-canvas").bounding_box()
    g = d["geometry"]
    return box["x"] + g["xs"][i], box["y"] + g["bottom"] - p * (g["bottom"] - g["top"])


def cat_pos(page, key: str, category: str) -> float:
    cats = next(a for a in debug(page)["axes"] if a["key"] == key)["categories"]
    return (cats.index(category) + 0.5) / len(cats)


def log_pos(lo: float, hi: float, v: float) -> float:
    return (np.log10(v) - np.log10(lo)) / (np.log10(hi) - np.log10(lo))


def settled(page) -> None:
    """Wait until the plot stays put for two frames (the panel's layout settles as the table renders)."""
    canvas = page.locator(".lp-pc-canvas")
    for _ in range(50):
        box = canvas.bounding_box()
        next_frames(page)
        if canvas.bounding_box() == box:
            return
    raise AssertionError("the parallel coordinates kept moving")


def drag(page, key: str, p0: float, p1: float) -> None:
    """A mouse drag along an axis from position p0 to p1 (0 bottom .. 1 top)."""
    settled(page)
    x, y0 = axis_point(page, key, p0)
    _, y1 = axis_point(page, key, p1)
    page.mouse.move(x, y0)
    page.mouse.down()
    page.mouse.move(x, (y0 + y1) / 2, steps=4)
    page.mouse.move(x, y1, steps=4)
    page.mouse.up()
    next_frames(page)


def envs_where(pred) -> list[str]:
    return sorted(env for env, v in RUNS.items() if pred(*v))


def test_axes_for_varying_config_keys_and_a_metric(page, artifacts):
    d = debug(page)
    axes = {a["key"]: a for a in d["axes"]}
    # every config key that varies and the first metric; batch_size is the same in every run
    assert list(axes) == ["config.lr", "config.momentum", "config.optimizer", "config.seed", "metric.loss/train"]
    assert axes["config.lr"]["kind"] == "log", "a learning rate spanning 3 decades gets a log axis"
    assert axes["config.lr"]["ticks"] == ["1e-4", "0.001", "0.01", "0.1"]
    assert axes["config.optimizer"]["kind"] == "cat"
    assert axes["config.optimizer"]["categories"] == ["adam", "lion", "sgd"]
    assert axes["config.momentum"]["kind"] == "linear" and axes["config.momentum"]["missing"] == 1
    assert axes["config.seed"]["ticks"] == ["1", "2"], "whole-number values, whole-number ticks"
    assert d["colorBy"] == "metric.loss/train" and d["passing"] is None
    heads = page.locator(".lp-pc-head .lp-pc-name").all_inner_texts()
    assert heads == ["lr", "momentum", "optimizer", "seed", "loss/train"]
    assert page.locator('.lp-pc-head[data-key="config.lr"] .lp-pc-scale').inner_text() == "log"
    assert page.locator(".lp-pc-legend").is_visible(), "lines coloured by a metric show the colour map's range"
    page.locator(".lp-runs-plots").screenshot(path=str(artifacts / "parcoords.png"))

    # the user's say: lr on a linear scale, batch_size added, momentum hidden, lr moved right
    page.locator('.lp-pc-head[data-key="config.lr"] .lp-pc-scale').click()
    wait(page, "d.axes[0].kind === 'linear'")
    page.locator(".lp-pc-add").select_option("config.batch_size")
    wait(page, "d.axes.some((a) => a.key === 'config.batch_size')")
    page.locator('.lp-pc-head[data-key="config.momentum"] button[title="hide this axis"]').click()
    wait(page, "!d.axes.some((a) => a.key === 'config.momentum')")
    page.locator('.lp-pc-head[data-key="config.lr"] button[title="move right"]').click()
    wait(page, "d.axes[1].key === 'config.lr'")
    # the choice survives the live feed (a run logs again)
    keys = [a["key"] for a in debug(page)["axes"]]
    with livepanel.Panel(page.url.split("/?")[0], env="pc/adam-a") as p:
        p.line([20.0], [0.19], win="loss", name="train")
        assert p.flush(10)
    wait(page, f"JSON.stringify(d.axes.map((a) => a.key)) === {as_js_json(keys)}")
    page.locator(".lp-pc-color").select_option("")
    wait(page, "d.colorBy === ''")
    assert page.locator(".lp-pc-legend").is_hidden()


def test_dragging_on_axes_brushes_the_runs_and_the_table_follows(page, artifacts):
    # the optimizer axis: a drag over "adam" and "lion" (sorted: adam, lion, sgd)
    drag(
        page,
        "config.optimizer",
        cat_pos(page, "config.optimizer", "adam") - 0.1,
        cat_pos(page, "config.optimizer", "lion") + 0.05,
    )
    want = envs_where(lambda opt, *_: opt in ("adam", "lion"))
    wait(page, f"JSON.stringify(d.passing) === {as_js_json(want)}")
    assert debug(page)["brushes"] == {"config.optimizer": {"cats": ["adam", "lion"]}}
    wait(page, f"lp.runsTable.rows === {len(want)}")
    assert sorted(page.evaluate("() => window.__livepanel.runsPanel.table.order()")) == want

    # and the log lr axis from below 1e-4 to between 1e-3 and 1e-2: both brushes hold (AND)
    drag(page, "config.lr", -0.01, log_pos(1e-4, 1e-1, 3e-3))  # from just below the axis: clamped to its end
    want = envs_where(lambda opt, lr, *_: opt in ("adam", "lion") and lr <= 3e-3)
    assert want == ["pc/adam-a", "pc/adam-b", "pc/lion-a"]
    wait(page, f"JSON.stringify(d.passing) === {as_js_json(want)}")
    wait(page, f"lp.runsTable.rows === {len(want)}")
    b = debug(page)["brushes"]["config.lr"]
    assert b["lo"] == pytest.approx(1e-4, rel=1e-6) and 2e-3 < b["hi"] < 5e-3
    # the scatter dims the runs outside the brushes
    page.wait_for_function(f"() => {SCATTER}.debug().dimmed === {len(RUNS) - len(want)}", timeout=5000)
    page.locator(".lp-runs-plots").screenshot(path=str(artifacts / "parcoords-brushed.png"))

    # drag the lr brush itself upward: it moves (same width), and now holds the runs from ~1e-3 to ~3e-2
    hi_p = log_pos(1e-4, 1e-1, b["hi"])
    drag(page, "config.lr", hi_p / 2, hi_p / 2 + log_pos(1e-4, 1e-1, 1e-3) + 0.02)
    b2 = debug(page)["brushes"]["config.lr"]
    assert (
        b2["lo"] > 1e-3
        and b2["hi"] > 3e-2
        and np.log10(b2["hi"] / b2["lo"]) == pytest.approx(np.log10(b["hi"] / b["lo"]), abs=0.05)
    )
    want = envs_where(lambda opt, lr, *_: opt in ("adam", "lion") and b2["lo"] <= lr <= b2["hi"])
    assert want == ["pc/lion-b"]
    wait(page, f"JSON.stringify(d.passing) === {as_js_json(want)} && lp.runsTable.rows === 1")

    # a click on the lr axis outside its brush removes that brush only
    settled(page)
    x, y = axis_point(page, "config.lr", 0.02)
    page.mouse.click(x, y)
    wait(page, "!('config.lr' in d.brushes) && 'config.optimizer' in d.brushes")
    wait(page, "lp.runsTable.rows === 4")

    # the clear button removes every brush: everything passes, the table shows every run again
    page.locator(".lp-pc-clear").click()
    wait(page, "d.passing === null && Object.keys(d.brushes).length === 0")
    wait(page, f"lp.runsTable.rows === {len(RUNS)}")
    assert page.locator(".lp-pc-clear").is_disabled()


def test_brushes_survive_live_updates_and_a_new_run_is_judged_by_them(page, server, tmp_path):
    page.evaluate(f"() => {PLOT}.brush('config.optimizer', 'sgd', 'sgd')")
    wait(page, f"JSON.stringify(d.passing) === {as_js_json(envs_where(lambda o, *_: o == 'sgd'))}")
    log_runs(
        server.url,
        tmp_path / "spool2",
        {"pc/sgd-c": ("sgd", 5e-2, 0.9, 3, 0.5), "pc/adam-c": ("adam", 5e-2, 0.9, 3, 0.5)},
    )
    wait(page, "d.runs === 8")
    wait(page, "JSON.stringify(d.passing) === JSON.stringify(['pc/sgd-a', 'pc/sgd-b', 'pc/sgd-c'])")
    wait(page, "lp.runsTable.rows === 3")
    # a brush a test sets by hand is checked: an unknown axis or category is refused with the reason
    refused = f"(args) => {{ try {{ {PLOT}.brush(...args); }} catch (e) {{ return e.message; }} }}"
    assert page.evaluate(refused, ["config.nope", 1, 2]) == 'no axis "config.nope" among the candidates'
    err = page.evaluate(refused, ["config.optimizer", "rmsprop"])
    assert err == 'axis "config.optimizer" has no category "rmsprop"'


def test_hovering_a_line_or_a_point_sets_the_page_focus(page):
    settled(page)
    d = debug(page)
    env = "pc/sgd-a"
    i = page.evaluate(f"() => {PLOT}.rows.findIndex((r) => r.env === {json.dumps(env)})")
    ys = page.evaluate(f"() => {PLOT}.axes.map((a) => a.ys[{i}])")
    box = page.locator(".lp-pc-canvas").bounding_box()
    xs = d["geometry"]["xs"]
    # the middle of the run's segment between the 4th and 5th axes (seed -> loss)
    page.mouse.move(box["x"] + (xs[3] + xs[4]) / 2, box["y"] + (ys[3] + ys[4]) / 2)
    page.wait_for_function(f"() => window.__livepanel.focus.get() === {json.dumps(env)}", timeout=5000)
    wait(page, f"d.focus === {json.dumps(env)}")
    # far from any line: the focus goes
    page.mouse.move(box["x"] + 3, box["y"] + 3)
    page.wait_for_function("() => window.__livepanel.focus.get() === null", timeout=5000)

    # the scatter: hovering a point focuses its run and shows env, x and y as text
    env = "pc/lion-b"
    pt = page.evaluate(f"() => {SCATTER}.pointOf({json.dumps(env)})")
    sbox = page.locator(".lp-sc-canvas").bounding_box()
    page.mouse.move(sbox["x"] + pt[0], sbox["y"] + pt[1])
    page.wait_for_function(f"() => window.__livepanel.focus.get() === {json.dumps(env)}", timeout=5000)
    tip = page.locator(".lp-sc-tip")
    assert tip.is_visible()
    sc = page.evaluate(f"() => {SCATTER}.debug()")
    assert sc["x"] == "config.lr" and sc["y"] == "metric.loss/train" and sc["xKind"] == "log"
    assert tip.inner_text().splitlines() == [env, "lr: 0.03", "loss/train: 0.7"]


def test_strings_from_runs_are_text_only(server, tmp_path, pages):
    evil = '<img src=x onerror="window.__pwned=1">'
    log_runs(
        server.url, tmp_path / "spool", {"pc/evil": (evil, 1e-3, 0.9, 1, 0.3), "pc/ok": ("adam", 1e-2, 0.9, 2, 0.4)}
    )
    page = pages.open(f"{server.url}/?runs=1", width=1600, height=1100)
    wait(page, "d.runs === 2 && d.axes.some((a) => a.key === 'config.optimizer')")
    assert set(next(a for a in debug(page)["axes"] if a["key"] == "config.optimizer")["categories"]) == {"adam", evil}
    page.evaluate(f"() => {SCATTER}.setAxes('config.optimizer', 'metric.loss/train')")
    next_frames(page)
    pt = page.evaluate(f"() => {SCATTER}.pointOf('pc/evil')")
    sbox = page.locator(".lp-sc-canvas").bounding_box()
    page.mouse.move(sbox["x"] + pt[0], sbox["y"] + pt[1])
    page.wait_for_function("() => window.__livepanel.focus.get() === 'pc/evil'", timeout=5000)
    assert page.locator(".lp-sc-tip").inner_text().splitlines()[1] == f"optimizer: {evil}"
    assert page.locator(".lp-parcoords img, .lp-scatter img").count() == 0
    assert page.evaluate("() => window.__pwned") is None


def test_toolbars_of_narrow_plots_keep_every_control_inside(server, tmp_path, pages):
    log_runs(server.url, tmp_path / "spool")
    page = pages.open(f"{server.url}/?runs=1", width=1100, height=1000)
    wait(page, f"d.runs === {len(RUNS)} && d.geometry.width > 0")
    page.evaluate(f"() => {SCATTER}.setAxes('lr', 'momentum')")  # momentum: some runs have none
    out = page.evaluate(
        """() => [...document.querySelectorAll('.lp-pc-bar, .lp-sc-bar')].flatMap((bar) => {
            const edge = bar.getBoundingClientRect().right;
            return [...bar.querySelectorAll('select, button')].filter((e) => e.offsetParent)
                .filter((e) => e.getBoundingClientRect().right > edge + 0.5).map((e) => e.textContent || e.value);
        })"""
    )
    assert out == [], f"cut off at the right of their toolbar: {out}"
