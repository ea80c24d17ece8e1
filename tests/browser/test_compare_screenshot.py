"""The compare_optimizers example seen in a browser: its runs in the runs table, grouped by recipe, with
the parallel coordinates; the screenshot illustrates the README.

The screenshot goes to test-artifacts/browser/compare.png; with LIVEPANEL_UPDATE_DOCS=1 it also replaces
docs/compare.png (the README's picture), so the picture is always one this test took.
"""

from __future__ import annotations

import os
import shutil
import urllib.parse

from browser_helpers import next_frames
from conftest import ROOT

RECIPES = ("sgd-lr1e-1", "sgd-lr1e-2", "momentum-lr1e-1", "momentum-lr1e-2", "adam-lr1e-2", "adam-lr1e-3")


def test_compare_optimizers_in_the_browser(server, pages, artifacts, example):
    compare = example("compare_optimizers")
    compare.main(["--url", server.url, "--epochs", "4"])
    runs = [f"digits/{r}-s{seed}" for seed in (0, 1) for r in RECIPES]
    query = urllib.parse.urlencode([("env", e) for e in runs] + [("runfilter", 'name ~ "-s[0-9]$"')])
    page = pages.open(f"{server.url}/?{query}&group=recipe&runs=1", width=1500, height=1100)
    # every run is a row of the table, and the loss window shows one mean curve per recipe
    page.wait_for_function("() => window.__livepanel.runsTable?.rows === 12", timeout=15000)
    page.wait_for_function(
        "() => { const c = window.__livepanel.chart('loss');"
        " return !!c && c.grouped && new Set(c.groups.map((g) => g.group)).size === 6 }",
        timeout=15000,
    )
    page.wait_for_function("() => document.querySelector('.lp-parcoords canvas') !== null", timeout=10000)
    next_frames(page)  # the last changes are painted
    shot = artifacts / "compare.png"
    page.screenshot(path=str(shot))
    assert 10_000 < shot.stat().st_size < 900_000
    if os.environ.get("LIVEPANEL_UPDATE_DOCS") == "1":
        shutil.copyfile(shot, ROOT / "docs" / "compare.png")
