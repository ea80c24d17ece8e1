"""`livepanel import-tb LOGDIR`: every event file under a log directory, sent once to a server.

Reading and converting run on the calling thread while a second thread sends, so parsing and the
server's work overlap. Files are taken in path order (a run's files by their time stamp), each under
its own client id, one batch in flight.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from livepanel.tensorboard.convert import EventFile, Names
from livepanel.tensorboard.events import clean_name
from livepanel.tensorboard.send import Sender

log = logging.getLogger("livepanel.tensorboard")
MAX_FILES = 100_000
MAX_DIRS = 100_000


def is_event_file(name: str) -> bool:
    """TensorBoard's own rule: any file whose name holds 'tfevents'."""
    return "tfevents" in name


def find_event_files(logdir: Path) -> list[Path]:
    """Event files under logdir, sorted by path (bounded; symlinked directories are not followed)."""
    found: list[Path] = []
    for dirs, (top, subdirs, files) in enumerate(os.walk(logdir)):
        if dirs >= MAX_DIRS:
            log.warning("livepanel: more than %d directories under %s; the rest are not read", MAX_DIRS, logdir)
            break
        subdirs.sort()
        found.extend(Path(top) / f for f in sorted(files) if is_event_file(f))
        if len(found) >= MAX_FILES:
            log.warning("livepanel: more than %d event files under %s; the rest are not read", MAX_FILES, logdir)
            break
    return sorted(found)


class Layout:
    """Where each run directory goes: env = prefix + its path relative to the log directory."""

    def __init__(self, logdir: str | os.PathLike, env_prefix: str = ""):
        self.logdir = Path(logdir).expanduser().absolute()
        self.prefix = env_prefix
        self.names = Names()

    def env(self, run_dir: Path) -> str:
        rel = run_dir.relative_to(self.logdir).as_posix()
        return clean_name(self.prefix + (self.logdir.name or "logdir" if rel == "." else rel))

    def open(self, path: Path) -> EventFile:
        run_dir = path.parent
        parent = None
        if run_dir != self.logdir:  # add_scalars writes each series to a child run: merged into its parent
            up = run_dir.parent
            grand = self.env(up.parent) if up != self.logdir else None
            parent = (self.env(up), run_dir.name, grand, up.name)
        return EventFile(path, self.env(run_dir), self.names, parent)


@dataclass
class ImportResult:
    files: int = 0
    records: int = 0
    values: int = 0
    batches: int = 0
    duplicates: int = 0
    rejected: int = 0
    corrupt: int = 0
    incomplete: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Progress:
    """One status line on a terminal (files, events, events/s); silent when not a TTY."""

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total, self.start, self.last = total, time.monotonic(), 0.0

    def update(self, files: int, records: int, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.2 and not force):
            return
        self.last = now
        rate = records / max(now - self.start, 1e-9)
        self.stream.write(f"\r  files {files}/{self.total}  events {records:,}  {rate:,.0f} events/s ")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def import_logdir(
    logdir: str | os.PathLike,
    url: str | None = None,
    token: str | None = None,
    env_prefix: str = "",
    progress: Progress | None = None,
) -> ImportResult:
    """Import every event file under logdir into the server at url; what the server has is skipped."""
    from livepanel.client.transport import resolve_token, resolve_url

    url, token = resolve_url(url), resolve_token(token)
    layout = Layout(logdir, env_prefix)
    if not layout.logdir.is_dir():
        raise FileNotFoundError(f"{logdir} is not a directory")
    paths = find_event_files(layout.logdir)
    result = ImportResult()
    start = time.monotonic()
    progress = progress or Progress(0, enabled=False)
    progress.total = len(paths)
    reader = Sender(url, token)  # lookups from this thread, sends from the other: one connection each
    sender = Sender(url, token)
    work: queue.Queue = queue.Queue(maxsize=4)
    failure: list[BaseException] = []
    thread = threading.Thread(target=_send_all, args=(sender, work, failure), name="livepanel-tb-send", daemon=True)
    thread.start()
    try:
        for path in paths:
            if failure:
                break
            ef = layout.open(path)
            ef.committed = reader.committed(ef.client)
            for seq, ops in ef.batches(final=True):
                _put(work, (ef.client, seq, ops), failure)
                progress.update(result.files, result.records + ef.reader.index)
            result.files += 1
            result.records += ef.reader.index
            result.values += ef.converter.values
            result.corrupt += ef.reader.corrupt
            if ef.reader.pending:
                result.incomplete.append(str(path))
                log.info("livepanel: %s ends with an incomplete record (still being written?); not imported yet", path)
            progress.update(result.files, result.records)
    finally:
        _put(work, None, failure)
        thread.join()
        reader.close()
        sender.close()
        progress.update(result.files, result.records, force=True)
        progress.done()
    if failure:
        raise failure[0]
    result.batches, result.duplicates, result.rejected = sender.batches, sender.duplicates, sender.rejected
    result.seconds = time.monotonic() - start
    return result


def _put(work: queue.Queue, item: Any, failure: list) -> None:
    while not failure:
        try:
            work.put(item, timeout=0.5)
            return
        except queue.Full:
            continue


def _send_all(sender: Sender, work: queue.Queue, failure: list[BaseException]) -> None:
    while True:
        item = work.get()
        if item is None:
            return
        try:
            sender.send(*item)
        except BaseException as exc:  # handed to the reading thread, which stops and raises it
            failure.append(exc)
            return


def main(logdir: str, url: str | None = None, token: str | None = None, env_prefix: str = "") -> int:
    """The `livepanel import-tb` command: import, print a summary, return the exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        result = import_logdir(logdir, url, token, env_prefix, Progress(0))
    except Exception as exc:
        print(f"livepanel import-tb: {exc}", file=sys.stderr)
        return 1
    rate = result.records / max(result.seconds, 1e-9)
    print(
        f"livepanel import-tb: {result.files} file(s), {result.records:,} events, {result.values:,} values "
        f"in {result.seconds:.1f} s ({rate:,.0f} events/s); {result.batches} batch(es) sent"
        + (f", {result.duplicates} already there" if result.duplicates else "")
        + (f", {result.rejected} refused" if result.rejected else "")
        + (f", {result.corrupt} corrupt record(s) skipped" if result.corrupt else "")
    )
    return 1 if result.rejected else 0
