"""The runs panel in Chromium (issue 19 items 5, 7, 8, 12): runs logged with a config by the real client
fill the table live; sorting, filtering, selecting, grouping and hovering drive the page."""

from __future__ import annotations

import json

import numpy as np
import pytest
from browser_helpers import next_frames

import livepanel

RUNS = {  # env: (optimizer, lr, seed, final loss)
    "cmp/adam-s1": ("adam", 1e-3, 1, 0.20),
    "cmp/adam-s2": ("adam", 1e-3, 2, 0.30),
    "cmp/sgd-s1": ("sgd", 1e-1, 1, 0.60),
    "cmp/sgd-s2": ("sgd", 1e-1, 2, 0.80),
    "cmp/rms-s1": ("rmsprop", 1e-2, 1, 0.45),
}


def log_runs(url: str, spool, runs: dict = RUNS, steps: int = 20) -> None:
    for env, (opt, lr, seed, final) in runs.items():
        with livepanel.Panel(url, env=env, config={"optimizer": opt, "lr": lr, "seed": seed}, spool_dir=spool) as p:
            x = np.arange(steps, dtype=float)
            p.line(x, final + np.exp(-x / 5), win="loss", name="train")
            assert p.flush(10)


def open_panel(pages, url: str, query: str = ""):
    page = pages.open(f"{url}/?runs=1{query}", width=1600, height=1000)
    wait(page, f"s.rows === {len(RUNS)}")
    return page


def wait(page, cond: str, timeout: float = 8000) -> None:
    """Poll until `cond` (JS over `s`, the runs table's figures, and `lp`, the page hooks) holds."""
    js = f"() => {{ const lp = window.__livepanel; const s = lp && lp.runsTable; return !!s && ({cond}); }}"
    page.wait_for_function(js, timeout=timeout)


def order(page) -> list[str]:
    return page.evaluate("() => window.__livepanel.runsPanel.table.order()")


def cells(page, env: str) -> dict:
    return page.evaluate("(env) => window.__livepanel.runsPanel.table.cellsOf(env)", env)


def row(page, env: str):
    return page.locator(f'.lp-rt-row[data-env="{env}"]')


@pytest.fixture
def logged(server, tmp_path):
    log_runs(server.url, tmp_path / "spool")
    return server


def test_runs_with_config_fill_the_table_and_sort_by_a_config_key_and_a_metric(logged, pages, artifacts):
    page = open_panel(pages, logged.url)
    # every run is a row, its config and its metric's last value in cells (text only)
    for env, (opt, _lr, seed, final) in RUNS.items():
        expect_loss = final + np.exp(-19 / 5)
        wait(page, f"!!lp.runsPanel.table.cellsOf({json.dumps(env)})")
        c = cells(page, env)
        assert c["env"] == env and c["config.optimizer"] == opt and c["config.seed"] == str(seed)
        assert float(c["metric.loss/train"]) == pytest.approx(expect_loss, rel=1e-3)
        assert c["status"] in ("running", "finished")
    assert row(page, "cmp/adam-s1").locator(".lp-rt-cell").nth(2).inner_text() == "cmp/adam-s1"
    assert "config.lr" in page.evaluate("() => window.__livepanel.runsTable.columns")

    # sort by a config key: a header click ascending, again descending; numbers numerically
    page.locator('.lp-rt-h[data-col="config.lr"]').click()
    wait(page, "s.sort && s.sort.col === 'config.lr' && s.sort.dir === 1")
    assert order(page)[:2] == ["cmp/adam-s1", "cmp/adam-s2"] and order(page)[2] == "cmp/rms-s1"
    page.locator('.lp-rt-h[data-col="config.lr"]').click()
    wait(page, "s.sort.dir === -1")
    assert order(page)[-1] == "cmp/adam-s2" and order(page)[:2] == ["cmp/sgd-s1", "cmp/sgd-s2"]
    page.wait_for_function("() => location.search.includes('runsort=-config.lr')", timeout=5000)
    # a link keeps the sort
    linked = pages.open(logged.url + "/?runs=1&runsort=-config.lr", width=1600, height=1000)
    wait(linked, f"s.rows === {len(RUNS)} && s.sort && s.sort.col === 'config.lr' && s.sort.dir === -1")
    assert order(linked) == order(page)
    # the keyboard sorts too
    page.locator('.lp-rt-h[data-col="config.seed"]').focus()
    page.keyboard.press("Enter")
    wait(page, "s.sort.col === 'config.seed'")
    # by a metric: the rows on screen follow
    page.locator('.lp-rt-h[data-col="metric.loss/train"]').click()
    wait(page, "s.sort.col === 'metric.loss/train'")
    assert order(page) == ["cmp/adam-s1", "cmp/adam-s2", "cmp/rms-s1", "cmp/sgd-s1", "cmp/sgd-s2"]
    tops = [row(page, env).bounding_box()["y"] for env in order(page)]
    assert tops == sorted(tops)
    assert page.locator('.lp-rt-h[data-col="metric.loss/train"]').get_attribute("aria-sort") == "ascending"
    page.screenshot(path=str(artifacts / "runs-table.png"))


