"""The sender: one background thread that batches, encodes, sends, retries and spools.

Calls put items on a deque (an atomic append; no lock). The sender drains it whenever it is free,
so a batch holds whatever arrived while the previous one was in flight: no timer, no fixed delay.
Consecutive scalar appends to one trace coalesce into one operation with arrays. A sealed batch carries
the client id and a sequence number; it stays in the outbox (memory, then the spool on disk) until
the server acknowledges it, so retries and replays are exactly-once.
"""

from __future__ import annotations

import collections
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from livepanel import protocol
from livepanel.client.spool import Outbox, Refused, Retryable, SpoolDir, leftover_dirs, replay_dir, send_refusing
from livepanel.client.transport import HTTPError, Transport

log = logging.getLogger("livepanel.client")

PACED_BYTES = 256 << 10  # a batch this large goes at once: pacing is for the many small ones
JUDGE_WAIT = 5.0  # seconds the server may take to judge a client's last batches before a flush returns
PACE_BURST = 4  # requests that may start back to back before pacing holds batches back
# an ack's "duplicate": True as msgpack packs it (fixstr key, then the true byte): a byte search finds it
# without decoding the ack; a hit is then decoded to be sure (a user string in an alert could hold it)
DUPLICATE_TRUE = protocol.packb({"duplicate": True})[1:]


class Pending:
    """A queued non-scalar operation; `finish` completes it on the sender thread (encode, bin, copy)."""

    __slots__ = ("op", "finish", "key")

    def __init__(self, op: dict, finish: Callable[[dict], Any] | None = None, key: tuple | None = None):
        self.op, self.finish, self.key = op, finish, key


class Marker:
    """A flush request: set once every batch holding items queued before it is resolved.

    `ok` is False when it was set because the server refuses this client: the batches are kept, not sent.
    """

    __slots__ = ("event", "boundary", "ok")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.boundary = 0
        self.ok = True


class Builder:
    """The batch being formed: an ordered op list where scalar appends to one trace coalesce."""

    def __init__(self, counters: dict):
        self.ops: list[Any] = []  # op dicts, or [env, win, name, xs, ys, ts] groups
        self.groups: dict[tuple, list] = {}
        self.size = 0  # estimated bytes
        self.counters = counters  # trace key -> next automatic x

    def __bool__(self) -> bool:
        return bool(self.ops)

    def pending(self, p: Pending) -> None:
        op = p.op
        if p.finish is not None:
            try:
                if p.finish(op) is False:
                    return
            except Exception as exc:  # a conversion that failed on the sender: say so, never silently
                log.error("livepanel: could not prepare %s for window %r: %s; dropped", op["op"], op.get("win"), exc)
                return
        kind = op["op"]
        if p.key is not None and kind in ("line", "scatter") and op.get("update", "append") == "append":
            self.groups.pop(p.key, None)  # later scalars of this trace must come after this op
        else:
            self.groups.clear()
        self._auto_x(p.key, op)
        self.ops.append(op)
        # arrays and files (media, audio, video): a batch is sealed by its size, and must fit --max-payload
        self.size += 256 + sum(len(v) if isinstance(v, bytes) else getattr(v, "nbytes", 0) for v in op.values())
        for img in op.get("images", ()):
            self.size += len(img["data"])

    def _auto_x(self, key: tuple | None, op: dict) -> None:
        kind = op["op"]
        if key is not None:
            update = op.get("update", "append")
            if update == "remove":
                self.counters.pop(key, None)
                return
            n = len(op["y"])
            if op.get("x") is None:
                start = self.counters.get(key, 0) if update == "append" else 0
                op["x"] = np.arange(start, start + n, dtype=np.float64)
            if n:
                self.counters[key] = float(op["x"][-1]) + 1
        elif kind in ("close", "delete_env"):
            for k in [k for k in self.counters if k[0] == op["env"] and (kind == "delete_env" or k[1] == op["win"])]:
                del self.counters[k]

    def encode(self, client: str, seq: int) -> bytes:
        ops = []
        for op in self.ops:
            if type(op) is list:
                env, win, name, xs, ys, ts = op
                ops.append(
                    {
                        "op": "line",
                        "env": env,
                        "win": win,
                        "name": name,
                        "x": np.array(xs, dtype=np.float64),
                        "y": np.array(ys, dtype=np.float64),
                        "t": np.array(ts, dtype=np.float64),
                    }
                )
            else:
                ops.append(op)
        return protocol.packb({"client": client, "seq": seq, "ops": ops})


