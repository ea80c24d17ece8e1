"""The browser websocket: subscribe to envs, receive changes, save layouts, dismiss alerts, mute kinds,
follow the runs feed, set a run's colour."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import tornado.web
import tornado.websocket

from livepanel import protocol
from livepanel.protocol import quote
from livepanel.server import auth
from livepanel.server.auth import Guard, clip
from livepanel.server.events import MAX_EVENT_BYTES, Bucket, Events, check_event
from livepanel.server.hub import Hub, Viewer
from livepanel.server.store import Store, StoreError

log = logging.getLogger("livepanel.ws")
# What a page may change, each as the operation of that name (docs/protocol.md): the fields it may send.
USER_OPS = {
    "layout": {"type", "env", "layout"},
    "dismiss": {"type", "env", "id"},
    "mute": {"type", "env", "win", "kind", "muted"},
    "run": {"type", "env", "color"},  # a page sets a run's colour only, never its config, summary or status
}


class SocketHandler(tornado.websocket.WebSocketHandler):
    """The page's socket: the cookie or a header authenticates it (never ?token=), and Tornado's
    check_origin refuses an upgrade from a page of another origin (another port included)."""

    def initialize(self, guard: Guard, hub: Hub, store: Store, events: Events | None = None) -> None:
        self.guard, self.hub, self.store, self.events = guard, hub, store, events
        self.viewer: Viewer | None = None
        self.bucket = Bucket()  # events and edits this viewer may send (livepanel/server/events.py)
        self._tasks: set[asyncio.Task] = set()
        self._turn: asyncio.Task | None = None  # the last subscription waiting to catch up (cluster nodes)

    def set_default_headers(self) -> None:
        auth.secure(self, None, page=False)  # the refusals (401, 403) are answers like any other

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        auth.log_exception(self.request, typ, value, tb)

    def prepare(self) -> None:
        refused = self.guard.refuse(self)
        if refused is not None:
            self.set_status(refused[0])
            self.finish({"error": clip(refused[1])})

    def open(self, *args: Any) -> None:
        self.set_nodelay(True)
        self.viewer = self.hub.connect(self._write)

    async def _write(self, frame: bytes) -> None:
        await self.write_message(frame, binary=True)

    def on_message(self, message: str | bytes) -> None:
        try:
            msg = protocol.unpackb(message if isinstance(message, bytes) else message.encode())
            if not isinstance(msg, dict):
                raise protocol.ProtocolError("a message must be a map with a 'type'")
            kind = msg.get("type")
            if kind == "subscribe":
                requests, width = _check_subscribe(msg)
                self._in_turn(lambda: self.hub.subscribe(self.viewer, requests, width), [r["env"] for r in requests])
            elif kind == "runs":
                if _check_runs(msg):
                    self._in_turn(lambda: self.hub.runs.start(self.viewer), None)
                else:
                    self._in_turn(lambda: self.hub.runs.stop(self.viewer), [])
            elif kind in ("event", "edit"):
                self._event(kind, msg, len(message))
            elif kind in USER_OPS:
                extra = set(msg) - USER_OPS[kind]
                if extra:
                    raise protocol.ProtocolError(f"{kind}: unknown field(s) {', '.join(sorted(map(quote, extra)))}")
                op = protocol.validate_op({k: v for k, v in msg.items() if k != "type"} | {"op": kind})
                if kind == "run":
                    _check_color_op(msg, op, self.store)
                task = asyncio.get_running_loop().create_task(self._save(op))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            else:
                raise protocol.ProtocolError(
                    f"unknown message type {quote(kind)}; expected subscribe, runs, event, edit, {', '.join(USER_OPS)}"
                )
        except protocol.ProtocolError as exc:
            self._error(str(exc))
        except Exception as exc:  # a gap in the checks: logged (short) and answered; the socket stays open
            auth.log_exception(self.request, type(exc), exc, exc.__traceback__)
            self._error(f"the message could not be handled ({type(exc).__name__})")

    def _in_turn(self, act: Any, envs: list[str] | None) -> None:
        """Subscribe (or follow the runs table) at once; on a cluster node, once the envs are caught up with
        the other nodes (None: every env), in the order the page asked."""
        if not self.store.shared:
            act()
            self.hub.watch_changed()
            return
        previous = self._turn

        async def turn() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            if envs != []:
                try:
                    await self.store.fresh(envs)
                except Exception as exc:  # the database is away: what this node has, live changes follow
                    log.warning("could not catch up before a subscription: %r", exc)
            if self.viewer is not None and not self.viewer.closed:
                act()
                self.hub.watch_changed()

        self._turn = asyncio.get_running_loop().create_task(turn())
        self._tasks.add(self._turn)
        self._turn.add_done_callback(self._tasks.discard)

    def _event(self, kind: str, msg: dict, size: int) -> None:
        """A click or key press in a window (sent to the env's downlinks), or an edit of a properties pane
        (stored as a `property` op): bounded in size and rate, and only into an env this viewer watches."""
        if not self.bucket.take():  # first: a flood of bad messages is refused as cheaply as good ones
            raise protocol.ProtocolError(f"{kind} refused: over {self.bucket.rate:g} events a second from this page")
        if size > MAX_EVENT_BYTES:
            raise protocol.ProtocolError(f"{kind}: the message is {size} bytes; the limit is {MAX_EVENT_BYTES}")
        env = protocol.check_name(msg.get("env"), f"{kind} env")
        win = protocol.check_name(msg.get("win"), f"{kind} win")
        if self.viewer is None or env not in self.viewer.envs:
            raise protocol.ProtocolError(f"{kind}: env {quote(env)} is not one this page watches (subscribe first)")
        if self.store.state.window(env, win) is None:
            raise protocol.ProtocolError(f"{kind}: env {quote(env)} has no window {quote(win)}")
        if kind == "edit":
            extra = set(msg) - {"type", "env", "win", "id", "value"}
            if extra:
                raise protocol.ProtocolError(f"edit: unknown field(s) {', '.join(sorted(map(quote, extra)))}")
            edit = {"op": "property", "env": env, "win": win, "id": msg.get("id"), "value": msg.get("value")}
            op = protocol.validate_op(edit)
        else:
            event = check_event(msg)
        if kind == "edit":
            self.store.state.check([op])  # refused here with its reason, before it is queued
            task = asyncio.get_running_loop().create_task(self._save(op))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif self.events is not None:
            self.events.publish(env, win, event)

    async def _save(self, op: dict) -> None:
        try:
            await self.store.ingest(None, None, [op])
        except (protocol.ProtocolError, StoreError) as exc:
            self._error(str(exc))
        except Exception as exc:
            auth.log_exception(self.request, type(exc), exc, exc.__traceback__)
            self._error(f"the {op['op']} could not be saved ({type(exc).__name__})")

    def _error(self, text: str) -> None:
        if self.viewer is not None:
            self.viewer.push(protocol.packb({"type": "error", "message": clip(text)}))

    def on_close(self) -> None:
        if self.viewer is not None:
            self.viewer.close()


def _check_subscribe(msg: dict) -> tuple[list[dict], int | None]:
    width = msg.get("width")
    if width is not None:
        protocol.check_int(width, "subscribe width (pixels)", 1, 100_000)
    envs = msg.get("envs")
    if not isinstance(envs, list) or len(envs) > 1000:
        raise protocol.ProtocolError("subscribe envs must be a list of {env, seq, store}")
    requests = []
    for item in envs:
        if not isinstance(item, dict):
            raise protocol.ProtocolError("subscribe envs must be a list of {env, seq, store}")
        env = protocol.check_name(item.get("env"), "env name")
        seq = item.get("seq")
        if seq is not None:
            protocol.check_int(seq, f"seq for env {quote(env)}", 0)
        store = item.get("store")
        if store is not None and not (isinstance(store, str) and len(store) <= 64):
            raise protocol.ProtocolError(f"store of env {quote(env)} must be a store id (a short string)")
        requests.append({"env": env, "seq": seq, "store": store})
    return requests, width


def _check_runs(msg: dict) -> bool:
    """{type: "runs", on: true|false}: whether the viewer wants the runs feed."""
    extra = set(msg) - {"type", "on"}
    if extra:
        raise protocol.ProtocolError(f"runs: unknown field(s) {', '.join(sorted(map(quote, extra)))}")
    on = msg.get("on")
    if not isinstance(on, bool):
        raise protocol.ProtocolError(f"runs on must be true or false, got {quote(on)}")
    return on


def _check_color_op(msg: dict, op: dict, store: Store) -> None:
    """A page's `run`: a colour (or null) for an env that exists (a page does not make envs)."""
    if "color" not in msg:
        raise protocol.ProtocolError("run: color is required (a CSS colour, or nil for the default)")
    if op["env"] not in store.state.envs:
        raise protocol.ProtocolError(f"run: no env {quote(op['env'])}")
