"""What every benchmark here needs: a server, a browser, a wire post and one JSON line per figure.

Imported as a sibling module (`import common` from benchmarks/bench_*.py, run as scripts). It puts the
repository and tests/ on sys.path and reuses the test fixtures' pieces: tests/serverproc.py for the server
process and tests/browser/conftest.py for the Chromium flags and where Chromium is, so that a benchmark
runs the server and the browser exactly as the tests do.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "browser"), str(ROOT / "tests"), str(ROOT)]  # browser/ first: its conftest

from conftest import LAUNCH_ARGS  # noqa: E402  (the Chromium flags the browser tests use)
from serverproc import ServerProcess, free_port  # noqa: E402

from livepanel import protocol  # noqa: E402

__all__ = ["LAUNCH_ARGS", "ROOT", "ServerProcess", "free_port"]

BIG_PAYLOAD = ("--max-payload", str(256 << 20))  # for benchmarks that post millions of points at once


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far, not its children's (Linux /proc)."""
    return sum(_stat_ticks(pid)[:2]) / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children, living (postgres backends) and reaped."""
    total = sum(_stat_ticks(pid)) / os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                total += (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _stat_ticks(pid: int) -> list[int]:
    """utime, stime, cutime, cstime of a process, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return [int(v) for v in fields[11:15]]


def emit(**fields: Any) -> None:
    """One figure as one JSON line, flushed at once (a long benchmark shows its figures as they come)."""
    print(json.dumps(fields), flush=True)


def report(
    figure: str,
    unit: str,
    runs: list[float],
    target: float | None = None,
    *,
    higher: bool = False,
    digits: int | None = 1,
    spread: bool = False,
    **extra: Any,
) -> None:
    """A timed figure: its median and each run (with min and max when `spread`), and whether it met `target`.

    The keys, in order: figure, unit, median, [min, max], runs, [target, ok], then `extra`.
    """
    med = statistics.median(runs)
    line: dict[str, Any] = {"figure": figure, "unit": unit, "median": round(med, digits)}
    if spread:
        line.update(min=round(min(runs), digits), max=round(max(runs), digits))
    line["runs"] = [round(r, digits) for r in runs]
    if target is not None:
        line.update(target=target, ok=med >= target if higher else med <= target)
    emit(**line, **extra)


class Poster:
    """Posts ops straight to the ingest route as one wire client (its own sequence numbers)."""

    def __init__(self, client: str):
        self.client = client
        self.seq = itertools.count(1)

    def __call__(self, url: str, ops: list[dict]) -> None:
        body = protocol.packb({"client": self.client, "seq": next(self.seq), "ops": ops})
        req = urllib.request.Request(url + "/api/v1/ingest", body, {"Content-Type": "application/msgpack"})
        with urllib.request.urlopen(req, timeout=120) as resp:
            assert resp.status == 200


@contextmanager
def server(*extra: str, store: str = "sqlite") -> Iterator[ServerProcess]:
    """`livepanel serve` on a free loopback port with its data in a temporary directory, stopped by its pid.

    The directory (srv.data_dir.parent) is removed afterwards; put spools and other scratch files there.
    """
    with tempfile.TemporaryDirectory(prefix="livepanel-bench-") as tmp:
        srv = ServerProcess(Path(tmp) / "data", *extra, store=store).start()
        try:
            yield srv
        finally:
            srv.stop()


def add_chromium_arg(ap: argparse.ArgumentParser) -> None:
    """--chromium: which Chromium to drive ($LIVEPANEL_CHROMIUM, else the system one)."""
    ap.add_argument("--chromium", default=os.environ.get("LIVEPANEL_CHROMIUM", "/usr/bin/chromium"))


def require_bundle(name: str = "app.js") -> None:
    """Exit with how to build the frontend when its bundle `name` is missing (a browser benchmark needs it)."""
    if not (ROOT / "livepanel" / "static" / name).exists():
        sys.exit("build the app first: cd frontend && npm ci && npm run build (or pip install -e .)")


@contextmanager
def browser(chromium: str) -> Iterator[Any]:
    """Headless Chromium at path `chromium` through Playwright, with the browser tests' flags."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
        try:
            yield b
        finally:
            b.close()


def wait_live(page, timeout: float = 30000) -> None:
    """Return once the page's socket is open (the app has loaded and subscribed)."""
    page.wait_for_function("() => window.__livepanel?.status === 'open'", timeout=timeout)


def webgl_renderer(page) -> str:
    """Which WebGL renderer the page draws with (headless Chromium without a GPU: SwiftShader, on the CPU)."""
    return page.evaluate(
        """() => {
        const gl = document.createElement('canvas').getContext('webgl');
        if (!gl) return 'no webgl';
        const ext = gl.getExtension('WEBGL_debug_renderer_info');
        return ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
    }"""
    )
