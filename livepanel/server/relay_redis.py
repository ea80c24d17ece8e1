"""The Redis transport between livepanel nodes that share one PostgreSQL store (`--hub redis://...`).

Like Centrifugo's Redis engine: one channel per env, a bounded history per env for resume, and each node
subscribes only to the envs its viewers watch. PostgreSQL decides the order of an env's change-sets (its
log number `lseq`: 1, 2, 3, ...) and stays the truth; Redis is a fast path, so whatever it loses must be
detectable by the receiver, never silently wrong:

- `publish(env, lseq, entry, notable)` never blocks and never raises for Redis trouble: it queues the
  entry (bounded) for one background sender, which takes the queued entries in order and sends them
  with one Lua script call that, atomically, appends each entry to its env's capped stream (id
  `lseq-0`, MAXLEN ~ history; an id not above the stream's top is skipped), PUBLISHes one message per
  env (its entries, msgpack) and one on the heads channel (every `(env, lseq, notable)`). While Redis
  is away, entries are dropped (stats["dropped"]); once it is back, the node broadcasts a resync
  notice and every other node's `on_resync` runs.
- `on_entry(env, lseq, entry)` gets the entries of watched envs (this node's own too) in publish order
  per node, each before its head. Entries of an env published by different nodes may interleave out
  of `lseq` order, one may come twice while a watch change is applied, and entries may be missing:
  the receiver ignores an `lseq` it has, checks that `lseq` follows the last one it has, and fills a
  gap with `history()` or from PostgreSQL. `entry` is None for an entry larger than `big` bytes (1 MB):
  Redis disconnects pub/sub subscribers whose output buffer grows past a few tens of MB, so only a
  notice travels, and the entry is not kept in the stream either (its memory stays bounded by history
  x big per env): read it from PostgreSQL.
- `on_head(env, lseq, notable)` gets every publish of every env (one heads channel all nodes watch).
- `publish_event(env, frame)` sends an ephemeral frame (a page's click or key, at most EVENT_BYTES) to the
  other nodes that watch the env: queued with the entries (same bounds, same sender, never blocks or raises
  for Redis trouble), PUBLISHed on the env's channel marked as an event, never kept in the stream and never
  on the heads channel. `on_event(env, frame)` (optional in `start`) gets the frames other nodes sent for
  the envs this node watches, at most once each: a frame lost while Redis is away is not sent again
  (stats["events_dropped"]), and this node never gets its own back.
- `on_resync()` runs when messages may have been missed: the subscription connection was lost and is
  back (subscriptions live again), or another node dropped entries. The receiver re-reads from
  PostgreSQL what it shows.
- `watch(envs, everything=False)` sets the envs subscribed to (a diff is applied in the background);
  `await settled()` returns once that set is live on the server. `everything=True` subscribes to all
  envs of this namespace with one pattern.
- `history(env, after, upto)` gives the entries after..upto, or None when any is missing (trimmed: the
  stream keeps about the last `history` entries; published out of order, too big or dropped).
- `stats`: published (sent to Redis), dropped (never sent), skipped (published but not kept in the
  stream: not above its top), received (given to on_entry), resyncs (on_resync calls); for event frames
  events (sent), events_dropped (never sent), events_received (given to on_event).

Names: every key and channel is `lp:<namespace>:...` with the namespace and env percent-encoded, so
names hold no glob characters and no `:` and a pattern subscription never reaches another env or
namespace. Everything runs on one asyncio loop (the server's): call publish and watch from its thread.
Callbacks are plain functions called on that loop; an exception in one is logged. `start()` raises
ConnectionError when Redis cannot be reached; after that, Redis trouble is only logged and counted.

Driver: redis-py's asyncio client (`pip install "livepanel[cluster]"`), imported only here.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections import deque
from collections.abc import Callable
from urllib.parse import quote, unquote, urlsplit

import msgpack

try:
    import redis.asyncio as aredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError('the Redis hub needs the redis driver: pip install "livepanel[cluster]"') from exc

from livepanel.server.store.backend import redact

log = logging.getLogger("livepanel.relay")

BIG = 1 << 20  # entries above this travel as a notice (see the module docstring)
EVENT_BYTES = 64 << 10  # an event frame (a page's event is at most 4 KiB); larger ones are refused
QUEUE_ITEMS, QUEUE_BYTES = 10_000, 64 << 20  # the publish queue's bounds; past them entries are dropped
BATCH_ITEMS, BATCH_BYTES = 512, 2 << 20  # entries sent in one round trip (its messages stay a few MB)
RETRY_EVERY = 0.5  # seconds between reconnection attempts
ERRORS = (RedisError, OSError, asyncio.TimeoutError)

# One batch of entries, atomically. KEYS: each entry's stream. ARGV: maxlen; then per entry its stream id,
# kind ('e': entry kept, 'n': too big, not kept) and data; then (channel, message) pairs to PUBLISH.
# An XADD whose id is not above the stream's top fails: it is skipped, the entry is still published.
PUBLISH = """
local n, added = #KEYS, 0
for i = 1, n do
  local r = redis.pcall('XADD', KEYS[i], 'MAXLEN', '~', ARGV[1], ARGV[3*i-1], 'k', ARGV[3*i], 'd', ARGV[3*i+1])
  if not (type(r) == 'table' and r.err) then added = added + 1 end