def test_a_filter_narrows_the_rows_and_a_bad_one_says_why(logged, pages):
    page = open_panel(pages, logged.url)
    box = page.locator(".lp-runs-filter")
    box.fill('lr < 0.01 and optimizer == "adam"')
    wait(page, "s.rows === 2")
    assert sorted(order(page)) == ["cmp/adam-s1", "cmp/adam-s2"]
    assert page.locator(".lp-runs-count").inner_text() == "2 of 5 runs"
    page.wait_for_function("() => location.search.includes('runfilter=')", timeout=5000)
    box.fill('name ~ "s1$"')
    wait(page, "s.rows === 3")
    # a bad expression: its message inline, the table keeps its last good rows
    box.fill("lr <")
    wait(page, "s.filterError !== ''")
    msg = page.locator(".lp-runs-filter-msg")
    assert msg.is_visible() and msg.inner_text() == "the filter ends where a value after '<' was expected"
    assert page.evaluate("() => window.__livepanel.runsTable.rows") == 3
    assert box.get_attribute("aria-invalid") == "true"
    box.fill('name ~ "(a+)+"')
    wait(page, "s.filterError.includes('a repeat inside a repeat')")
    box.fill("")
    wait(page, "s.rows === 5 && s.filterError === ''")
    assert msg.is_hidden()
    # the filter stays in the link: reopening it shows the same rows
    page2 = pages.open(logged.url + '/?runs=1&runfilter=optimizer+%3D%3D+"sgd"', width=1600, height=1000)
    wait(page2, "s.rows === 2")
    assert page2.locator(".lp-runs-filter").input_value() == 'optimizer == "sgd"'


def test_selecting_rows_changes_the_overlaid_envs_and_the_boxes_follow(logged, pages):
    page = open_panel(pages, logged.url, "&env=cmp/adam-s1")
    wait(page, "JSON.stringify(lp.selected) === '[\"cmp/adam-s1\"]'")
    assert row(page, "cmp/adam-s1").locator("input").is_checked()
    row(page, "cmp/sgd-s2").locator("input").check()
    wait(page, "lp.selected.length === 2 && lp.selected.includes('cmp/sgd-s2')")
    assert "env=cmp%2Fsgd-s2" in page.url or "env=cmp/sgd-s2" in page.url
    page.wait_for_function("() => window.__livepanel.grid.envsOf('loss').length === 2", timeout=8000)
    row(page, "cmp/adam-s1").locator("input").uncheck()
    wait(page, "JSON.stringify(lp.selected) === '[\"cmp/sgd-s2\"]'")
    # selected elsewhere (the picker's select): the checkboxes follow
    page.evaluate("() => window.__livepanel.select(['cmp/rms-s1'])")
    page.wait_for_function(
        """() => document.querySelector('.lp-rt-row[data-env="cmp/rms-s1"] input').checked
            && !document.querySelector('.lp-rt-row[data-env="cmp/sgd-s2"] input').checked""",
        timeout=5000,
    )
    # the header box: every run in the table
    page.locator(".lp-rt-head input").check()
    wait(page, "lp.selected.length === 5")


