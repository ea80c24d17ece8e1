"""The Panel's one downlink (DESIGN §7): events and properties panes from the server to this process.

Opened only when a handler (`Panel.on`) or a properties pane (`Panel.properties`) exists: a websocket to
/api/v1/events on a thread of its own, with the writer's token. It follows the envs that have handlers or
panes, resumes from the last event seq it got after any disconnect (a server restart too: panes come back
as they are then, so an edit made meanwhile is not lost), and never touches the logging path. Handlers run
on one more thread, in order, so a slow handler holds up neither the downlink nor the training loop.
Tornado is imported on that thread only (import livepanel stays light).
"""

from __future__ import annotations

import collections
import logging
import queue
import random
import secrets
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from livepanel import protocol
from livepanel.properties import reading as native_value

log = logging.getLogger("livepanel.downlink")
Handler = Callable[[dict[str, Any]], None]
MAX_BACKOFF = 2.0  # seconds between attempts to reconnect, at most
MAX_PENDING = 10_000  # events waiting for the handler thread; past it the oldest are dropped (and logged)


class Properties(Mapping):
    """A properties pane's values, live: `props["lr"]` is the value a viewer last set (read it each step).

    Read-only here (the page edits it); `items` is the pane as the server has it."""

    def __init__(self, env: str, win: str, items: list[dict[str, Any]], pane: str):
        self.env, self.win, self.pane = env, win, pane
        self.items = items
        self._values = {it["name"]: native_value(it) for it in items}
        self.version = 0  # how many changes from the server were taken (tests poll it)

    def _take(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self._values = {it["name"]: native_value(it) for it in items}  # one assignment: readers see old or new
        self.version += 1

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Properties({self.win!r}, {self._values!r})"


def new_pane_id() -> str:
    return secrets.token_hex(8)


class Downlink:
    """One websocket per Panel, on its own thread; handlers on another."""

    def __init__(self, url: str | list[str], token: str | None, timeout: float = 10.0):
        self.ws_urls = [ws_url(one) for one in ([url] if isinstance(url, str) else url)]
        self.index = 0  # the node in use; the next one when it cannot be reached, or drops the link
        self.token, self.timeout = token, timeout
        self.handlers: dict[tuple[str, str], list[Handler]] = {}
        self.panes: dict[tuple[str, str], Properties] = {}
        self.seqs: dict[str, int | None] = {}  # env -> last event seq received (None: nothing yet)
        self.boots: dict[str, str] = {}  # env -> the server boot its seq counts in
        self.connected = threading.Event()  # tests and benchmarks wait for it
        self.connects = 0
        self.errors: collections.deque[str] = collections.deque(maxlen=20)  # the server's refusals, for users
        self._lock = threading.Lock()
        self._calls: queue.Queue = queue.Queue()
        self._loop: Any = None
        self._ws: Any = None
        self._closed = False
        self._thread: threading.Thread | None = None
        self._worker: threading.Thread | None = None

    @property
    def ws_url(self) -> str:
        return self.ws_urls[self.index]

    # ------------------------------------------------------------ the Panel's side

    def on(self, env: str, win: str, fn: Handler) -> None:
        with self._lock:
            self.handlers.setdefault((env, win), []).append(fn)
        self._follow(env)

    def off(self, env: str, win: str) -> None:
        with self._lock:
            self.handlers.pop((env, win), None)

    def pane(self, props: Properties) -> None:
        with self._lock:
            self.panes[(props.env, props.win)] = props
        self._follow(env=props.env)

    def _follow(self, env: str) -> None:
        with self._lock:
            new = env not in self.seqs
            if new:
                self.seqs[env] = None
            started = self._thread is not None
            if not started:
                self._thread = threading.Thread(target=self._run, name="livepanel-downlink", daemon=True)
                self._worker = threading.Thread(target=self._work, name="livepanel-handlers", daemon=True)
        if not started:
            self._worker.start()
            self._thread.start()
        elif new and self._loop is not None:
            try:
                self._loop.add_callback(self._subscribe, [env])
            except RuntimeError:  # the loop is closing
                pass

    def close(self) -> None:
        self._closed = True
        self._calls.put(None)
        loop = self._loop
        if loop is not None:
            try:
                loop.add_callback(self._stop)
            except RuntimeError:
                pass

    # ------------------------------------------------------------ the downlink thread

    def _run(self) -> None:
        import asyncio

        try:
            asyncio.run(self._main())
        except Exception:  # a bug here must not reach the user's program; logged once
            log.exception("the livepanel downlink stopped")

    async def _main(self) -> None:
        import asyncio

        from tornado.httpclient import HTTPRequest
        from tornado.ioloop import IOLoop
        from tornado.websocket import websocket_connect

        self._loop = IOLoop.current()
        backoff = 0.05
        misses = 0  # failed connects in a row: the next URL at once, the backoff after a full cycle
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        while not self._closed:
            try:
                request = HTTPRequest(self.ws_url, headers=headers, connect_timeout=self.timeout)
                self._ws = await websocket_connect(request, max_message_size=64 << 20, ping_interval=20)
            except Exception as exc:
                log.debug("downlink: cannot connect to %s: %s", self.ws_url, exc)
                misses += 1
                self.index = (self.index + 1) % len(self.ws_urls)
                if misses % len(self.ws_urls) == 0:
                    await asyncio.sleep(backoff * (random.uniform(0.75, 1.0) if len(self.ws_urls) > 1 else 1.0))
                    backoff = min(MAX_BACKOFF, backoff * 2)
                continue
            misses = 0
            if self._closed:  # closed while connecting
                _shut(self._ws)
                return
            backoff = 0.05
            self.connects += 1
            self._subscribe(list(self.seqs))
            while not self._closed:
                frame = await self._ws.read_message()
                if frame is None:
                    break
                try:
                    self._receive(protocol.unpackb(frame if isinstance(frame, bytes) else frame.encode()))
                except Exception:  # a message this client does not understand: logged, the link goes on
                    log.exception("downlink: a message could not be handled")
            self.connected.clear()
            ws, self._ws = self._ws, None
            if ws is not None:
                _shut(ws)  # closed by the server, or by close(): either way, closed here too

    def _subscribe(self, envs: list[str]) -> None:
        ws = self._ws
        if ws is None or not envs:
            return
        with self._lock:
            wanted = [{"env": env, "seq": self.seqs.get(env), "boot": self.boots.get(env)} for env in envs]
        try:
            ws.write_message(protocol.packb({"type": "subscribe", "envs": wanted}), binary=True)
        except Exception:  # closed meanwhile: the next connection subscribes to every env
            pass

    def _stop(self) -> None:
        if self._ws is not None:
            self._ws.close()

    def _receive(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "event":
            env = msg["env"]
            with self._lock:
                self.seqs[env] = max(msg["seq"], self.seqs.get(env) or 0)
                fns = list(self.handlers.get((env, msg["win"]), ()))
            if fns:
                event = {k: v for k, v in msg.items() if k not in ("type", "seq")}
                self._queue(fns, event)
        elif kind == "props":
            self._props(msg)
        elif kind == "ready":
            env = msg["env"]
            with self._lock:
                if self.boots.get(env) != msg["boot"] or self.seqs.get(env) is None:
                    self.seqs[env] = msg["seq"]  # a new server counts anew (what it kept was replayed)
                self.boots[env] = msg["boot"]
            self.connected.set()
        elif kind == "error":
            self.errors.append(str(msg.get("message")))
            log.warning("livepanel downlink: %s", msg.get("message"))

    def _props(self, msg: dict[str, Any]) -> None:
        env, win, items = msg["env"], msg["win"], msg["items"]
        with self._lock:
            props = self.panes.get((env, win))
            fns = list(self.handlers.get((env, win), ()))
        mine = props is not None and msg.get("pane") == props.pane  # a pane of this Panel (not an older one)
        old = props.items if mine else None
        if mine:
            props._take(items)
        if not fns:
            return
        edit = msg.get("edit")
        if edit is not None:
            changed = [edit["id"]]
        elif old is not None and len(old) == len(items):  # after a reconnect: what changed meanwhile
            changed = [i for i, (a, b) in enumerate(zip(old, items, strict=True)) if a != b]
        else:
            return
        for i in changed:
            if 0 <= i < len(items):
                item = items[i]
                event = {"event": "property", "env": env, "win": win, "id": i, "name": item["name"],
                         "type": item["type"], "value": native_value(item), "items": items}  # fmt: skip
                self._queue(fns, event)

    # ------------------------------------------------------------ the handler thread

    def _queue(self, fns: list[Handler], event: dict[str, Any]) -> None:
        if self._calls.qsize() > MAX_PENDING:
            log.warning("livepanel: event handlers are %d events behind; dropping the oldest", MAX_PENDING)
            try:
                self._calls.get_nowait()
            except queue.Empty:
                pass
        self._calls.put((fns, event))

    def _work(self) -> None:
        while True:
            call = self._calls.get()
            if call is None:
                return
            fns, event = call
            for fn in fns:
                try:
                    fn(event)
                except Exception:  # the user's handler: its error is logged, the next events still come
                    log.exception("livepanel: an event handler raised")


def ws_url(url: str) -> str:
    """The events websocket of a server URL."""
    parts = urllib.parse.urlsplit(url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}{protocol.API}/events"


def _shut(ws: Any) -> None:
    """Close a websocket and its socket at once. Tornado would wait up to 5 s for the server's close
    frame, but this loop may end right after, which would leave the socket open."""
    stream = getattr(ws.protocol, "stream", None)  # gone once closed
    ws.close()
    if stream is not None:
        stream.close()
