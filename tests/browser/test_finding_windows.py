"""Finding windows and daily use (issue 19, items 9 and 14): the window search, sections by name
prefix, the grid's use of the page's width, the landing page, live picker counts, one-line window
toolbars, image zoom and the PNG download's name."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from browser_helpers import next_seq, png_bytes
from wire import line_op, send_ops

WINS = ["loss/train", "loss/val", "grad_norm/layer1", "grad_norm/layer2", "accuracy"]


def send(url, ops):
    status, answer = send_ops(url, ops, client="browser-finding", seq=next_seq())
    assert status == 200, answer


def wait_shown(page, wins: list[str]) -> None:
    page.wait_for_function(
        """(want) => JSON.stringify([...document.querySelectorAll('section.lp-win')]
            .filter((s) => s.offsetParent).map((s) => s.dataset.win)) === JSON.stringify(want)""",
        arg=wins,
        timeout=5000,
    )


def query(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query, keep_blank_values=True)


def five_windows(url: str, env: str) -> None:
    send(url, [line_op(env, win, [0, 1, 2], [3.0, 2.0, 1.0]) for win in WINS])


def test_search_filters_windows_by_substring_and_regex_and_keeps_it_in_the_url(server, pages):
    five_windows(server.url, "find")
    page = pages.open(server.url + "/?env=find")
    page.wait_for_function("() => document.querySelectorAll('section.lp-win').length === 5", timeout=5000)
    search = page.locator(".lp-win-search")
    search.fill("VAL")  # a substring, any case
    wait_shown(page, ["loss/val"])
    assert query(page)["q"] == ["VAL"]
    search.fill("/^grad_norm\\/layer[12]$/")  # a regex
    wait_shown(page, ["grad_norm/layer1", "grad_norm/layer2"])
    search.fill("/(/")  # not a regex: said so, nothing shown
    page.wait_for_function(
        "() => document.querySelector('.lp-grid-hint').textContent.includes('Not a valid regular expression')"
    )
    assert search.get_attribute("aria-invalid") == "true"
    search.fill("nothing-like-this")
    page.wait_for_function("() => document.querySelector('.lp-grid-hint').textContent.includes('No window matches')")
    search.fill("")
    wait_shown(page, ["loss/train", "loss/val", "grad_norm/layer1", "grad_norm/layer2", "accuracy"])
    assert "q" not in query(page)
    # a link reproduces the view: the search comes back from the URL
    other = pages.open(server.url + "/?env=find&q=layer2")
    wait_shown(other, ["grad_norm/layer2"])
    assert other.locator(".lp-win-search").input_value() == "layer2"


def test_sections_by_prefix_collapse_and_the_url_keeps_them(server, pages):
    five_windows(server.url, "sect")
    page = pages.open(server.url + "/?env=sect")
    page.wait_for_function("() => document.querySelectorAll('section.lp-win').length === 5", timeout=5000)
    heads = page.locator(".lp-section-head")
    assert heads.all_inner_texts() == ["▾ loss (2)", "▾ grad_norm (2)", "▾ other (1)"]
    for win in WINS:
        section = "" if "/" not in win else win.split("/")[0]
        assert page.locator(f'.lp-section[data-section="{section}"] section[data-win="{win}"]').count() == 1
    page.locator('.lp-section[data-section="loss"] .lp-section-head').click()
    wait_shown(page, ["grad_norm/layer1", "grad_norm/layer2", "accuracy"])
    assert page.locator('.lp-section[data-section="loss"] .lp-section-head').get_attribute("aria-expanded") == "false"
    assert query(page)["fold"] == ["loss"]
    page.locator('.lp-section[data-section=""] .lp-section-head').click()  # the default section folds too
    wait_shown(page, ["grad_norm/layer1", "grad_norm/layer2"])
    assert sorted(query(page)["fold"]) == ["", "loss"]
    # the search counts within the sections
    page.locator(".lp-win-search").fill("layer1")
    page.wait_for_function(
        "() => document.querySelector('.lp-section[data-section=\"grad_norm\"] .lp-section-head').textContent"
        " === '▾ grad_norm (1 of 2)'"
    )
    # a link reproduces the folds; opening a section shows its windows again
    other = pages.open(server.url + "/?env=sect&fold=loss")
    other.wait_for_function("() => document.querySelectorAll('section.lp-win').length === 5", timeout=5000)
    wait_shown(other, ["grad_norm/layer1", "grad_norm/layer2", "accuracy"])
    other.locator('.lp-section[data-section="loss"] .lp-section-head').click()
    wait_shown(other, WINS[:2] + WINS[2:4] + ["accuracy"])
    other.wait_for_function(
        "() => document.querySelector('section[data-win=\"loss/val\"] canvas')?.width > 0", timeout=5000
    )
    assert "fold" not in query(other)


def test_grid_fills_the_width_of_a_1600_px_screen(server, pages):
    send(server.url, [line_op("wide", f"w{i}", [0, 1, 2], [1.0, 2.0, 3.0]) for i in range(6)])
    page = pages.open(server.url + "/?env=wide", width=1600, height=1000)
    page.wait_for_function("() => document.querySelectorAll('section.lp-win').length === 6", timeout=5000)
    page.wait_for_function(
        """() => {
            const grid = document.querySelector('.lp-grid').getBoundingClientRect();
            const wins = [...document.querySelectorAll('section.lp-win')];
            const right = Math.max(...wins.map((s) => s.getBoundingClientRect().right));
            return grid.right - right < 24;
        }""",
        timeout=5000,
    )
    boxes = page.evaluate(
        "() => [...document.querySelectorAll('section.lp-win')].map((s) => s.getBoundingClientRect().toJSON())"
    )
    assert len({round(b["top"]) for b in boxes}) == 3, "6 windows in 3 rows of 2"
    assert min(b["width"] for b in boxes) >= 460, "never narrower than a window's default width"


def test_landing_page_opens_the_most_recently_updated_env(server, pages):
    send(server.url, [line_op("aaa-old", "loss", [0], [1.0])])
    for step in range(1, 6):  # the run in progress: it keeps changing
        send(server.url, [line_op("zzz-new", "loss", [step], [1.0 / step])])
    page = pages.open(server.url + "/")
    page.wait_for_function("() => window.__livepanel.selected.length > 0", timeout=5000)
    assert page.evaluate("() => window.__livepanel.selected") == ["zzz-new"]
    assert query(page)["env"] == ["zzz-new"]


def test_picker_window_counts_stay_live(server, pages):
    send(server.url, [line_op("counted", "a", [0], [1.0])])
    page = pages.open(server.url + "/?env=counted")
    count = page.locator('.lp-env[data-env="counted"] .lp-env-count')
    page.wait_for_function(
        "() => document.querySelector('.lp-env[data-env=\"counted\"] .lp-env-count')?.textContent === '1'"
    )
    send(server.url, [line_op("counted", "b", [0], [1.0]), line_op("counted", "c", [0], [1.0])])
    page.wait_for_function(
        "() => document.querySelector('.lp-env[data-env=\"counted\"] .lp-env-count').textContent === '3'",
        timeout=5000,
    )
    send(server.url, [{"op": "close", "env": "counted", "win": "b"}])
    page.wait_for_function(
        "() => document.querySelector('.lp-env[data-env=\"counted\"] .lp-env-count').textContent === '2'",
        timeout=5000,
    )
    assert count.inner_text() == "2"


def test_window_toolbar_stays_on_one_line_when_narrow(server, pages):
    send(
        server.url,
        [
            line_op("narrow", "loss", [0, 1, 2], [3.0, 2.0, 1.0], name="train"),
            {"op": "opts", "env": "narrow", "win": "loss", "opts": {"title": "A long title for a loss", "width": 260}},
        ],
    )
    page = pages.open(server.url + "/?env=narrow")
    win = page.locator('section[data-win="loss"]')
    page.wait_for_selector('section[data-win="loss"] canvas')
    rows = page.evaluate(
        """() => {
            const head = document.querySelector('section[data-win="loss"] .lp-head');
            const tops = [...head.querySelectorAll(':scope > *')].filter((e) => e.offsetParent)
                .map((e) => Math.round(e.getBoundingClientRect().top + e.getBoundingClientRect().height / 2));
            return {tops, height: head.getBoundingClientRect().height, over: head.scrollWidth - head.clientWidth};
        }"""
    )
    assert max(rows["tops"]) - min(rows["tops"]) <= 2, rows
    assert rows["height"] < 34, rows
    assert rows["over"] <= 1, rows
    # what did not fit is one click away, in the "⋯" menu
    assert win.locator(".lp-menu").is_hidden()
    win.locator(".lp-more").click()
    assert win.locator(".lp-menu").is_visible()
    with page.expect_download() as dl:
        win.locator(".lp-menu .lp-export", has_text="PNG").click()
    assert dl.value.suggested_filename == "narrow-loss.png"
    assert win.locator(".lp-menu").is_hidden()
    win.locator(".lp-more").click()  # a click elsewhere, or Escape, closes it
    page.locator(".lp-brand").click()
    assert win.locator(".lp-menu").is_hidden()
    win.locator(".lp-more").click()
    page.keyboard.press("Escape")
    assert win.locator(".lp-menu").is_hidden()
    # wide again: everything back on the header's line
    page.evaluate("() => { const s = document.querySelector('section[data-win=\"loss\"]'); s.style.width = '900px'; }")
    page.wait_for_function(
        "() => document.querySelector('section[data-win=\"loss\"] .lp-head-tools .lp-export') !== null", timeout=5000
    )
    assert win.locator(".lp-more").is_hidden()


def test_page_bar_stays_on_one_line_with_many_envs_shown(server, pages):
    envs = [f"a-rather-long-run-name-{i}/with-its-recipe" for i in range(12)]
    send(server.url, [line_op(env, "loss", [0, 1, 2], [3.0, 2.0, 1.0]) for env in envs])
    send(server.url, [line_op(envs[0], "loss", [3], [float("nan")])])  # an alert: the bar's badge shows
    page = pages.open(server.url + "/?" + "&".join(f"env={e}" for e in envs), width=1400)
    page.wait_for_selector(".lp-alerts-toggle.on", timeout=10000)
    bar = page.evaluate(
        """() => {
            const bar = document.querySelector('.lp-bar');
            const mid = (e) => Math.round(e.getBoundingClientRect().top + e.getBoundingClientRect().height / 2);
            const parts = [...bar.querySelectorAll(':scope > *')].filter((e) => e.offsetParent);
            return {mids: parts.map(mid), height: bar.getBoundingClientRect().height,
                    search: document.querySelector('.lp-win-search').getBoundingClientRect().width,
                    badge: document.querySelector('.lp-alerts-toggle').getBoundingClientRect().height};
        }"""
    )
    assert max(bar["mids"]) - min(bar["mids"]) <= 2, bar
    assert bar["height"] < 40 and bar["badge"] < 28, bar  # the badge and "live" on one line each
    assert bar["search"] >= 200, bar  # the list of envs gives way, not the controls


def test_image_plus_always_enlarges_and_shows_the_zoom_once(server, pages):
    image = {"format": "png", "data": png_bytes(8, 8), "width": 8, "height": 8}
    send(server.url, [{"op": "image", "env": "img", "win": "digit", "step": 0, "images": [image]}])
    page = pages.open(server.url + "/?env=img")
    win = page.locator('section[data-win="digit"]')
    page.wait_for_function(
        """() => {
            const i = document.querySelector('section[data-win="digit"] img');
            return i && i.complete && i.naturalWidth === 8;
        }""",
        timeout=5000,
    )
    fit_width = win.locator("img").bounding_box()["width"]
    assert fit_width > 8 * 16, "a small image fits at more than the last zoom step"
    zoom = win.locator(".lp-zoom")
    widths = [fit_width]
    for _ in range(3):
        win.get_by_role("button", name="+", exact=True).click()
        page.wait_for_function(
            "(w) => document.querySelector('section[data-win=\"digit\"] img').getBoundingClientRect().width > w",
            arg=widths[-1],
            timeout=5000,
        )
        widths.append(win.locator("img").bounding_box()["width"])
        assert zoom.inner_text() == f"{round(widths[-1] / 8)}×"
    win.get_by_role("button", name="fit", exact=True).click()
    page.wait_for_function(
        "(w) => Math.abs(document.querySelector('section[data-win=\"digit\"] img').getBoundingClientRect().width - w)"
        " < 2",
        arg=fit_width,
        timeout=5000,
    )
    assert zoom.inner_text() == f"{float(zoom.inner_text()[:-1]):g}×", "the fit's scale, as a number"
    assert win.get_by_text("fit", exact=True).count() == 1, "the fit button only: the level is not shown twice"


def test_png_and_csv_downloads_share_one_name(server, pages, tmp_path):
    send(server.url, [line_op("runs/a", "loss/train", [0, 1, 2], [3.0, 2.0, 1.0])])
    page = pages.open(server.url + "/?env=runs/a")
    page.wait_for_selector('section[data-win="loss/train"] canvas')
    names = []
    for label in ("PNG", "CSV"):
        with page.expect_download() as dl:
            page.locator('section[data-win="loss/train"] .lp-export', has_text=label).click()
        names.append(dl.value.suggested_filename)
    assert names == ["runs_a-loss_train.png", "runs_a-loss_train.csv"]
