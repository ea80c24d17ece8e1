"""Browser fixtures: the system Chromium driven by Python Playwright.

The browser is found at $LIVEPANEL_CHROMIUM, /usr/bin/chromium or
/usr/bin/chromium-browser. Without one these tests skip (install it with
`apt-get install chromium`); with CI=true a missing browser is an error.
`playwright install` is never needed or used.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
STATIC = ROOT / "livepanel" / "static" / "app.js"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = "no Chromium found: install it with `apt-get install chromium` (or set LIVEPANEL_CHROMIUM)"


def chromium_path() -> str | None:
    for cand in (os.environ.get("LIVEPANEL_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if cand and os.path.exists(cand):
            return cand
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def bundle() -> Path:
    """The built app; built here with npm when missing (a checkout without `pip install -e .`)."""
    if not STATIC.exists():
        npm = shutil.which("npm")
        if npm is None:
            _unavailable("livepanel/static/app.js is missing and npm is not installed to build it")
        frontend = ROOT / "frontend"
        if not (frontend / "node_modules").exists():
            subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=frontend, check=True)
        subprocess.run([npm, "run", "build"], cwd=frontend, check=True, capture_output=True)
    return STATIC


@pytest.fixture(scope="session")
def chromium(bundle):
    """One headless Chromium for the whole session."""
    path = chromium_path()
    if path is None:
        _unavailable(INSTALL_HINT)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Python Playwright is missing: pip install playwright (no `playwright install` needed)")
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=path, args=LAUNCH_ARGS, headless=True)
    except Exception as exc:  # noqa: BLE001 - a broken browser install is reported, not crashed on
        pw.stop()
        _unavailable(f"Chromium at {path} did not start ({exc}); {INSTALL_HINT}")
    yield browser
    browser.close()
    pw.stop()


class Pages:
    """Opens pages in fresh contexts and checks that none of them logged an error."""

    def __init__(self, browser):
        self.browser = browser
        self.contexts = []
        self.errors: list[str] = []  # uncaught exceptions in any page
        self.console: list[str] = []  # console errors (a dropped websocket logs one: not a failure by itself)

    def open(self, url: str, color_scheme: str = "light", width: int = 1400, height: int = 900):
        ctx = self.browser.new_context(
            viewport={"width": width, "height": height}, color_scheme=color_scheme, accept_downloads=True
        )
        self.contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("console", lambda msg: msg.type == "error" and self.console.append(msg.text))
        page.goto(url)
        page.wait_for_function("() => window.__livepanel && window.__livepanel.status === 'open'", timeout=10000)
        return page

    def close(self):
        for ctx in self.contexts:
            ctx.close()


@pytest.fixture
def pages(chromium):
    p = Pages(chromium)
    yield p
    p.close()
    assert not p.errors, p.errors


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def example(monkeypatch, tmp_path):
    """Import examples/NAME.py in this process (torch is imported once for the session): `example("train_digits")`."""
    loaded: list[str] = []
    torch_threads: list[int] = []

    def load(name: str):
        pytest.importorskip("sklearn")
        torch = pytest.importorskip("torch")
        if not torch_threads:
            torch_threads.append(torch.get_num_threads())
        monkeypatch.syspath_prepend(str(ROOT / "examples"))
        monkeypatch.setenv("LIVEPANEL_SPOOL", str(tmp_path / "spool"))
        loaded.append(name)
        return importlib.import_module(name)

    yield load
    if torch_threads:
        import torch

        torch.set_num_threads(torch_threads[0])  # the examples set 1 thread for their tiny models
    for name in loaded:
        sys.modules.pop(name, None)