def test_a_cell_changes_live_when_a_run_logs_more_keeping_sort_and_scroll(logged, pages, tmp_path):
    page = open_panel(pages, logged.url)
    page.locator('.lp-rt-h[data-col="steps"]').click()
    wait(page, "s.sort && s.sort.col === 'steps'")
    before = cells(page, "cmp/rms-s1")
    assert before["steps"] == "19"
    renders = page.evaluate("() => window.__livepanel.runsTable.renders")
    with livepanel.Panel(logged.url, env="cmp/rms-s1", spool_dir=tmp_path / "more") as p:
        p.line(np.arange(20, 40, dtype=float), np.full(20, 0.01), win="loss", name="train")
        assert p.flush(10)
    page.wait_for_function(
        """() => { const r = document.querySelector('.lp-rt-row[data-env="cmp/rms-s1"]');
                   return !!r && [...r.children].some((c) => c.textContent === '39'); }""",
        timeout=10000,
    )
    assert cells(page, "cmp/rms-s1")["metric.loss/train"] == "0.01"
    stats = page.evaluate("() => window.__livepanel.runsTable")
    assert stats["renders"] > renders and stats["sort"] == {"col": "steps", "dir": 1}
    assert order(page)[-1] == "cmp/rms-s1", "the sort applies to the new value"
    assert page.evaluate("() => performance.getEntriesByType('navigation').length") == 1  # no reload


def test_group_rows_show_the_mean_and_collapse(logged, pages):
    page = open_panel(pages, logged.url)
    page.locator("select.lp-runs-group").select_option("optimizer")
    page.wait_for_function("() => document.querySelectorAll('.lp-rt-group').length === 3", timeout=5000)
    assert "group=optimizer" in page.url
    groups = page.evaluate("() => window.__livepanel.runsPanel.table.groupRows()")
    adam = groups["optimizer=adam"]
    assert adam["config.seed"] == "1.5 ± 0.7071"  # mean ± std of 1 and 2
    assert adam["config.lr"] == "0.001"  # all equal: the value
    assert groups["optimizer=sgd"]["metric.loss/train"].startswith("0.")
    head = page.locator('.lp-rt-group[data-group="optimizer=adam"]')
    assert "(2)" in head.inner_text() and "1.5 ± 0.7071" in head.inner_text()
    assert page.evaluate("() => window.__livepanel.runsTable.lines") == 8
    head.locator(".lp-rt-cell").nth(2).click()
    wait(page, "s.lines === 6")
    assert row(page, "cmp/adam-s1").count() == 0
    page.locator("select.lp-runs-band").select_option("std")
    page.wait_for_function("() => location.search.includes('band=std')", timeout=5000)


def test_hovering_a_row_sets_focus_and_a_focused_run_is_highlighted(logged, pages):
    page = open_panel(pages, logged.url)
    wait(page, "!!document.querySelector('.lp-rt-row[data-env=\"cmp/sgd-s1\"]')")
    row(page, "cmp/sgd-s1").hover()
    page.wait_for_function("() => window.__livepanel.focus.get() === 'cmp/sgd-s1'", timeout=5000)
    assert "focus" in row(page, "cmp/sgd-s1").get_attribute("class")
    page.mouse.move(5, 990)
    page.wait_for_function("() => window.__livepanel.focus.get() === null", timeout=5000)
    page.evaluate("() => window.__livepanel.focus.set('cmp/adam-s2')")  # as a chart's trace would
    next_frames(page)
    assert "focus" in row(page, "cmp/adam-s2").get_attribute("class")
    assert "focus" not in row(page, "cmp/sgd-s1").get_attribute("class")


def test_importance_ranks_the_key_that_decides_the_metric(logged, pages):
    page = open_panel(pages, logged.url)
    page.locator("select.lp-runs-imp-metric").select_option("metric.loss/train")
    wait(page, "s.importance.metric === 'metric.loss/train' && s.importance.keys.length === 3")
    keys = page.evaluate("() => window.__livepanel.runsTable.importance.keys")
    assert keys[0]["key"] in ("optimizer", "lr") and keys[0]["importance"] > 0.7
    seed = next(k for k in keys if k["key"] == "seed")
    assert seed["importance"] is not None and seed["importance"] < 0.3
    items = page.locator(".lp-runs-imp-item")
    assert items.count() == 3
    assert items.first.locator(".lp-runs-imp-key").inner_text() == keys[0]["key"]


