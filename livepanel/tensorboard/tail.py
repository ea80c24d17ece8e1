"""`livepanel serve --logdir`: import a log directory, then follow it while writers run.

A background thread of the server process polls the directory a few times a second and posts what
is new to the server over loopback, like any client (exactly-once per file and seq, see convert.py).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from livepanel.client.transport import HTTPError
from livepanel.tensorboard.convert import EventFile
from livepanel.tensorboard.importer import Layout, find_event_files
from livepanel.tensorboard.send import Sender, Unreachable

log = logging.getLogger("livepanel.tensorboard")


class Tail:
    """Follows a log directory: new events, new files and new run directories, within `interval` seconds."""

    def __init__(
        self,
        logdir: str | os.PathLike,
        url: str,
        token: str | None = None,
        *,
        env_prefix: str = "",
        committed: Callable[[str], int] | None = None,
        interval: float = 0.2,
    ):
        self.layout = Layout(logdir, env_prefix)
        self.interval = interval
        self._stop = threading.Event()
        self.sender = Sender(url, token, patience=0, stop=self._stop, committed=committed)
        self.files: dict[Path, EventFile] = {}
        self._sizes: dict[Path, int] = {}
        self.polls = 0
        self._next_scan = 0.0
        self._thread = threading.Thread(target=self._run, name="livepanel-tb-tail", daemon=True)

    def start(self) -> Tail:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the batch in flight (if any); safe to call from any thread, more than once."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self.sender.close()

    def _run(self) -> None:
        logdir = self.layout.logdir
        log.info("livepanel: importing and following TensorBoard event files in %s", logdir)
        first, started = True, time.monotonic()
        while not self._stop.is_set():
            try:
                self.poll()
            except Unreachable:
                if self._stop.is_set():
                    break
            except HTTPError as exc:
                log.error(
                    "livepanel: the server refused the TensorBoard import (%s); stopped following %s", exc, logdir
                )
                return
            except Exception:
                log.exception("livepanel: reading %s failed; trying again", logdir)
                self._stop.wait(1.0)
            if first and not self._stop.is_set():
                first = False
                records = sum(f.reader.index for f in self.files.values())
                log.info(
                    "livepanel: imported %s: %d event file(s), %d events in %.1f s; following it",
                    logdir,
                    len(self.files),
                    records,
                    time.monotonic() - started,
                )
            self.polls += 1
            self._stop.wait(self.interval)

    def poll(self) -> None:
        """One pass: find new files, read what each has added, and send it."""
        if not self.layout.logdir.is_dir():
            return
        now = time.monotonic()
        if now >= self._next_scan:  # a large tree is walked less often than files are read
            found = find_event_files(self.layout.logdir)
            self._next_scan = now + min(5.0, 10 * (time.monotonic() - now))
            for path in found:
                if path not in self.files:
                    ef = self.layout.open(path)
                    ef.committed = self.sender.committed(ef.client)
                    self.files[path] = ef
        for path, ef in self.files.items():
            try:
                size = path.stat().st_size
            except OSError:
                continue
            if size == self._sizes.get(path) and not ef.reader.recheck:
                continue
            self._sizes[path] = size
            for seq, ops in ef.batches(final=False, stop=self._stop.is_set):
                if self._stop.is_set():
                    return
                self.sender.send(ef.client, seq, ops)
                ef.committed = seq