end
for j = 3*n + 2, #ARGV, 2 do
  redis.call('PUBLISH', ARGV[j], ARGV[j+1])
end
return added
"""

OnEntry = Callable[[str, int, "bytes | None"], None]
OnHead = Callable[[str, int, bool], None]
OnEvent = Callable[[str, bytes], None]


def parse_url(url: str) -> dict:
    """redis://[:password@]host[:port][/db] as connection arguments; ValueError saying what is wrong."""
    shown = redact(url) if isinstance(url, str) else repr(url)
    form = "redis://[:password@]host:port/db"
    if not isinstance(url, str) or not url.startswith(("redis://", "rediss://")):
        raise ValueError(f"the Redis hub URL must look like {form}, got {shown!r}")
    parts = urlsplit(url)
    try:
        port = parts.port or 6379
    except ValueError:
        raise ValueError(f"the Redis hub URL has a bad port (1-65535): {shown!r}") from None
    if not parts.hostname:
        raise ValueError(f"the Redis hub URL names no host ({form}): {shown!r}")
    db = parts.path.strip("/") or "0"
    if not db.isdigit() or parts.query or parts.fragment:
        raise ValueError(f"the Redis hub URL must end with a database number ({form}): {shown!r}")
    return {
        "host": parts.hostname,
        "port": port,
        "db": int(db),
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "ssl": parts.scheme == "rediss",
    }