def test_the_panel_stays_closed_without_runs_1_and_the_toggle_keeps_the_url(logged, pages):
    page = pages.open(logged.url + "/", width=1600, height=1000)
    assert page.locator(".lp-runs").is_hidden()
    page.locator(".lp-toggle-runs").click()
    wait(page, f"s.rows === {len(RUNS)}")
    page.wait_for_function("() => location.search.includes('runs=1')", timeout=5000)
    assert page.evaluate("() => window.__livepanel.runsTable.shownMs") >= 0
    page.locator(".lp-toggle-runs").click()
    page.wait_for_function("() => !location.search.includes('runs=1')", timeout=5000)
    assert page.locator(".lp-runs").is_hidden()


def test_without_runs_the_panel_says_how_to_get_some(server, pages, tmp_path):
    page = pages.open(server.url + "/?runs=1", width=1600, height=1000)
    page.wait_for_function("() => !document.querySelector('.lp-runs-empty').hidden", timeout=5000)
    assert "livepanel.Panel(env=..., config={...})" in page.locator(".lp-runs-empty").inner_text()
    log_runs(server.url, tmp_path / "spool", {"e/one": ("adam", 0.1, 1, 0.5)})
    wait(page, "s.rows === 1")
    page.wait_for_function("() => document.querySelector('.lp-runs-empty').hidden", timeout=5000)
    page.locator(".lp-runs-filter").fill("lr > 1")
    page.wait_for_function("() => !document.querySelector('.lp-runs-empty').hidden", timeout=5000)
    assert page.locator(".lp-runs-empty").inner_text() == "No run matches the filter."


def test_names_are_text_never_markup(server, pages, tmp_path):
    evil = {'cmp/<img src=x onerror="window.__pwned=1">': ("<b>x</b>", 0.1, 1, 0.5)}
    log_runs(server.url, tmp_path / "spool", evil)
    page = pages.open(server.url + "/?runs=1", width=1600, height=1000)
    wait(page, "s.rows === 1")
    text = page.locator(".lp-rt-row").first.inner_text()
    assert "<b>x</b>" in text and "<img" in text
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator(".lp-runs img, .lp-runs b").count() == 0


def test_a_brush_narrows_the_table_and_the_overlaid_envs(logged, pages):
    page = open_panel(pages, logged.url, "&env=cmp/adam-s1&env=cmp/sgd-s1")
    wait(page, "lp.overlaid.length === 2")
    # the plots get their rows a frame after the table
    plot = "document.querySelector('.lp-parcoords').lpPlot"
    wait(page, f"{plot}.debug().axes.some((a) => a.key === 'config.optimizer')")
    page.evaluate(f"() => {plot}.brush('config.optimizer', 'adam')")
    wait(page, "s.rows === 2")
    assert sorted(order(page)) == ["cmp/adam-s1", "cmp/adam-s2"]
    # the windows overlay the selected runs inside the brush; the selection itself is kept
    wait(page, "JSON.stringify(lp.overlaid) === '[\"cmp/adam-s1\"]'")
    assert page.evaluate("() => window.__livepanel.selected") == ["cmp/adam-s1", "cmp/sgd-s1"]
    page.wait_for_function("() => window.__livepanel.grid.envsOf('loss').length === 1", timeout=8000)
    # closing the panel: the windows overlay the whole selection again; reopening brings the brush back
    page.locator(".lp-toggle-runs").click()
    wait(page, "lp.overlaid.length === 2")
    page.locator(".lp-toggle-runs").click()
    wait(page, "JSON.stringify(lp.overlaid) === '[\"cmp/adam-s1\"]'")
    page.evaluate("() => document.querySelector('.lp-parcoords').lpPlot.clearBrushes()")
    wait(page, "s.rows === 5 && lp.overlaid.length === 2")


