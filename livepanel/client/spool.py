"""The outbox of sealed batches (memory, then disk) and the replay of spooled batches.

A batch is sealed once, with its client id and sequence number inside its bytes, so sending it again
(after a crash, from another process, or by `livepanel replay`) is exactly-once: the server acks a
sequence it already has as a duplicate and applies it no more. A spool directory holds the batches of
one client id, one file per batch named by its sequence, a `meta.json` naming the server, and a `lock`
file: whoever replays a directory holds its lock, so two processes never send the same one.
"""

from __future__ import annotations

import collections
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from livepanel import protocol
from livepanel.client.transport import Transport, error_details, resolve_token, resolve_url

log = logging.getLogger("livepanel.client")

SUFFIX = ".batch"


def default_root(spool_dir: str | os.PathLike | None = None) -> Path:
    """The spool root: the argument, else $LIVEPANEL_SPOOL, else ~/.livepanel/spool."""
    root = spool_dir or os.environ.get("LIVEPANEL_SPOOL") or "~/.livepanel/spool"
    return Path(root).expanduser()


class Retryable(Exception):
    """The server could not take the batch now (unreachable, timeout, 5xx): send it again later."""


class Refused(Retryable):
    """The server refused this client, not the batch (401/403: the token; 404: the URL; ...): keep the batch.

    Nothing a retry with the same settings can fix, but the batch is good: it stays in the outbox and
    the spool, to be sent once the client has the right token (`livepanel replay`, or a new Panel).
    """

    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status

    def hint(self) -> str:
        """What to change before the batches are sent again."""
        if self.status in (401, 403, 407):
            return "set $LIVEPANEL_TOKEN (or Panel(token=...)) to the server's token"
        if self.status in (404, 405):
            return "check the server URL (and its path prefix, --base-url)"
        return "fix what the server says"


# A judgment on the batch itself (malformed, too large): sending it again cannot help, so it is dropped,
# loudly. 408 and 429 are the server asking to try later. Any other 4xx refuses the client, not the batch.
JUDGED = (400, 413)
LATER = (408, 425, 429)


class Rejected:
    """The server judged a batch bad (400, 413): its message, and the refused operation's index when it named one."""

    __slots__ = ("message", "op")

    def __init__(self, message: str, op: int | None = None):
        self.message, self.op = message, op

    def __str__(self) -> str:
        return self.message


def post_batch(transport: Transport, data: bytes, on_ack: Callable[[bytes], None] | None = None) -> Rejected | None:
    """POST one sealed batch. None when acked; a Rejected when the server judged it bad (400, 413).

    Raises Refused when the server refuses the client (401, 403, other 4xx), else Retryable.
    """
    try:
        status, body = transport.request("POST", "/ingest", data)
    except OSError as exc:
        raise Retryable(f"{type(exc).__name__}: {exc}") from None
    if status == 200:
        if on_ack is not None:
            on_ack(body)
        return None
    message, op = error_details(body)
    if status in JUDGED:
        return Rejected(f"HTTP {status}: {message}", op if status == 400 else None)
    if 400 <= status < 500 and status not in LATER:
        raise Refused(status, message)
    raise Retryable(f"HTTP {status}: {message}")


def without_op(data: bytes, index: int) -> tuple[bytes | None, str]:
    """The batch without its operation `index` (same client and seq; None when none is left), and what it was."""
    batch = protocol.unpackb(data)
    ops = batch.get("ops") if isinstance(batch, dict) else None
    if not isinstance(ops, list) or not 0 <= index < len(ops):
        return None, "the batch"
    op = ops.pop(index)
    what = f"{op.get('op')} of window {op.get('win')!r} in env {op.get('env')!r}" if isinstance(op, dict) else "?"
    return (protocol.packb(batch) if ops else None), what


def send_refusing(
    transport: Transport, data: bytes, on_ack: Callable[[bytes], None] | None = None
) -> tuple[bool, list[str]]:
    """POST a batch; when the server refuses one of its operations, drop that one and send the rest again.

    A mistake that only the server can see (a histogram sent to a line window) must not lose the other
    operations of its batch. Returns (was anything delivered, what was dropped and why). Raises Retryable.
    """
    dropped: list[str] = []
    for _ in range(10_000):  # at most one round per operation of the batch
        rejected = post_batch(transport, data, on_ack)
        if rejected is None:
            return True, dropped
        rest = None
        if rejected.op is not None:
            rest, what = without_op(data, rejected.op)
            dropped.append(f"{what} ({rejected}); dropped" + (", the rest of the batch sent again" if rest else ""))
        else:
            dropped.append(f"the batch ({rejected}); dropped")
        if rest is None:
            return False, dropped
        data = rest
    return False, dropped


