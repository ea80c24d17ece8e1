"""Finding windows and daily use (issue 19, items 9 and 14): the window search, sections by name
prefix, the grid's use of the page's width, the landing page, live picker counts, one-line window
toolbars, image zoom and the PNG download's name."""

from __future__ import annotations

from browser_helpers import next_seq, png_bytes
from wire import line_op, send_ops


def send(url, ops):
    status, answer = send_ops(url, ops, client="browser-finding", seq=next_seq())
    assert status == 200, answer


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
    assert zoom.inner_text().endswith("×"), "the fit's scale, as a number"
    assert win.get_by_text("fit", exact=True).count() == 1, "the fit button only: the level is not shown twice"
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
