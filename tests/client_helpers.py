"""Helpers for tests of the client: what it spooled, what it logged, and polling."""

from __future__ import annotations

import time
from pathlib import Path

from livepanel.client.spool import SUFFIX


def spooled(root: Path) -> list[Path]:
    """The batch files a client spooled under `root`."""
    return sorted(root.glob("*/*" + SUFFIX)) if root.exists() else []


def messages(caplog, text: str) -> list[str]:
    """Logged messages that contain `text`."""
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


def wait_for(predicate, timeout: float = 20.0) -> bool:
    """Poll until predicate() is true (True), or until `timeout` seconds have passed (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def wait_value(cond, timeout: float = 15.0, what: str = "condition"):
    """Poll until cond() gives something true and return it; fail the test naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")
