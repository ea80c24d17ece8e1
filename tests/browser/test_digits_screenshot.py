"""The digits example seen in a browser: every window it logs renders; its screenshot illustrates the README.

The screenshot goes to test-artifacts/browser/digits.png; with LIVEPANEL_UPDATE_DOCS=1 it also replaces
docs/digits.png (the README's picture), so the picture is always one this test took.
"""

from __future__ import annotations

import os
import shutil

from browser_helpers import next_frames
from conftest import ROOT


def test_digits_run_in_the_browser(server, pages, artifacts, example):
    train_digits = example("train_digits")
    train_digits.main(["--url", server.url, "--epochs", "8", "--watch-every", "10"])
    page = pages.open(server.url + "/?env=digits/mlp", width=1500, height=1000)
    wins = ["loss", "accuracy", "lr", "grad_norm", "samples", "confusion", "summary"]
    for win in wins:
        page.wait_for_selector(f'section[data-win="{win}"]', timeout=10000)
    assert page.locator('section[data-win="loss"] .lp-legend-label').all_inner_texts() == ["val", "train"]
    assert page.locator('section[data-win="grad_norm"] .lp-legend-label').all_inner_texts() == ["fc1", "fc2", "out"]
    assert page.locator('section[data-win="lr"] .lp-legend-label').all_inner_texts() == ["lr"]  # unnamed trace
    page.wait_for_function(
        "() => ['loss', 'accuracy', 'grad_norm'].every((k) => window.__livepanel.points(k) > 0)",
        timeout=10000,
    )
    next_frames(page)  # the last changes are painted
    shot = artifacts / "digits.png"
    page.screenshot(path=str(shot))
    assert 10_000 < shot.stat().st_size < 600_000
    if os.environ.get("LIVEPANEL_UPDATE_DOCS") == "1":
        shutil.copyfile(shot, ROOT / "docs" / "digits.png")
