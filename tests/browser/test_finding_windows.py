"""Finding windows and daily use (issue 19, items 9 and 14): the window search, sections by name
prefix, the grid's use of the page's width, the landing page, live picker counts, one-line window
toolbars, image zoom and the PNG download's name."""

from __future__ import annotations

from browser_helpers import next_seq
from wire import line_op, send_ops


def send(url, ops):
    status, answer = send_ops(url, ops, client="browser-finding", seq=next_seq())
    assert status == 200, answer


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
