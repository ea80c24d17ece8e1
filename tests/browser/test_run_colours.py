"""One colour per run (issue 19 items 3 and 7): overlaid runs in their run's colour, a run's traces
told apart by dash, the compact legend, a colour changed in the picker stored for every page,
the run under the pointer highlighted in every window, and group curves (mean and band)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from browser_helpers import next_frames

import livepanel

STEPS = 60


def curve(seed: int, n: int = STEPS, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.exp(-np.arange(n) / 20) + shift + 0.05 * rng.random(n)


def log_runs(url: str, runs: dict[str, dict], windows=("loss", "acc"), traces=("train", "val"), n: int = STEPS) -> None:
    """Log with the real client: each run's windows, each with its traces, and the run's config."""
    for i, (env, config) in enumerate(runs.items()):
        panel = livepanel.Panel(url, env=env, config=config or None)
        try:
            for w, win in enumerate(windows):
                for t, trace in enumerate(traces):
                    panel.line(np.arange(n, dtype=float), curve(100 * i + 10 * w + t, n, shift=i), win=win, name=trace)
            assert panel.flush(), "every batch acknowledged"
        finally:
            panel.close()


def chart(page, win: str) -> dict:
    return page.evaluate("(win) => window.__livepanel.chart(win)", win)


def wait_chart(page, win: str, cond: str, timeout: float = 8000) -> dict:
    """Wait until `cond` (JS over `c`, the chart's info) holds for window `win`; return the info."""
    predicate = f"() => {{ const c = window.__livepanel.chart({json.dumps(win)}); return !!c && ({cond}); }}"
    page.wait_for_function(predicate, timeout=timeout)
    return chart(page, win)


def picker_color(page, env: str) -> str:
    return page.evaluate(
        '(env) => document.querySelector(`.lp-run-swatch[data-env="${env}"]`)?.dataset.color ?? null', env
    )


def query(envs: list[str], **extra: str) -> str:
    parts = [f"env={e}" for e in envs] + [f"{k}={v}" for k, v in extra.items()]
    return "/?" + "&".join(parts)


def test_overlaid_runs_get_their_colour_and_a_run_s_traces_differ_by_dash(server, pages, artifacts):
    envs = ["cmp/adam", "cmp/sgd"]
    log_runs(server.url, {e: {} for e in envs})
    page = pages.open(server.url + query(envs), width=1600, height=1000)
    infos = {w: wait_chart(page, w, "c.mode === 'overlay' && c.labels.length === 4") for w in ("loss", "acc")}
    colours = {e: picker_color(page, e) for e in envs}
    assert all(colours.values()) and colours["cmp/adam"] != colours["cmp/sgd"], colours
    for win, info in infos.items():
        by_label = dict(zip(info["labels"], zip(info["colors"], info["dashes"], strict=True), strict=True))
        for env in envs:
            train, val = by_label[f"{env}/train"], by_label[f"{env}/val"]
            assert train[0] == val[0] == colours[env], f"{win}: every trace of {env} in the run's colour"
            assert train[1] == [] and val[1] != [], f"{win}: train solid, val dashed"
    # the same trace name gets the same dash in both windows
    assert infos["loss"]["dashes"] == infos["acc"]["dashes"]
    # compact legend: each run once, each kind once
    legend = page.locator('section[data-win="loss"] .lp-legend')
    assert legend.locator(".lp-legend-runs .lp-legend-item").count() == 2
    assert sorted(legend.locator(".lp-legend-kinds .lp-legend-item").all_inner_texts()) == ["train", "val"]
    page.screenshot(path=str(artifacts / "run-colours.png"))

    # a kind entry hides that kind in the window; a run entry hides the run
    legend.locator('.lp-legend-item[data-kind="val"]').click()
    info = wait_chart(page, "loss", "c.shown.filter(Boolean).length === 2")
    assert [t for t, s in zip(info["traces"], info["shown"], strict=True) if s] == ["train", "train"]
    legend.locator('.lp-legend-item[data-run="cmp/sgd"]').click()
    info = wait_chart(page, "loss", "c.shown.filter(Boolean).length === 1")
    assert info["labels"][info["shown"].index(True)] == "cmp/adam/train"

    # one env alone keeps the per-trace palette (two colours, no dash)
    page.evaluate("() => window.__livepanel.select(['cmp/adam'])")
    info = wait_chart(page, "loss", "c.mode === 'single' && c.labels.length === 2")
    assert info["colors"][0] != info["colors"][1] and info["dashes"] == [[], []]


def test_a_colour_changed_in_the_picker_is_stored_and_shown_by_every_page(server, pages):
    envs = ["pick/a", "pick/b"]
    log_runs(server.url, {e: {} for e in envs}, windows=("loss",))
    first = pages.open(server.url + query(envs))
    wait_chart(first, "loss", "c.mode === 'overlay' && c.labels.length === 4")
    second = pages.open(server.url + query(envs))
    wait_chart(second, "loss", "c.labels.length === 4")

    first.locator('.lp-run-swatch[data-env="pick/b"]').click()
    first.locator(".lp-color-pop input[type=color]").fill("#ff00aa")
    for page in (first, second):
        wait_chart(page, "loss", "c.colors.filter((x) => x === '#ff00aa').length === 2")
        page.wait_for_function(
            "() => document.querySelector('.lp-run-swatch[data-env=\"pick/b\"]')?.dataset.color === '#ff00aa'",
            timeout=5000,
        )
    info = chart(second, "loss")
    assert [r for r, c in zip(info["runs"], info["colors"], strict=True) if c == "#ff00aa"] == ["pick/b", "pick/b"]

    second.reload()
    wait_chart(second, "loss", "c.colors.filter((x) => x === '#ff00aa').length === 2")

    # back to the colour the name gives, everywhere
    first.locator(".lp-color-reset").click()
    for page in (first, second):
        wait_chart(page, "loss", "c.labels.length === 4 && !c.colors.includes('#ff00aa')")


def plot_point(page, win: str, label: str, i: int) -> tuple[float, float]:
    """Page coordinates of point i of the curve `label` in window `win`."""
    return page.evaluate(
        """([win, label, i]) => {
            const sec = document.querySelector(`section[data-win="${win}"]`);
            const over = sec.querySelector('.u-over').getBoundingClientRect();
            const c = window.__livepanel.chart(win);
            const u = window.__livepanel.uplot(win);
            const k = u.series.findIndex((s) => s.label === label);
            return [over.left + u.valToPos(u.data[0][i], 'x'), over.top + u.valToPos(u.data[k][i], 'y')];
        }""",
        [win, label, i],
    )


def test_hovering_a_run_highlights_it_in_every_window_with_one_cursor(server, pages, artifacts):
    envs = ["hov/a", "hov/b", "hov/c"]
    log_runs(server.url, {e: {} for e in envs})
    page = pages.open(server.url + query(envs), width=1600, height=1000)
    for win in ("loss", "acc"):
        wait_chart(page, win, "c.labels.length === 6 && c.focus === null")
    # run c's curves lie above the others (shifted by 2): point at one of them in window "loss"
    x, y = plot_point(page, "loss", "hov/c/train", 30)
    page.mouse.move(x, y)
    info = wait_chart(page, "acc", "c.focus === 'hov/c'")
    for run, alpha in zip(info["runs"], info["alphas"], strict=True):
        assert (alpha == 1) == (run == "hov/c"), (run, alpha)
    assert page.evaluate("() => window.__livepanel.focus.get()") == "hov/c"
    assert "focus" in page.locator('.lp-env[data-env="hov/c"]').get_attribute("class")
    # the cursor shows in the other window too, with each run's value at that x
    tip = page.locator('section[data-win="acc"] .lp-cursor-tip')
    tip.wait_for(state="visible", timeout=5000)
    assert tip.locator(".lp-tip-row").count() == 3
    assert "step 30" in tip.inner_text()
    page.screenshot(path=str(artifacts / "run-colours-highlight.png"))

    # leaving the chart clears the highlight everywhere
    page.mouse.move(5, 5)
    wait_chart(page, "acc", "c.focus === null && c.alphas.every((a) => a === 1)")
    assert "focus" not in (page.locator('.lp-env[data-env="hov/c"]').get_attribute("class") or "")

    # a legend's run entry highlights too
    page.locator('section[data-win="acc"] .lp-legend-item[data-run="hov/b"]').hover()
    wait_chart(page, "loss", "c.focus === 'hov/b'")
    next_frames(page)


def test_the_legend_takes_at_most_a_fifth_of_the_window_with_twelve_traces(server, pages, artifacts):
    envs = [f"many/run-{i:02d}" for i in range(6)]
    log_runs(server.url, {e: {} for e in envs}, windows=("loss",), n=30)
    page = pages.open(server.url + query(envs), width=1400, height=900)
    info = wait_chart(page, "loss", "c.labels.length === 12")
    assert len(set(info["colors"])) == 6, "six runs, six colours"
    sec = page.locator('section[data-win="loss"]')
    body = sec.locator(".lp-body").bounding_box()
    legend = sec.locator(".lp-legend").bounding_box()
    plot = sec.locator(".lp-plot").bounding_box()
    assert legend["height"] <= body["height"] / 5 + 0.5, (legend, body)
    assert plot["height"] >= body["height"] * 0.75, (plot, body)
    assert info["legend"]["entries"] == 6 + 2
    # a small window: still a fifth at most (the legend scrolls)
    page.evaluate("() => window.__livepanel.grid.frames.get('loss').setSize(320, 200)")
    page.wait_for_function(
        "() => { const s = document.querySelector('section[data-win=\"loss\"]');"
        " return s.querySelector('.lp-legend').offsetHeight <= s.querySelector('.lp-body').clientHeight / 5 + 0.5; }",
        timeout=5000,
    )
    sec.screenshot(path=str(artifacts / "run-colours-legend.png"))


def ema(y: np.ndarray, weight: float) -> np.ndarray:
    """The page's smoothing: a debiased exponential moving average."""
    out, last = np.empty(len(y)), 0.0
    for i, v in enumerate(y):
        last = last * weight + (1 - weight) * v
        out[i] = last / (1 - weight ** (i + 1))
    return out


def numpy_group(ys: list[np.ndarray], band: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    stack = np.vstack(ys)
    mean = stack.mean(axis=0)
    if band == "std":
        sd = stack.std(axis=0)
        return mean, mean - sd, mean + sd
    return mean, stack.min(axis=0), stack.max(axis=0)


@pytest.mark.parametrize("band", ["minmax", "std"])
def test_grouping_draws_one_mean_curve_and_band_per_group(server, pages, artifacts, band):
    runs = {f"grp/{opt}-s{seed}": {"opt": opt, "seed": seed} for opt in ("adam", "sgd") for seed in (0, 1)}
    log_runs(server.url, runs, windows=("loss",))
    extra = {"group": "opt"} | ({"band": band} if band != "minmax" else {})
    page = pages.open(server.url + query(list(runs), **extra), width=1600, height=1000)
    info = wait_chart(page, "loss", "c.grouped && c.labels.length === 4", timeout=10000)
    assert sorted(info["labels"]) == ["opt=adam/train", "opt=adam/val", "opt=sgd/train", "opt=sgd/val"]
    assert info["bands"] == 4
    runs_list = list(runs)
    for g in info["groups"]:
        members = [e for e in runs_list if runs[e]["opt"] == g["group"].split("=")[1]]
        assert sorted(g["envs"]) == sorted(members) and g["runs"] == 2
        t = 0 if g["trace"] == "train" else 1
        ys = [curve(100 * runs_list.index(e) + t, STEPS, shift=runs_list.index(e)) for e in members]
        mean, lo, hi = numpy_group(ys, band)
        np.testing.assert_allclose(g["x"], np.arange(STEPS))
        np.testing.assert_allclose(g["mean"], mean, rtol=1e-6)
        np.testing.assert_allclose(g["lo"], lo, rtol=1e-6)
        np.testing.assert_allclose(g["hi"], hi, rtol=1e-6)
    # a group's curves share its colour; the legend lists groups with their run count
    colours = dict(zip(info["runs"], info["colors"], strict=True))
    assert colours["opt=adam"] != colours["opt=sgd"]
    runs_text = " ".join(page.locator('section[data-win="loss"] .lp-legend-runs').inner_text().split())
    assert "opt=adam (2 runs)" in runs_text and "opt=sgd (2 runs)" in runs_text
    page.screenshot(path=str(artifacts / f"run-colours-groups-{band}.png"))

    # smoothing (the page's) applies to the group's mean and band edges
    page.locator(".lp-page-smooth input").fill("0.5")
    wait_chart(page, "loss", "c.grouped && c.smooth === 0.5")
    drawn = page.evaluate(
        """() => { const u = window.__livepanel.uplot('loss');
        const k = u.series.findIndex((s) => s.label === 'opt=adam/train');
        return [u.data[k], u.data[k + 1], u.data[k + 2]].map((c) => Array.from(c)); }"""
    )
    adam = next(g for g in info["groups"] if g["group"] == "opt=adam" and g["trace"] == "train")
    for col, key in zip(drawn, ("mean", "lo", "hi"), strict=True):
        np.testing.assert_allclose(col, ema(np.array(adam[key]), 0.5), rtol=1e-9)
    page.locator(".lp-page-smooth input").fill("0")
    wait_chart(page, "loss", "c.grouped && c.smooth === 0")

    # live: members log more steps, the group curves follow (refetched, at most once a second)
    for env in runs_list:
        panel = livepanel.Panel(server.url, env=env)
        try:
            for trace in ("train", "val"):
                panel.line(np.arange(STEPS, STEPS + 20, dtype=float), np.full(20, 0.5), win="loss", name=trace)
            assert panel.flush()
        finally:
            panel.close()
    info = wait_chart(page, "loss", f"c.grouped && c.groups.every((g) => g.x.length === {STEPS + 20})")
    assert all(g["mean"][-1] == pytest.approx(0.5) for g in info["groups"])

    # a selection of one group's runs only: the answer for the old selection is not drawn
    page.evaluate("(envs) => window.__livepanel.select(envs)", runs_list[:2])
    info = wait_chart(page, "loss", "c.grouped && c.labels.length === 2")
    assert {g["group"] for g in info["groups"]} == {"opt=adam"}