def test_a_live_change_rewrites_only_the_changed_cells(logged, pages, tmp_path):
    page = open_panel(pages, logged.url)
    wait(page, "!!document.querySelector('.lp-rt-row[data-env=\"cmp/sgd-s2\"]')")
    next_frames(page)
    before = page.evaluate("() => window.__livepanel.runsTable.cellWrites")
    with livepanel.Panel(logged.url, env="cmp/sgd-s2", spool_dir=tmp_path / "more") as p:
        p.line(np.arange(20, 25, dtype=float), np.full(5, 0.05), win="loss", name="train")
        assert p.flush(10)
    wait(page, "lp.runsPanel.table.cellsOf('cmp/sgd-s2').steps === '24'")
    page.wait_for_function(
        """() => [...document.querySelector('.lp-rt-row[data-env="cmp/sgd-s2"]').children]
                 .some((c) => c.textContent === '24')""",
        timeout=10000,
    )
    next_frames(page)
    writes = page.evaluate("() => window.__livepanel.runsTable.cellWrites") - before
    # steps, updated, status, the metric's last value (min and max are hidden): one row's cells, not the table's
    assert 1 <= writes <= 6, writes


def test_the_column_chooser_shows_and_hides_columns(logged, pages):
    page = open_panel(pages, logged.url)
    cols = page.evaluate("() => window.__livepanel.runsTable.columns")
    assert "config.seed" in cols and "metric.loss/train.min" not in cols, "a metric's min and max start hidden"
    page.locator(".lp-runs-cols summary").click()
    page.locator('.lp-runs-cols input[data-col="config.seed"]').uncheck()
    wait(page, "!s.columns.includes('config.seed')")
    assert page.locator('.lp-rt-h[data-col="config.seed"]').count() == 0
    page.locator('.lp-runs-cols input[data-col="metric.loss/train.min"]').check()
    wait(page, "s.columns.includes('metric.loss/train.min')")
    c = cells(page, "cmp/adam-s1")
    assert "config.seed" not in c
    assert float(c["metric.loss/train.min"]) == pytest.approx(0.2 + np.exp(-19 / 5), rel=1e-3)
    # a shown column sorts like any other
    page.locator('.lp-rt-h[data-col="metric.loss/train.min"]').click()
    wait(page, "s.sort.col === 'metric.loss/train.min'")
    assert order(page)[0] == "cmp/adam-s1"


def test_many_runs_only_rows_in_view_are_in_the_page_and_scroll_survives_a_live_change(server, pages, tmp_path):
    with livepanel.Panel(server.url, env="many/r000", spool_dir=tmp_path / "spool") as p:
        for i in range(80):
            p.config({"lr": 10 ** (-1 - i % 4), "i": i}, env=f"many/r{i:03d}")
            p.line(np.arange(5.0), np.full(5, i / 100), win="loss", env=f"many/r{i:03d}")
        assert p.flush(20)
    page = pages.open(server.url + "/?runs=1", width=1600, height=1000)
    wait(page, "s.rows === 80")
    stats = page.evaluate("() => window.__livepanel.runsTable")
    assert stats["domRows"] < 40 and page.locator(".lp-rt-row").count() == stats["domRows"]
    assert row(page, "many/r079").count() == 0
    # scrolled to the end, the last runs are drawn
    page.evaluate("() => { const t = document.querySelector('.lp-runs-table'); t.scrollTop = t.scrollHeight; }")
    page.wait_for_function("() => !!document.querySelector('.lp-rt-row[data-env=\"many/r079\"]')", timeout=5000)
    top = page.evaluate("() => document.querySelector('.lp-runs-table').scrollTop")
    assert top > 1000
    assert row(page, "many/r000").count() == 0
    # a run logs: its cell changes in place, the table stays where it was scrolled
    with livepanel.Panel(server.url, env="many/r078", spool_dir=tmp_path / "more") as p:
        p.line(np.arange(5.0, 9.0), np.full(4, 0.5), win="loss")
        assert p.flush(10)
    page.wait_for_function(
        """() => [...document.querySelector('.lp-rt-row[data-env="many/r078"]').children]
                 .some((c) => c.textContent === '8')""",
        timeout=10000,
    )
    assert page.evaluate("() => document.querySelector('.lp-runs-table').scrollTop") == top
