"""A test's own child process (a server it runs): wait within a deadline until it is ready, stop it by its
own pid, killed when it does not stop in time. Shared by the livepanel, Redis, PostgreSQL and nginx ones."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable


def wait_ready(
    proc: subprocess.Popen, ready: Callable[[], bool], what: str, log: Callable[[], str], timeout: float
) -> None:
    """Poll `ready` until it holds; raise with the child's log when it exits or the deadline passes."""
    deadline = time.monotonic() + timeout
    while not ready():
        left = deadline - time.monotonic()
        if left <= 0:
            stop(proc, signal.SIGKILL)
            raise RuntimeError(f"{what} did not start in {timeout} s: {log()}")
        try:  # between polls, wait on the child itself: its exit is seen at once
            code = proc.wait(min(0.05, left))
        except subprocess.TimeoutExpired:
            continue
        raise RuntimeError(f"{what} exited with {code}: {log()}")


def stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
    """Send `sig` and wait for the exit (SIGKILL after `timeout`): its exit code, None if never started."""
    if proc is None:
        return None
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(timeout)