class SpoolDir:
    """One client id's spool directory, locked by this process while it owns it."""

    def __init__(self, path: Path):
        self.path = path
        self._lock_fd: int | None = None

    def try_lock(self) -> bool:
        """Take the directory's lock without waiting; False when another owner holds it."""
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def forget_lock(self) -> None:
        """After fork: close our copy of the descriptor without releasing the parent's lock."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def write_meta(self, url: str | list[str], client: str) -> None:
        urls = [url] if isinstance(url, str) else list(url)  # several: nodes sharing one store, in order
        meta = {"url": urls[0], "client": client, "pid": os.getpid(), "created": time.time()}
        if len(urls) > 1:
            meta["urls"] = urls
        (self.path / "meta.json").write_text(json.dumps(meta))

    def meta(self) -> dict:
        try:
            return json.loads((self.path / "meta.json").read_text())
        except (OSError, ValueError):
            return {}

    def seqs(self) -> list[int]:
        out = []
        for p in self.path.glob("*" + SUFFIX):
            try:
                out.append(int(p.name[: -len(SUFFIX)]))
            except ValueError:
                continue
        return sorted(out)

    def file(self, seq: int) -> Path:
        return self.path / f"{seq:020d}{SUFFIX}"

    def write(self, seq: int, data: bytes) -> None:
        """Write a batch durably (temp file, fsync, rename)."""
        tmp = self.path / f".{seq}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.file(seq))

    def read(self, seq: int) -> bytes:
        return self.file(seq).read_bytes()

    def delete(self, seq: int) -> None:
        self.file(seq).unlink(missing_ok=True)

    def release(self) -> None:
        """Unlock; remove the directory when no batch is left in it."""
        if self._lock_fd is None:
            return
        try:
            if not self.seqs():
                for name in ("meta.json", "lock"):
                    (self.path / name).unlink(missing_ok=True)
                self.path.rmdir()
        except OSError:
            pass
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None


class Outbox:
    """Sealed batches waiting for their ack, in sequence order: in memory up to a bound, then on disk."""

    def __init__(self, spool: SpoolDir, url: str | list[str], client: str, max_memory: int):
        self.spool, self.url, self.client = spool, url, client
        self.max_memory = max_memory
        self.mem: collections.deque[tuple[int, bytes]] = collections.deque()
        self.mem_bytes = 0
        self.disk: collections.deque[int] = collections.deque()
        self.lock = threading.Lock()
        self._spool_ready = False
        self._disk_failed = False

    def __len__(self) -> int:
        return len(self.mem) + len(self.disk)

    def _ensure_spool(self) -> bool:
        if not self._spool_ready:
            if not self.spool.try_lock():
                raise OSError(f"spool directory {self.spool.path} is locked by another process")
            self.spool.write_meta(self.url, self.client)
            self._spool_ready = True
        return True

    def _to_disk(self, seq: int, data: bytes) -> bool:
        try:
            self._ensure_spool()
            self.spool.write(seq, data)
        except OSError as exc:
            if not self._disk_failed:
                log.error(
                    "livepanel: cannot write the spool in %s (%s); keeping batches in memory", self.spool.path, exc
                )
                self._disk_failed = True
            return False
        return True

    def put(self, seq: int, data: bytes) -> None:
        with self.lock:
            if (self.mem_bytes + len(data) > self.max_memory or self.disk) and self._to_disk(seq, data):
                self.disk.append(seq)
                return
            self.mem.append((seq, data))
            self.mem_bytes += len(data)

    def head_seq(self) -> int | None:
        """The lowest sequence waiting, or None."""
        with self.lock:
            seqs = ([self.mem[0][0]] if self.mem else []) + ([self.disk[0]] if self.disk else [])
            return min(seqs) if seqs else None

    def head(self) -> tuple[int, bytes] | None:
        """The batch with the lowest sequence, or None."""
        with self.lock:
            while self.disk and (not self.mem or self.disk[0] < self.mem[0][0]):
                seq = self.disk[0]
                try:
                    return seq, self.spool.read(seq)
                except OSError as exc:
                    log.error("livepanel: spooled batch %d is unreadable (%s); skipped", seq, exc)
                    self.disk.popleft()
            return self.mem[0] if self.mem else None

    def remove(self, seq: int) -> None:
        """Forget an acknowledged (or rejected) batch, wherever it is."""
        with self.lock:
            if self.mem and self.mem[0][0] == seq:
                self.mem_bytes -= len(self.mem.popleft()[1])
            elif seq in self.disk:
                self.disk.remove(seq)
                self.spool.delete(seq)

    def spill(self) -> int:
        """Move every batch held in memory to disk (at exit); returns how many were written."""
        with self.lock:
            written = []
            for seq, data in self.mem:
                if not self._to_disk(seq, data):
                    break
                written.append(seq)
            for _ in written:
                self.mem_bytes -= len(self.mem.popleft()[1])
            self.disk = collections.deque(sorted([*self.disk, *written]))
            return len(written)

    def close(self) -> None:
        with self.lock:
            if self._spool_ready:
                self.spool.release()
                self._spool_ready = False


# ---------------------------------------------------------------- replay of spooled directories


def replay_dir(spool: SpoolDir, transport: Transport) -> int:
    """Send a locked directory's batches in order; returns how many were acked. Raises Retryable."""
    delivered = 0
    for seq in spool.seqs():
        try:
            data = spool.read(seq)
        except OSError:
            continue
        sent, dropped = send_refusing(transport, data)
        for problem in dropped:
            log.error("livepanel: spooled batch %d of %s: the server rejected %s", seq, spool.path, problem)
        delivered += sent
        spool.delete(seq)
    return delivered