class RedisRelay:
    """One node's link to the others through Redis (see the module docstring for the contract)."""

    def __init__(self, url: str, namespace: str, history: int = 1000, big: int = BIG):
        self._conn = parse_url(url)
        self.url = redact(url)
        if not isinstance(namespace, str) or not namespace:
            raise ValueError(f"the Redis namespace must be a non-empty string, got {namespace!r}")
        for name, value in (("history", history), ("big", big)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.history_len, self.big = history, big
        self._prefix = f"lp:{quote(namespace, safe='')}:"
        self._heads = (self._prefix + "heads").encode()
        self._pattern = (self._prefix + "e:*").encode()
        self._node = secrets.token_hex(8).encode()
        self.stats = {"published": 0, "dropped": 0, "received": 0, "resyncs": 0, "skipped": 0}
        self.stats |= {"events": 0, "events_dropped": 0, "events_received": 0}
        self._client: aredis.Redis | None = None
        self._pubsub = None
        self._tasks: list[asyncio.Task] = []
        self._queue: deque = deque()
        self._queued_bytes = 0
        self._wake_send = asyncio.Event()
        self._down = self._lost = self._closed = False
        # subscriptions: what watch() asked, what was sent on the current connection, what is confirmed
        self._want: tuple[frozenset[bytes], bool] = (frozenset(), False)
        self._sent: tuple[frozenset[bytes], bool] = (frozenset(), False)
        self._wake_watch = asyncio.Event()
        self._asked = self._confirmed = 0  # PING tokens: the server answered everything sent before one
        self._resync_at = 0  # the token after which on_resync runs (0: none pending)
        self._confirm = asyncio.Condition()
        self._applying = asyncio.Lock()

    def channel(self, env: str) -> bytes:
        return (self._prefix + "e:" + quote(env, safe="")).encode()

    def _stream(self, env: str) -> bytes:
        return (self._prefix + "h:" + quote(env, safe="")).encode()

    async def start(
        self, on_entry: OnEntry, on_head: OnHead, on_resync: Callable[[], None], on_event: OnEvent | None = None
    ) -> None:
        """Connect, subscribe to the heads channel and start the background tasks."""
        self._on = (on_entry, on_head, on_resync, on_event)
        self._client = aredis.Redis(
            **self._conn, retry=Retry(NoBackoff(), 0), socket_connect_timeout=5, socket_keepalive=True
        )
        try:
            await self._client.ping()
        except ERRORS as exc:
            await self._client.aclose()
            raise ConnectionError(f"cannot reach Redis at {self.url}: {exc}") from None
        self._script = self._client.register_script(PUBLISH)
        try:
            await self._connect()
        except ERRORS as exc:
            await self._client.aclose()
            raise ConnectionError(f"cannot subscribe on Redis at {self.url}: {exc}") from None
        self._tasks = [asyncio.create_task(f()) for f in (self._read, self._send, self._watcher)]
        await self.settled()  # the heads channel is live

    async def close(self) -> None:
        """Stop the background tasks and disconnect; later publishes are dropped."""
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._drop_pubsub()
        if self._client is not None:
            await self._client.aclose()

    # -- publishing ---------------------------------------------------------------------------------------

    def publish(self, env: str, lseq: int, entry: bytes, notable: bool = False) -> None:
        """Queue one committed entry for Redis; drops it (counted) when Redis is away or the queue is full."""
        if not isinstance(env, str) or not isinstance(lseq, int) or isinstance(lseq, bool) or lseq < 1:
            raise ValueError(f"publish needs an env name and an lseq >= 1, got {env!r}, {lseq!r}")
        env.encode()  # UnicodeEncodeError (a ValueError) here, for a name Redis could not carry
        if not isinstance(entry, bytes | bytearray | memoryview):
            raise TypeError(f"an entry is bytes, got {type(entry).__name__}")
        if self._client is None:
            raise RuntimeError("RedisRelay.publish() before start()")
        small = memoryview(entry).nbytes <= self.big
        size = memoryview(entry).nbytes if small else 0
        full = len(self._queue) >= QUEUE_ITEMS or self._queued_bytes + size > QUEUE_BYTES
        if self._down or self._closed or full:
            self.stats["dropped"] += 1
            self._lost = True
            return
        self._queue.append((env, lseq, bytes(entry) if small else None, bool(notable)))
        self._queued_bytes += size
        self._wake_send.set()

    def publish_event(self, env: str, frame: bytes) -> None:
        """Queue an ephemeral frame for the other nodes watching env; drops it (counted) when Redis is away
        or the queue is full. Never stored: a node that is not listening now never gets it."""
        if not isinstance(env, str):
            raise ValueError(f"publish_event needs an env name, got {env!r}")
        env.encode()  # UnicodeEncodeError (a ValueError) here, for a name Redis could not carry
        if not isinstance(frame, bytes | bytearray | memoryview):
            raise TypeError(f"an event frame is bytes, got {type(frame).__name__}")
        size = memoryview(frame).nbytes
        if size > EVENT_BYTES:
            raise ValueError(f"an event frame is at most {EVENT_BYTES} bytes, got {size}")
        if self._client is None:
            raise RuntimeError("RedisRelay.publish_event() before start()")
        full = len(self._queue) >= QUEUE_ITEMS or self._queued_bytes + size > QUEUE_BYTES
        if self._down or self._closed or full:
            self.stats["events_dropped"] += 1  # ephemeral: no resync for it
            return
        self._queue.append((env, 0, bytes(frame), None))  # lseq 0: an event, not an entry
        self._queued_bytes += size
        self._wake_send.set()

    async def _send(self) -> None:
        """The one sender: batches of queued entries in order, one script call (one round trip) each."""
        while True:
            await self._wake_send.wait()
            self._wake_send.clear()
            while self._queue:
                batch, size = [], 0
                while self._queue and len(batch) < BATCH_ITEMS and size < BATCH_BYTES:
                    batch.append(self._queue.popleft())
                    size += len(batch[-1][2] or b"")
                self._queued_bytes -= size
                events = sum(1 for item in batch if not item[1])
                try:
                    added = await self._script(*self._script_args(batch))
                    self.stats["published"] += len(batch) - events
                    self.stats["events"] += events
                    self.stats["skipped"] += len(batch) - events - added
                except ERRORS as exc:
                    events += sum(1 for item in self._queue if not item[1])
                    self.stats["dropped"] += len(batch) + len(self._queue) - events
                    self.stats["events_dropped"] += events
                    self._queue.clear()
                    self._queued_bytes = 0
                    self._lost = self._down = True
                    log.warning("Redis at %s is unreachable (%s): dropping entries until it is back", self.url, exc)
                    await self._reconnect_publisher()
                except Exception:  # a bug must not end the sender: the batch is lost, the others resync
                    log.exception("could not publish %d entries to Redis", len(batch))
                    self.stats["dropped"] += len(batch) - events
                    self.stats["events_dropped"] += events
                    self._lost = True
            if self._lost and not self._down:
                try:  # the other nodes may have missed entries: they re-read them from PostgreSQL
                    await self._client.publish(self._heads, msgpack.packb({"r": self._node}))
                    self._lost = False
                except ERRORS:
                    self._wake_send.set()
                    await asyncio.sleep(RETRY_EVERY)

    def _script_args(self, batch: list) -> tuple[list, list]:
        """KEYS and ARGV of PUBLISH: one message per env channel (its entries in order), one on heads, and
        one per event frame on its env's channel (a map, where entries are a list)."""
        keys, args, by_env, events = [], [self.history_len], {}, []
        for env, lseq, entry, _ in batch:
            if not lseq:
                events += [self.channel(env), msgpack.packb({"v": self._node, "f": entry})]
                continue
            keys.append(self._stream(env))
            args += [b"%d-0" % lseq, b"e" if entry is not None else b"n", entry or b""]
            by_env.setdefault(env, []).append((lseq, entry))
        for env, entries in by_env.items():
            args += [self.channel(env), msgpack.packb(entries)]
        heads = [(env, lseq, notable) for env, lseq, _, notable in batch if lseq]
        if heads:
            args += [self._heads, msgpack.packb({"h": heads})]
        return keys, args + events

    async def _reconnect_publisher(self) -> None:
        while True:
            await asyncio.sleep(RETRY_EVERY)
            with contextlib.suppress(*ERRORS):
                await self._client.ping()
                self._down = False
                log.info("Redis at %s is back", self.url)
                return

    # -- subscriptions ------------------------------------------------------------------------------------

    def watch(self, envs: set[str], everything: bool = False) -> None:
        """Subscribe to exactly these envs' channels (all of this namespace's envs when `everything`)."""
        if isinstance(envs, str) or not all(isinstance(e, str) for e in envs):
            raise TypeError(f"watch() takes a set of env names, got {envs!r}")
        self._want = (frozenset(), True) if everything else (frozenset(self.channel(e) for e in envs), False)
        self._wake_watch.set()

    async def settled(self, timeout: float = 10.0) -> None:
        """Return once the subscriptions asked so far are live on the Redis server (TimeoutError if not)."""

        def live() -> bool:
            return self._sent == self._want and self._confirmed >= self._asked

        async with self._confirm:
            await asyncio.wait_for(self._confirm.wait_for(live), timeout)

    async def _watcher(self) -> None:
        while True:
            await self._wake_watch.wait()
            self._wake_watch.clear()
            with contextlib.suppress(*ERRORS):  # a lost connection is the reader's to handle
                async with self._applying:
                    await self._apply()

    async def _apply(self, force: bool = False) -> None:
        """Send the difference between the wanted and the sent subscriptions, then a PING token.

        New subscriptions go before the old ones end: while a change is applied an entry may come twice
        (the receiver ignores an lseq it has), rather than not at all."""
        (want, pattern), (sent, had_pattern) = self._want, self._sent
        if self._pubsub is None or ((want, pattern) == (sent, had_pattern) and not force):
            return  # no connection: the next one subscribes to everything wanted
        self._sent = self._want
        self._asked += 1
        pubsub, steps = self._pubsub, []
        if want - sent:
            steps.append((pubsub.subscribe, *(want - sent)))
        if pattern and not had_pattern:
            steps.append((pubsub.psubscribe, self._pattern))
        if sent - want:
            steps.append((pubsub.unsubscribe, *(sent - want)))
        if had_pattern and not pattern:
            steps.append((pubsub.punsubscribe, self._pattern))
        steps.append((pubsub.ping, b"lp-sync %d" % self._asked))
        for command, *args in steps:
            if not pubsub.connection.is_connected:  # broken: the reader reconnects (redis-py would, here, too)
                return
            await command(*args)

    async def _connect(self) -> None:
        """A fresh subscription connection: the heads channel, then the watched channels."""
        async with self._applying:
            self._pubsub = self._client.pubsub()
            await self._pubsub.subscribe(self._heads)
            self._pubsub.connection.register_connect_callback(self._refuse_reconnect)
            self._sent = (frozenset(), False)
            await self._apply(force=True)

    async def _read(self) -> None:
        """Receive messages; on a lost connection, reconnect, resubscribe and then call on_resync."""
        while True:
            try:
                for count in itertools.count(1):
                    msg = await self._pubsub.get_message(timeout=None)
                    try:
                        await self._dispatch(msg)
                    except (ValueError, TypeError, KeyError, AttributeError, msgpack.UnpackException):
                        log.warning("ignoring a malformed message on %s", msg["channel"])
                    if count % 64 == 0:  # buffered messages come without a pause: let the server's other work run
                        await asyncio.sleep(0)
            except ERRORS as exc:
                log.warning("lost the Redis subscription at %s (%s): reconnecting", self.url, exc)
            await self._drop_pubsub()
            while True:
                await asyncio.sleep(RETRY_EVERY)
                try:
                    await self._connect()
                    break
                except ERRORS:
                    await self._drop_pubsub()
            log.info("the Redis subscription at %s is back", self.url)
            self._resync_at = self._asked

    async def _refuse_reconnect(self, connection) -> None:
        """redis-py reconnects a broken subscription connection on its own (and resubscribes), which would
        hide the messages lost meanwhile: refuse, so that the reader sees the loss and resyncs."""
        await connection.disconnect(nowait=True)
        raise RedisConnectionError("the Redis subscription connection was lost")

    async def _drop_pubsub(self) -> None:
        """Close a broken subscription connection for good (its pooled connection is reused as it was)."""
        async with self._applying:
            pubsub, self._pubsub = self._pubsub, None
            if pubsub is None:
                return
            if pubsub.connection is not None:
                pubsub.connection.deregister_connect_callback(self._refuse_reconnect)
            with contextlib.suppress(*ERRORS):
                await pubsub.aclose()

    async def _dispatch(self, msg: dict | None) -> None:
        if msg is None:
            return
        kind, data = msg["type"], msg["data"]
        if kind == "pong" and data.startswith(b"lp-sync "):
            async with self._confirm:
                self._confirmed = int(data[8:])
                self._confirm.notify_all()
            if self._resync_at and self._confirmed >= self._resync_at:
                self._resync_at = 0
                self._resync()
        elif kind not in ("message", "pmessage"):
            return
        elif msg["channel"] == self._heads:
            heads = msgpack.unpackb(data)
            for env, lseq, notable in heads.get("h", ()):
                self._call(1, env, lseq, notable)
            if heads.get("r", self._node) != self._node:
                self._resync()
        else:
            env = unquote(msg["channel"].decode()[len(self._prefix) + 2 :])
            body = msgpack.unpackb(data)
            if isinstance(body, dict):  # an event frame
                if body["v"] != self._node and self._on[3] is not None:
                    self.stats["events_received"] += 1
                    self._call(3, env, body["f"])
                return
            for lseq, entry in body:
                self.stats["received"] += 1
                self._call(0, env, lseq, entry)

    def _resync(self) -> None:
        self.stats["resyncs"] += 1
        self._call(2)

    def _call(self, which: int, *args) -> None:
        try:
            self._on[which](*args)
        except Exception:
            log.exception("a Redis relay callback failed")

    # -- history ------------------------------------------------------------------------------------------

    async def history(self, env: str, after: int, upto: int) -> list[tuple[int, bytes]] | None:
        """The entries after..upto (inclusive) from the env's stream, or None if any of them is missing."""
        if not isinstance(after, int) or not isinstance(upto, int) or after < 0:
            raise ValueError(f"history needs 0 <= after and integer bounds, got {after!r}, {upto!r}")
        if self._client is None:
            raise RuntimeError("RedisRelay.history() before start()")
        if upto <= after:
            return []
        if upto - after > self.history_len * 2:  # more than the stream can hold
            return None
        try:
            rows = await self._client.xrange(self._stream(env), b"%d-0" % (after + 1), b"%d-0" % upto)
        except ERRORS:
            return None
        out = []
        for expect, (rid, fields) in enumerate(rows, after + 1):
            if rid != b"%d-0" % expect or fields.get(b"k") != b"e":
                return None
            out.append((expect, fields[b"d"]))
        return out if len(out) == upto - after else None
