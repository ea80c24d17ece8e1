"""Events from pages to writers: the checks of a page's click, key and edit, the per-env event buffers, and
the writers' downlink (DESIGN §7, "One downlink per Panel"; docs/protocol.md, "Events").

A page's click or key press is checked (`check_event`), rate-limited per viewer (`Bucket`), numbered in its
env and kept in a bounded buffer, and sent to every downlink of that env. A page's edit of a properties
pane is an operation (`property`), stored like any other; its committed change reaches the downlinks from
the store's listeners, as the pane's whole state. A downlink (`/api/v1/events`, a writer's websocket, with
the writer's token) subscribes to envs from the last event seq it got: it first gets every properties pane
of those envs as it is now (edits are state: one made while it was away is in it), then the buffered
events after its seq (all of them when the server restarted since: `boot` changed), then live ones.

On a node among several (`--hub`), a page and a downlink of one env may be on different nodes. The envs
the links follow count as watched (`followed`, for the hub's watch set), so the env's committed changes,
pane edits included, reach this node; `forward` sends each event to the other nodes, and `relayed` takes
one from them. An event from a page on another node reaches the links here that follow its env when it
arrives (live: it is never sent again, to this node or another); it is numbered and kept here as this
node's own are, so a link's seq stays in this node's count. Each node numbers events on its own, so a link
that comes with another `boot` (it moved from another node, or this node restarted) gets no kept events:
it may have had them from the other node, and none may come twice. A link is told `ready` once the env is
followed here and caught up with the other nodes: from then on events of pages on any node reach it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import tornado.websocket

from livepanel import protocol
from livepanel.protocol import ProtocolError, quote
from livepanel.server import auth
from livepanel.server.auth import Guard, clip
from livepanel.server.hub import Outbox
from livepanel.server.store import Store

log = logging.getLogger("livepanel.events")
MAX_EVENT_BYTES = 4096  # a page's event or edit message, as sent
EVENT_RATE = 100.0  # events and edits a viewer may send per second, sustained...
EVENT_BURST = 200  # ...and at once
RING_EVENTS = 1024  # events kept per env for downlinks that resume...
RING_BYTES = 4 << 20  # ...and at most this many bytes of them (an event carries a text window's text)
LINK_QUEUE = 8 << 20  # bytes queued toward one downlink; past it the link is closed (it resumes)
MAX_KEY = 32  # characters of a key's name or code
EVENT_KINDS = ("click", "key")
_CLICK = {"type", "env", "win", "event", "x", "y", "point"}
_KEY = {"type", "env", "win", "event", "key", "code", "key_code", "alt", "ctrl", "shift", "meta"}


class Bucket:
    """A token bucket: `take()` is False past `rate` per second sustained, `burst` at once."""

    def __init__(self, rate: float = EVENT_RATE, burst: int = EVENT_BURST):
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.last = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def _finite(v: Any, what: str) -> float | int:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or abs(v) > 1e300:
        raise ProtocolError(f"{what} must be a finite number, got {quote(v)}")
    return v


def _short(v: Any, what: str, limit: int = MAX_KEY) -> str:
    if not isinstance(v, str) or len(v) > limit or not v.isprintable():
        raise ProtocolError(f"{what} must be printable text of at most {limit} characters, got {quote(v, 50)}")
    return v


def check_event(msg: dict) -> dict[str, Any]:
    """A page's `event` message, checked: the event as downlinks get it (without env and win)."""
    kind = msg.get("event")
    if kind not in EVENT_KINDS:
        raise ProtocolError(f"event must be one of {', '.join(EVENT_KINDS)}, got {quote(kind)}")
    allowed = _CLICK if kind == "click" else _KEY
    extra = set(msg) - allowed
    if extra:
        raise ProtocolError(f"{kind} event: unknown field(s) {', '.join(sorted(map(quote, extra)))}")
    out: dict[str, Any] = {"event": kind}
    if kind == "click":
        for axis in ("x", "y"):
            v = msg.get(axis)
            out[axis] = None if v is None else _finite(v, f"click {axis} (data coordinates)")
        point = msg.get("point")
        if point is not None:
            if not isinstance(point, dict) or set(point) - {"trace", "index", "x", "y"}:
                raise ProtocolError("click point must be a map {trace, index, x, y} or nil")
            out["point"] = {
                "trace": protocol.check_name(point.get("trace", ""), "click point trace", allow_empty=True),
                "index": protocol.check_int(point.get("index"), "click point index", 0, protocol.MAX_DIM),
                "x": _finite(point.get("x"), "click point x"),
                "y": _finite(point.get("y"), "click point y"),
            }
        else:
            out["point"] = None
        return out
    out["key"] = _short(msg.get("key"), "key")
    out["code"] = _short(msg.get("code", ""), "key code")
    key_code = msg.get("key_code", 0)
    out["key_code"] = protocol.check_int(key_code, "key_code", 0, 1 << 16)
    for mod in ("alt", "ctrl", "shift", "meta"):
        v = msg.get(mod, False)
        if not isinstance(v, bool):
            raise ProtocolError(f"key {mod} must be true or false, got {quote(v)}")
        out[mod] = v
    return out