def leftover_dirs(root: Path, url: str | list[str] | None, exclude: str = "") -> list[Path]:
    """Spool directories other than `exclude`, for `url` or any of a list of URLs (nodes sharing one store;
    a spool records the first), or for any server when None; oldest first."""
    if not root.is_dir():
        return []
    urls = [url] if isinstance(url, str) else url
    out = []
    for path in root.iterdir():
        if not path.is_dir() or path.name == exclude or not any(path.glob("*" + SUFFIX)):
            continue
        if urls is not None and SpoolDir(path).meta().get("url", urls[0]) not in urls:
            continue
        out.append(path)
    return sorted(out, key=lambda p: p.stat().st_mtime)


def replay_all(spool_root: str | None, url: str | None, token: str | None) -> int:
    """Deliver every unlocked spool directory under the root; returns the number of batches delivered.

    Each directory goes to `url` when given, else to the server recorded in it (or, when it recorded
    several nodes sharing one store, to the first of them that answers). Raises RuntimeError
    naming the directories that could not be delivered (their batches stay in the spool).
    """
    root = default_root(spool_root)
    token = resolve_token(token)
    url = resolve_url(url) if url else None  # a bad URL is said at once, spooled batches or not
    delivered, failures = 0, []
    for path in leftover_dirs(root, None):
        spool = SpoolDir(path)
        if not spool.try_lock():
            log.info("livepanel: %s is in use by a running process; skipped", path)
            continue
        meta = spool.meta()
        targets = [url] if url else [resolve_url(u) for u in meta.get("urls") or [meta.get("url")]]
        try:
            for i, target in enumerate(targets):
                transport = Transport(target, token, timeout=30.0)
                try:
                    n = replay_dir(spool, transport)
                    delivered += n
                    log.info("livepanel: delivered %d batches from %s to %s", n, path, target)
                    break
                except Refused as exc:
                    failures.append(f"{path} -> {target}: refused ({exc}); {exc.hint()}")
                    break
                except Retryable as exc:
                    if i == len(targets) - 1:
                        failures.append(f"{path} -> {', '.join(targets)}: {exc}")
                finally:
                    transport.close()
        finally:
            spool.release()
    if failures:
        raise RuntimeError(
            f"could not deliver {len(failures)} spool directories (their batches stay spooled; run again later): "
            + "; ".join(failures)
        )
    return delivered