class Sender:
    """Owns the queue's consumer side, the outbox and the thread; one per Panel (and per process)."""

    def __init__(
        self,
        queue: collections.deque,
        url: str | list[str],
        token: str | None,
        spool_root: Path,
        *,
        timeout: float = 10.0,
        max_buffer: int = 64 << 20,
        seal_bytes: int = 4 << 20,
        max_backoff: float = 5.0,
        replay_leftovers: bool = True,
        send_interval: float = 0.01,
    ):
        self.queue = queue
        # the nodes to fail over between (one URL: a single server or a balancer), and the one in use
        self.urls = [url] if isinstance(url, str) else list(url)
        self.index = 0
        self.misses = 0  # failed sends in a row: a full cycle of them over the URLs backs off
        self.token, self.timeout = token, timeout
        self._conn: Transport | None = None
        self._conn_url = ""
        self.acked_url = ""  # the node that took the last batch
        self.client = secrets.token_hex(8)
        self.spool_root = spool_root
        self.outbox = Outbox(SpoolDir(spool_root / self.client), self.urls, self.client, max_buffer)
        self.seal_bytes = seal_bytes
        self.max_backoff = max_backoff
        self.send_interval = send_interval
        self.tokens, self.token_time = float(PACE_BURST), time.monotonic()  # requests allowed now
        self.counters: dict[tuple, float] = {}
        self.builder = Builder(self.counters)
        self.build_lock = threading.Lock()
        self.event = threading.Event()
        self.idle = True  # read by callers: wake the thread only when it sleeps
        self.seq = 0
        self.markers: list[Marker] = []
        self.stopping = False
        self.stop_event = threading.Event()
        self.retry_now = False
        self.reachable = True
        self.next_retry = 0.0
        self.backoff = 0.0
        self.refused: Refused | None = None  # the server refuses this client (its token): batches are kept
        self.last_ack = 0.0  # monotonic time of the last batch the server took (or judged)
        # "batches": acknowledged and stored by this send; "duplicates": acknowledged as already stored (a
        # retry whose first ack was lost), so each delivered batch counts once, in one or the other;
        # "rejected": operations (or whole batches) the server judged bad and that were dropped;
        # "refused": requests the server refused (a wrong or missing token), whose batches are kept
        self.stats = {"batches": 0, "duplicates": 0, "rejected": 0, "refused": 0, "retries": 0, "replayed": 0}
        self.alert_callbacks: list = []  # Panel.on_alert: called here, on the sender thread
        self.ack_duplicate = False  # the last acknowledgement said the batch was already stored
        self.unjudged = False  # batches acknowledged that the server's diagnosis may not have judged yet
        self.judge_due = False  # a flush waits until they are judged
        self.thread: threading.Thread | None = None
        self.replayer: threading.Thread | None = None
        self.replay_leftovers = replay_leftovers
        self._start_lock = threading.Lock()

    @property
    def url(self) -> str:
        """The node in use: batches (and reads) go here until it fails."""
        return self.urls[self.index]

    # ------------------------------------------------------------ called from user threads

    def start(self) -> None:
        """Start the thread (lazily, on first use, so forked children that never log start nothing)."""
        with self._start_lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="livepanel-sender", daemon=True)
                self.thread.start()
                if self.replay_leftovers and leftover_dirs(self.spool_root, self.urls, self.client):
                    self.replayer = threading.Thread(target=self._replay, name="livepanel-replay", daemon=True)
                    self.replayer.start()
        self.event.set()

    def wake(self) -> None:
        if self.thread is None:
            self.start()
        else:
            self.event.set()

    def overflow(self) -> None:
        """The queue is over its bound (the thread is stuck in a request): drain it from the caller."""
        with self.build_lock:
            self._collect()

    def _marker(self) -> Marker:
        marker = Marker()
        self.queue.append(marker)
        self.retry_now = True
        self.wake()
        return marker

    def flush(self, timeout: float | None) -> bool:
        """True once everything queued so far is delivered (or judged bad and dropped); False on timeout,
        or at once when the server refuses this client (the batches stay in the outbox)."""
        marker = self._marker()
        return marker.event.wait(timeout) and marker.ok

    def _await(self, marker: Marker, deadline: float, patience: float | None) -> bool:
        """Wait for a flush marker until `deadline`, or until `patience` seconds pass without an ack."""
        start = time.monotonic()
        while True:
            now = time.monotonic()
            limit = deadline if patience is None else min(deadline, max(start, self.last_ack) + patience)
            if now >= limit:
                return False
            if marker.event.wait(min(limit - now, 0.05)):
                return marker.ok

    def close(self, timeout: float, patience: float | None = None) -> bool:
        """Bounded flush, stop the thread, and spool whatever is left; True when all was delivered.

        The flush waits up to `timeout` while the server acknowledges batches, but gives up after
        `patience` seconds without an acknowledgement (a server that is down, or does not answer).
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        ok = self._await(self._marker(), deadline, patience) if self.thread is not None or self.queue else True
        if not ok:  # given up: do not wait long for a thread stuck in a request (what it sends is spooled too)
            deadline = min(deadline, time.monotonic() + 0.25)
        self.stopping = True
        self.stop_event.set()
        self.event.set()
        for th in (self.thread, self.replayer):
            if th is not None and th is not threading.current_thread():
                th.join(max(0.0, min(deadline - time.monotonic(), 1.0)))
        with self.build_lock:
            self._collect()
            if self.builder:
                self._seal()
        left = len(self.outbox)
        refused = self.refused
        if left:
            self.outbox.spill()
        if left and refused is not None:
            log.error(
                "livepanel: %s refused this client (%s): %d batch(es) not delivered, kept in %s. To deliver "
                "them, %s and run `livepanel replay --spool %s` (a new Panel with this spool sends them too)",
                self.url,
                refused,
                left,
                self.outbox.spool.path,
                refused.hint(),
                self.spool_root,
            )
        elif left:
            log.warning(
                "livepanel: %d batch(es) not delivered to %s; kept in %s (sent by the next Panel with this "
                "spool, or by `livepanel replay`)",
                left,
                self.url,
                self.outbox.spool.path,
            )
        self.outbox.close()
        return not left  # every batch acknowledged (its judging may still be under way if the flush gave up)

    def after_fork(self) -> None:
        """In a forked child: let go of the parent's spool lock without releasing it."""
        self.outbox.spool.forget_lock()

    # ------------------------------------------------------------ the thread

    def _collect(self) -> None:
        """Drain the queue into the builder (caller holds build_lock); seal when large or on a flush."""
        q, b = self.queue, self.builder
        popleft, groups, counters = q.popleft, b.groups, self.counters
        for _ in range(len(q)):
            item = popleft()
            if type(item) is tuple:  # inlined Builder.scalar: this loop runs once per logged point
                key = item[:3]
                g = groups.get(key)
                if g is None:
                    g = groups[key] = [item[0], item[1], item[2], [], [], []]
                    b.ops.append(g)
                x = item[3]
                if x is None:
                    x = counters.get(key, 0)
                counters[key] = x + 1
                g[3].append(x)
                g[4].append(item[4])
                g[5].append(item[5])
                b.size += 24
                if b.size < self.seal_bytes:
                    continue
            elif type(item) is Pending:
                b.pending(item)
            else:
                if b:
                    self._seal()
                    b, groups = self.builder, self.builder.groups
                item.boundary = self.seq
                self.markers.append(item)
                self._resolve()
                continue
            if b.size >= self.seal_bytes:
                self._seal()
                b, groups = self.builder, self.builder.groups

    def _seal(self) -> None:
        self.seq += 1
        data = self.builder.encode(self.client, self.seq)
        self.builder = Builder(self.counters)
        self.outbox.put(self.seq, data)

    def _resolve(self) -> None:
        """Release flush markers whose batches are all acknowledged (or rejected)."""
        if not self.markers:
            return
        head = self.outbox.head_seq()
        done = self.seq if head is None else head - 1
        if self.unjudged and any(m.boundary <= done for m in self.markers):
            self.judge_due = True  # released once the thread has fetched their alerts (_judge)
            return
        keep = []
        for m in self.markers:
            if m.boundary <= done:
                m.event.set()
            else:
                keep.append(m)
        self.markers = keep

    def _wait(self, timeout: float) -> None:
        self.idle = True
        if not self.queue:
            self.event.wait(timeout)
        self.idle = False
        self.event.clear()

    def _refill(self) -> None:
        now = time.monotonic()
        if self.send_interval > 0:
            self.tokens = min(PACE_BURST, self.tokens + (now - self.token_time) / self.send_interval)
        self.token_time = now

    def _pace(self) -> float:
        """Seconds to hold a small batch back, so that requests average at most one per `send_interval`.

        A token bucket: calls at up to that rate go out at once (the burst absorbs jitter); a training
        loop that logs at every step gets one request per interval holding all its points, instead of
        one request per step, each costing the server and this thread far more CPU than the call
        (docs/client.md, "Batching and cost"). Large batches and flushes are never held.
        """
        if self.send_interval <= 0 or self.builder.size >= PACED_BYTES:
            return 0.0
        self._refill()
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) * self.send_interval

    def _link(self) -> Transport:
        """The connection to the node in use (a new one after a fail-over; the old one closed)."""
        if self._conn is None or self._conn_url != self.url:
            if self._conn is not None:
                self._conn.close()
            self._conn, self._conn_url = Transport(self.url, self.token, self.timeout), self.url
        return self._conn

    def _run(self) -> None:
        try:
            while not self.stopping:
                hold = 0.0
                with self.build_lock:
                    self._collect()
                    if self.builder and not len(self.outbox):
                        hold = self._pace()
                        if not hold:
                            self._seal()
                if hold:  # not idle: calls meanwhile only queue (a flush seals at once, in _collect)
                    self.event.wait(hold)
                    self.event.clear()
                    continue
                if self.judge_due:
                    self._judge(self._link())
                    continue
                if not len(self.outbox):
                    self._wait(1.0)
                    continue
                delay = self.next_retry - time.monotonic()
                if delay > 0 and not self.retry_now:
                    # backing off: not idle (calls do not wake us), but drain the queue every 5 ms
                    self.event.wait(min(delay, 0.005))
                    self.event.clear()
                    continue
                self.retry_now = False
                self._send_head(self._link())
        finally:
            if self._conn is not None:
                self._conn.close()

    def _send_head(self, transport: Transport) -> None:
        head = self.outbox.head()
        if head is None:
            return
        seq, data = head
        self._refill()
        self.tokens = max(0.0, self.tokens - 1)
        self.ack_duplicate = False
        try:
            sent, dropped = send_refusing(transport, data, self._acked)
        except Refused as exc:
            self._refused(exc)
            return
        except Retryable as exc:
            self._missed(exc)
            return
        self.misses = 0
        if self.url != self.acked_url:
            if self.acked_url:
                log.warning("livepanel: now sending to %s (was %s)", self.url, self.acked_url)
            self.acked_url = self.url
        if not self.reachable:
            self.reachable = True
            log.warning(
                "livepanel: server %s reachable again; sending %d buffered batch(es)", self.url, len(self.outbox)
            )
        if self.refused is not None:
            self.refused = None
            log.warning(
                "livepanel: server %s accepts this client again; sending %d held batch(es)", self.url, len(self.outbox)
            )
        self.backoff = 0.0
        self.next_retry = 0.0
        self.last_ack = time.monotonic()
        for problem in dropped:
            self.stats["rejected"] += 1
            log.error("livepanel: batch %d: the server rejected %s", seq, problem)
        if sent:
            self.stats["duplicates" if self.ack_duplicate else "batches"] += 1
            self.unjudged = True  # a duplicate too: the first copy's judging may still be under way
        self.outbox.remove(seq)
        with self.build_lock:
            self._resolve()

    def _missed(self, exc: Retryable) -> None:
        """The node did not take the batch (down, reset, timeout, 5xx): the same batch (same client id and
        seq, so a node sharing the store applies it once) goes to the next URL at once; after a full cycle
        of failures, the backoff (doubling, with jitter so that clients do not retry in step)."""
        self.stats["retries"] += 1
        self.misses += 1
        failed = self.url
        if len(self.urls) > 1:
            self.index = (self.index + 1) % len(self.urls)
            if self.misses == 1:
                log.warning("livepanel: server %s failed (%s); trying %s", failed, exc, self.url)
        if self.misses % len(self.urls):
            self.next_retry = 0.0
            return
        self.backoff = min(self.max_backoff, max(0.05, self.backoff * 2))
        self.next_retry = time.monotonic() + self.backoff * (random.uniform(0.75, 1.0) if len(self.urls) > 1 else 1.0)
        if self.reachable:
            self.reachable = False
            where = f"server {failed}" if len(self.urls) == 1 else "servers " + ", ".join(self.urls) + " all"
            log.warning("livepanel: %s unreachable (%s); buffering and retrying", where, exc)

    def _refused(self, exc: Refused) -> None:
        """The server refuses this client (its token): keep every batch, on disk, and fail waiting flushes.

        Sending again with the same token cannot succeed unless the server changes, so the sender backs
        off as when the server is down (one request per `max_backoff` at most, or one per flush), never
        drops a batch, and keeps collecting calls: the outbox and the spool bound memory as usual.
        """
        self.stats["refused"] += 1
        self.reachable = True  # it answered
        self.backoff = min(self.max_backoff, max(0.05, self.backoff * 2))
        self.next_retry = time.monotonic() + self.backoff
        if self.refused is None:
            log.error(
                "livepanel: server %s refused this client (%s); keeping its batches in the spool %s and trying "
                "again now and then; %s",
                self.url,
                exc,
                self.outbox.spool.path,
                exc.hint(),
            )
            self.outbox.spill()  # a state that lasts: on disk, so the batches outlive this process
        self.refused = exc
        with self.build_lock:
            for m in self.markers:
                m.ok = False
                m.event.set()
            self.markers = []

    def _judge(self, transport: Transport) -> None:
        """Before a flush returns: wait until the server's diagnosis has judged this client's batches, and
        take the alerts their acknowledgements did not carry, so that alerts() then lists what they raised
        and on_alert gets each alert once."""
        self.last_ack = time.monotonic()  # close()'s patience counts from here: the server is answering
        try:
            answer = transport.call("GET", "/alerts", client=self.client, wait=JUDGE_WAIT)
        except (OSError, HTTPError) as exc:  # not lost: the server hands them to the next acknowledgement
            log.warning("livepanel: could not fetch the alerts of the last batches from %s: %s", self.url, exc)
            answer = {}
        self.unjudged = self.judge_due = False
        self._dispatch(answer.get("alerts", []))
        with self.build_lock:
            self._resolve()

    def _acked(self, body: bytes) -> None:
        """Note whether an acknowledgement says duplicate, and hand the alerts it carries to on_alert.

        Most acks say neither: two byte searches over a few dozen bytes spare decoding them.
        """
        duplicate = DUPLICATE_TRUE in body
        alerts = bool(self.alert_callbacks) and b"alerts" in body
        if not (duplicate or alerts):
            return
        try:
            ack = protocol.unpackb(body)
        except protocol.ProtocolError as exc:  # a 200 that is not our ack (a proxy's page): stored, nothing more
            log.warning("livepanel: could not read the acknowledgement from %s: %s", self.url, exc)
            return
        if not isinstance(ack, dict):
            return
        self.ack_duplicate = ack.get("duplicate") is True
        if alerts:
            self._dispatch(ack.get("alerts", []))

    def _dispatch(self, alerts: list[dict]) -> None:
        for alert in alerts:
            for callback in list(self.alert_callbacks):
                try:
                    callback(alert)
                except Exception:  # a user callback must never stop the sender
                    log.exception("livepanel: on_alert callback failed")

    def _replay(self) -> None:
        """Deliver spool directories left by earlier processes, retrying until delivered or closed."""
        backoff = 0.05
        index = self.index  # the node the sender uses, then the others in turn (a full cycle, then backoff)
        for attempt in range(1_000_000):
            pending = leftover_dirs(self.spool_root, self.urls, self.client)
            if self.stopping or not pending:
                return
            transport = Transport(self.urls[(index + attempt) % len(self.urls)], self.token, self.timeout)
            try:
                for path in pending:
                    spool = SpoolDir(path)
                    if not spool.try_lock():
                        continue  # a live process owns it
                    try:
                        n = replay_dir(spool, transport)
                    finally:
                        spool.release()
                    self.stats["replayed"] += n
                    log.info("livepanel: replayed %d spooled batch(es) from %s", n, path)
                return
            except Retryable:
                if (attempt + 1) % len(self.urls) == 0:
                    backoff = min(self.max_backoff, backoff * 2)
                    self.stop_event.wait(backoff)
            finally:
                transport.close()