class Link(Outbox):
    """One writer's downlink: the envs it follows and its bounded queue of frames."""

    what = "downlink"

    def __init__(self, handler: EventsHandler):
        self.handler = handler
        self.envs: set[str] = set()
        self.pending: set[str] = set()  # envs it is about to follow (a cluster node catches them up first)
        super().__init__(lambda frame: handler.write_message(frame, binary=True), LINK_QUEUE, log)

    def push(self, frame: bytes) -> None:
        if self.closed:
            return
        if self._queued + len(frame) > self.limit:  # a writer that does not read: it reconnects and resumes
            log.warning("a downlink fell %d bytes behind; closing it", self._queued)
            self.handler.close(1013, "too far behind: resume")
            self.close()
            return
        self._append(frame)


class Events:
    """Every env's recent events and the downlinks that follow them (one per server; nothing global)."""

    def __init__(self, store: Store, ring: int = RING_EVENTS):
        self.store = store
        self.ring = ring
        self.boot = secrets.token_hex(8)  # a downlink that saw another boot missed nothing it can get back
        self.seqs: dict[str, int] = {}
        self.recent: dict[str, deque[tuple[int, bytes]]] = {}
        self._ring_bytes: dict[str, int] = {}
        self.links: set[Link] = set()
        store.listeners.append(self._committed)
        # a node among several (wired by the cli): each event to the other nodes, as (env, frame)...
        self.forward: Callable[[str, bytes], None] | None = None
        # ...told when the envs the links follow change (the hub's watch set), and a wait until the node
        # listens to the other nodes for every env followed here
        self.followed_changed: Callable[[], None] | None = None
        self.settled: Callable[[], Awaitable[None]] | None = None

    def followed(self) -> set[str]:
        """The envs the downlinks here follow or are about to follow: a cluster node watches them."""
        return set().union(*(link.envs | link.pending for link in self.links))

    def publish(self, env: str, win: str, event: dict[str, Any]) -> int:
        """Number a checked event in its env, keep it, send it to the env's downlinks, and forward it to the
        other nodes (a node among several): its seq here."""
        seq = self._deliver(env, win, event)
        if self.forward is not None:
            try:
                self.forward(env, protocol.packb({"win": win, **event}))
            except Exception:  # the relay never raises for its transport; a bug must not lose the page's socket
                log.exception("an event could not be forwarded to the other nodes")
        return seq

    def relayed(self, env: str, frame: bytes) -> None:
        """An event a page sent on another node (the frame `forward` made there): checked again, then to this
        node's downlinks of env, live (see the module docstring). ProtocolError for a malformed frame."""
        env = protocol.check_name(env, "relayed event env")
        if not isinstance(frame, bytes):
            raise ProtocolError(f"a relayed event is bytes, got {type(frame).__name__}")
        msg = protocol.unpackb(frame, max_size=MAX_EVENT_BYTES * 4)
        if not isinstance(msg, dict):
            raise ProtocolError(f"a relayed event must be a map {{win, event, ...}}, got {quote(msg, 50)}")
        win, event = protocol.check_name(msg.get("win"), "relayed event win"), check_event(msg)
        if any(env in link.envs for link in self.links):
            self._deliver(env, win, event)

    def _deliver(self, env: str, win: str, event: dict[str, Any]) -> int:
        w = self.store.state.window(env, win)
        seq = self.seqs.get(env, 0) + 1
        self.seqs[env] = seq
        pane = None
        if w is not None:  # what the window shows, as Visdom's handlers get it (`pane_data`)
            pane = {"kind": w.kind, "title": w.opts.get("title", "")}
            if w.kind == "text":
                pane["content"] = w.text_body()
            elif w.kind == "properties":
                pane["content"] = w.content["items"]
        frame = protocol.packb({"type": "event", "env": env, "seq": seq, "win": win, "pane": pane, **event})
        ring = self.recent.setdefault(env, deque())
        ring.append((seq, frame))
        size = self._ring_bytes[env] = self._ring_bytes.get(env, 0) + len(frame)
        while len(ring) > self.ring or (size > RING_BYTES and len(ring) > 1):
            size = self._ring_bytes[env] = size - len(ring.popleft()[1])
        for link in self.links:
            if env in link.envs:
                link.push(frame)
        return seq

    def _committed(self, messages: list[dict]) -> None:
        """The store's listener: a pane's change (made by its writer or edited by a viewer) or its close."""
        if not self.links:
            return
        for message in messages:
            op, env = message["op"], message["env"]
            kind = op["op"]
            if kind == "properties":
                frame = protocol.packb(_props(env, op["win"], message["seq"], op))
            elif kind == "close":
                frame = protocol.packb({"type": "closed", "env": env, "win": op["win"]})
            else:
                continue
            for link in self.links:
                if env in link.envs:
                    link.push(frame)

    def subscribe(self, link: Link, envs: list[tuple[str, int | None, str | None]]) -> None:
        """Follow these envs (in addition) from (seq, boot): each pane as it is, the events missed, `ready`."""
        new = {env for env, _, _ in envs} - link.envs
        for env, since, boot in envs:
            link.envs.add(env)
            link.pending.discard(env)
            e = self.store.state.envs.get(env)
            for w in list(e.windows.values()) if e is not None else ():
                if w.kind == "properties":
                    link.push(protocol.packb(_props(env, w.win, w.seq, w.content)))
            if since is not None and (boot == self.boot or self.forward is None):  # see the module docstring
                after = since if boot == self.boot else 0  # another boot: every event kept here is new to it
                for seq, frame in self.recent.get(env, ()):
                    if seq > after:
                        link.push(frame)
            ready = {"type": "ready", "env": env, "boot": self.boot, "seq": self.seqs.get(env, 0)}
            link.push(protocol.packb(ready))
        if new:
            self._followed_changed()

    async def subscribe_shared(self, link: Link, envs: list[tuple[str, int | None, str | None]]) -> None:
        """`subscribe` on a node among several: follow the envs first (the node listens to the other nodes
        for them), wait until that is live, catch them up with what is committed, then panes and `ready`."""
        names = [env for env, _, _ in envs]
        pending = set(names) - link.envs - link.pending
        link.pending |= pending
        if pending:
            self._followed_changed()
        try:
            if pending and self.settled is not None:
                await self.settled()
            await self.store.fresh(names)
        except Exception as exc:  # Redis or the database is away: what this node has, live changes follow
            log.warning("could not catch up before a downlink subscription: %r", exc)
        if not link.closed:
            self.subscribe(link, envs)

    def leave(self, link: Link) -> None:
        """A downlink closed: its envs may no longer be followed here."""
        link.close()
        self.links.discard(link)
        if link.envs or link.pending:
            self._followed_changed()

    def _followed_changed(self) -> None:
        if self.followed_changed is not None:
            self.followed_changed()

    def close(self) -> None:
        for link in list(self.links):
            link.close()


