"""Sending import batches to a server over HTTP, and finding out what it already has.

Each event file sends under its own client id (see convert.py), one batch at a time, retried with the
same seq until acknowledged, so the server's exactly-once rule covers retries and re-imports alike.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from livepanel import protocol
from livepanel.client.transport import HTTPError, Transport, error_details, error_message

log = logging.getLogger("livepanel.tensorboard")

# A probe names a window that never exists: the server refuses an `opts` for it (400) unless the seq
# is a duplicate, which it acknowledges without looking at the ops. So a probe changes nothing.
_PROBE_OP = {"op": "opts", "env": "livepanel", "win": "tensorboard import probe (never created)", "opts": {}}


class Unreachable(RuntimeError):
    """The server did not answer within the patience given."""


class Sender:
    """Posts batches for many client ids (one at a time each) and looks up their committed seqs."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        timeout: float = 60.0,
        patience: float = 30.0,
        stop: threading.Event | None = None,
        committed: Callable[[str], int] | None = None,
    ):
        self.transport = Transport(url, token, timeout)
        self.url = url
        self.patience = patience  # seconds of failed attempts before giving up (None: until stopped)
        self.stop = stop or threading.Event()
        self._committed = committed
        self._endpoint: bool | None = None  # whether the server answers GET /clients
        self.batches = self.duplicates = self.rejected = 0

    def committed(self, client: str) -> int:
        """The highest seq the server has committed for this client id (0 for none)."""
        if self._committed is not None:
            return self._committed(client)
        if self._endpoint is not False:
            status, data = self._request("GET", "/clients", None, {"client": client})
            if status == 200:
                self._endpoint = True
                return int(protocol.unpackb(data)["seq"])
            self._endpoint = False
        if not self._probe(client, 1):
            return 0
        lo, hi = 1, 2
        while hi < 2**62 and self._probe(client, hi):  # gallop, then bisect: about 2 log2(H) probes
            lo, hi = hi, hi * 2
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if self._probe(client, mid) else (lo, mid)
        return lo

    def _probe(self, client: str, seq: int) -> bool:
        body = protocol.packb({"client": client, "seq": seq, "ops": [_PROBE_OP]})
        status, data = self._request("POST", "/ingest", body)
        if status == 200:
            if not protocol.unpackb(data).get("duplicate"):
                log.error(
                    "livepanel: the probe window %r exists; seq %d of %s was taken", _PROBE_OP["win"], seq, client
                )
            return True
        if status == 400:
            return False
        raise HTTPError(status, error_message(data))

    def send(self, client: str, seq: int, ops: list[dict[str, Any]]) -> bool:
        """Deliver one batch; False when the server refused it (logged; its records are skipped).

        An operation the server refuses (a window of another kind by that name) is dropped and the
        rest sent again under the same seq: a refused batch applied nothing.
        """
        ops = list(ops)
        while ops:
            status, data = self._request("POST", "/ingest", protocol.packb({"client": client, "seq": seq, "ops": ops}))
            if status == 200:
                self.batches += 1
                self.duplicates += bool(protocol.unpackb(data).get("duplicate"))
                return True
            message, index = error_details(data)
            if status == 400 and index is not None and index < len(ops):
                bad = ops.pop(index)
                log.warning(
                    "livepanel: skipped %s for window %r of env %r: %s", bad["op"], bad.get("win"), bad["env"], message
                )
                continue
            if status in (401, 403):
                raise HTTPError(status, message)
            log.error(
                "livepanel: the server refused a batch of %d operation(s) (HTTP %d): %s", len(ops), status, message
            )
            break
        self.rejected += 1
        return False

    def _request(self, method: str, path: str, body: bytes | None, query: dict | None = None) -> tuple[int, bytes]:
        """One request, retried with backoff on connection errors and 5xx until answered or out of patience."""
        delay, deadline, warned = 0.05, time.monotonic() + (self.patience or 0), False
        while True:
            try:
                status, data = self.transport.request(method, path, body, query)
                if status < 500:
                    if warned:
                        log.info("livepanel: %s answers again", self.url)
                    return status, data
                problem = f"HTTP {status}: {error_message(data)}"
            except OSError as exc:  # includes timeouts and broken answers
                problem = str(exc) or type(exc).__name__
            if self.patience and time.monotonic() > deadline:
                raise Unreachable(f"cannot reach {self.url}: {problem}")
            if not warned:
                log.warning("livepanel: cannot reach %s (%s); retrying", self.url, problem)
                warned = True
            if self.stop.wait(delay):
                raise Unreachable(f"stopped while waiting for {self.url}")
            delay = min(delay * 2, 2.0)

    def close(self) -> None:
        self.transport.close()