def _props(env: str, win: str, seq: int, pane: dict) -> dict[str, Any]:
    out = {"type": "props", "env": env, "win": win, "seq": seq, "items": pane["items"], "pane": pane.get("pane", "")}
    if pane.get("edit") is not None:
        out["edit"] = pane["edit"]
    return out


class EventsHandler(tornado.websocket.WebSocketHandler):
    """/api/v1/events: a writer's downlink. Authenticated as ingest is (the token in a header, never the
    page's cookie, so a page cannot read a writer's events); Tornado's check_origin refuses other pages."""

    def initialize(self, guard: Guard, events: Events) -> None:
        self.guard, self.events = guard, events
        self.link: Link | None = None
        self._turn: asyncio.Task | None = None  # the last subscription catching up (a node among several)

    def set_default_headers(self) -> None:
        auth.secure(self, None, page=False)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        auth.log_exception(self.request, typ, value, tb)

    def prepare(self) -> None:
        refused = self.guard.refuse(self)
        if refused is None and self.guard.token is not None and not self.guard.token_from(self, cookie=False):
            refused = (401, "the events downlink needs the token in an 'Authorization: Bearer TOKEN' header")
        if refused is not None:
            self.set_status(refused[0])
            self.finish({"error": clip(refused[1])})

    def open(self, *args: Any) -> None:
        self.set_nodelay(True)
        self.link = Link(self)
        self.events.links.add(self.link)

    def on_message(self, message: str | bytes) -> None:
        try:
            if len(message) > 64 * 1024:
                raise ProtocolError("a downlink message is at most 64 KiB")
            msg = protocol.unpackb(message if isinstance(message, bytes) else message.encode())
            if not isinstance(msg, dict) or msg.get("type") != "subscribe":
                raise ProtocolError("a downlink sends {type: 'subscribe', envs: [{env, seq, boot}]}")
            extra = set(msg) - {"type", "envs"}
            if extra:
                raise ProtocolError(f"subscribe: unknown field(s) {', '.join(sorted(map(quote, extra)))}")
            envs = msg.get("envs")
            if not isinstance(envs, list) or len(envs) > 1000:
                raise ProtocolError("subscribe envs must be a list of up to 1000 {env, seq}")
            wanted = []
            for item in envs:
                if not isinstance(item, dict) or set(item) - {"env", "seq", "boot"}:
                    raise ProtocolError("subscribe envs must be a list of {env, seq, boot}")
                seq, boot = item.get("seq"), item.get("boot")
                if seq is not None:
                    protocol.check_int(seq, "subscribe seq", 0)
                if boot is not None and not (isinstance(boot, str) and len(boot) <= 64):
                    raise ProtocolError("subscribe boot must be the boot id a ready message gave, or nil")
                wanted.append((protocol.check_name(item.get("env"), "env name"), seq, boot))
            if self.events.store.shared:
                self._in_turn(wanted)
            else:
                self.events.subscribe(self.link, wanted)
        except ProtocolError as exc:
            if self.link is not None:
                self.link.push(protocol.packb({"type": "error", "message": clip(str(exc))}))

    def _in_turn(self, wanted: list[tuple[str, int | None, str | None]]) -> None:
        """Subscriptions of a node among several wait to catch up: one after the other, in the order sent."""
        previous, link = self._turn, self.link

        async def turn() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            await self.events.subscribe_shared(link, wanted)

        self._turn = asyncio.get_running_loop().create_task(turn())

    def on_close(self) -> None:
        if self.link is not None:
            self.events.leave(self.link)
