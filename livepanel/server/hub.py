"""Fan-out of committed changes to browsers: subscriptions, resume by seq, bounded outboxes.

Each change is encoded once and the same bytes go to every viewer of its env. A viewer
resuming after a reconnect gets the changes it missed from a per-env replay buffer, or a
fresh snapshot when it is too far behind. A viewer that cannot keep up has its queue
dropped and is resent snapshots once it drains, so it never holds memory or delays others.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from livepanel import __version__
from livepanel.protocol import packb
from livepanel.server.runsfeed import RunsFeed
from livepanel.server.store import Store
from livepanel.server.store.model import public_message

log = logging.getLogger("livepanel.hub")
RING_FRAME_LIMIT = 1 << 20  # larger frames are not kept for replay (resumers get a snapshot)
RING_BYTES = 4 << 20  # replay buffer per env
ENV_LIST_EVERY = 1.0  # seconds between env lists sent for window counts alone (new or deleted envs go at once)


class Outbox:
    """One socket's bounded queue of frames, written in order by a task of its own, so a slow socket never
    delays the code that queues (browsers' viewers here, writers' downlinks in events.py). A subclass says
    what happens past `limit` (`push`) and after the queue drains (`_drained`)."""

    what = "outbox"  # names it in the log line when its socket goes away

    def __init__(self, write: Callable[[bytes], Awaitable[Any]], limit: int, logger: logging.Logger = log):
        self._write = write
        self.limit = limit
        self._log = logger
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._wake = asyncio.Event()
        self.closed = False
        self._task = asyncio.get_running_loop().create_task(self._drain())

    def _append(self, frame: bytes) -> None:
        self._queue.append(frame)
        self._queued += len(frame)
        self._wake.set()

    async def _drain(self) -> None:
        try:
            while not self.closed:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    frame = self._queue.popleft()
                    self._queued -= len(frame)
                    await self._write(frame)
                self._drained()
        except Exception as exc:  # the socket went away; the handler closes us
            self._log.debug("%s stopped: %s", self.what, exc)
            self.close()

    def _drained(self) -> None:
        """The queue is empty (every frame written)."""

    def close(self) -> None:
        self.closed = True
        self._queue.clear()
        self._wake.set()


class Viewer(Outbox):
    """One browser connection: what it watches, and its bounded queue of frames to send."""

    what = "viewer"

    def __init__(self, hub: Hub, write: Callable[[bytes], Awaitable[None]], limit: int):
        self.hub = hub
        self.width: int | None = None
        self.envs: dict[str, int] = {}  # env -> last seq queued for this viewer
        self._resync = False
        self.dropped = 0  # how many times the queue was dropped (tests and metrics)
        super().__init__(write, limit)

    def push(self, frame: bytes, env: str | None = None, seq: int | None = None) -> None:
        if self.closed:
            return
        if env is not None:
            if env not in self.envs or seq <= self.envs[env]:
                return
            self.envs[env] = seq
            if self._resync:  # the snapshot sent once the queue drains holds this change: no gap before it
                return
        if self._queued + len(frame) > self.limit and self._queue:
            self._queue.clear()
            self._queued = 0
            self._resync = True
            self.dropped += 1
            self._wake.set()
            return
        self._append(frame)

    def _drained(self) -> None:
        if self._resync:
            self._resync = False
            for env in list(self.envs):
                self.hub.send_snapshot(self, env)
            if self in self.hub.runs.viewers:  # the feed's frames dropped too: every row again
                self.hub.runs.send_full(self)

    def close(self) -> None:
        super().close()
        self.hub.viewers.discard(self)
        self.hub.runs.stop(self)
        self.hub.watch_changed()


class Hub:
    def __init__(self, store: Store, replay_buffer: int = 4096, viewer_queue: int = 32 << 20):
        self.store = store
        self.replay_buffer = replay_buffer
        self.viewer_queue = viewer_queue
        self.viewers: set[Viewer] = set()
        self.recent: dict[str, deque[tuple[int, bytes]]] = {}
        self._ring_bytes: dict[str, int] = {}
        self.published: dict[str, int] = dict(store.state.seqs)
        self._env_names = set(store.state.envs)
        self._counts = {name: len(e.windows) for name, e in store.state.envs.items()}  # as viewers last got them
        self._list_due: asyncio.TimerHandle | None = None
        store.listeners.append(self.publish)
        store.recovery_listeners.append(self.resync)
        self.runs = RunsFeed(store)  # the runs table's live rows, for the viewers that turn it on
        # told the envs viewers watch (and whether one follows every env: the runs table) when that changes:
        # a cluster node subscribes to just those envs' changes from the other nodes
        self.watchers: list[Callable[[set[str], bool], None]] = []
        self.extra_watched: Callable[[], set[str]] | None = None  # envs watched beside viewers' (downlinks')
        self._watched: tuple[set[str], bool] = (set(), False)

    def connect(self, write: Callable[[bytes], Awaitable[None]]) -> Viewer:
        viewer = Viewer(self, write, self.viewer_queue)
        self.viewers.add(viewer)
        viewer.push(packb(self.hello()))
        return viewer

    def hello(self) -> dict[str, Any]:
        return {"type": "hello", "version": __version__, "store": self.store.store_id, "envs": self.env_list()}

    def env_list(self) -> list[dict[str, Any]]:
        return self.store.state.summary()

    def publish(self, messages: list[dict]) -> None:
        """Send committed changes, in order, to every viewer of their env."""
        for message in messages:
            env, seq = message["env"], message["seq"]
            frame = packb(public_message(message))
            self._remember(env, seq, frame)
            self.published[env] = seq
            for viewer in self.viewers:
                if env in viewer.envs:
                    viewer.push(frame, env, seq)
        envs = self.store.state.envs
        names = set(envs)
        if names != self._env_names:
            self._env_names = names
            self._send_env_list()
        elif self._list_due is None and any(
            (e := envs.get(m["env"])) is not None and len(e.windows) != self._counts.get(m["env"]) for m in messages
        ):  # a window opened or closed: the pickers' counts follow, at most every ENV_LIST_EVERY seconds
            try:
                self._list_due = asyncio.get_running_loop().call_later(ENV_LIST_EVERY, self._send_env_list)
            except RuntimeError:  # published outside the event loop (a store used alone): at once
                self._send_env_list()

    def resync(self) -> None:
        """After the store read its state back from the database (a lost connection): changes committed
        then may never have been published, so the replay buffers cannot resume anyone, and every viewer
        gets a fresh snapshot of each env it watches (and the env list, and the runs table's rows)."""
        self.recent.clear()
        self._ring_bytes.clear()
        self.published = dict(self.store.state.seqs)
        self._env_names = set(self.store.state.envs)
        for viewer in list(self.viewers):
            for env in list(viewer.envs):
                self.send_snapshot(viewer, env)
            if viewer in self.runs.viewers:
                self.runs.send_full(viewer)
        self._send_env_list()

    def _send_env_list(self) -> None:
        if self._list_due is not None:
            self._list_due.cancel()
            self._list_due = None
        summary = self.env_list()
        self._counts = {e["name"]: e["windows"] for e in summary}
        frame = packb({"type": "envs", "envs": summary})
        for viewer in self.viewers:
            viewer.push(frame)

    def _remember(self, env: str, seq: int, frame: bytes) -> None:
        """Keep recent frames for resuming viewers, bounded in count and bytes."""
        ring = self.recent.get(env)
        if ring is None:
            ring = self.recent[env] = deque()
            self._ring_bytes[env] = 0
        if len(frame) > RING_FRAME_LIMIT:
            ring.clear()
            self._ring_bytes[env] = 0
            return
        ring.append((seq, frame))
        self._ring_bytes[env] += len(frame)
        while len(ring) > self.replay_buffer or self._ring_bytes[env] > RING_BYTES:
            self._ring_bytes[env] -= len(ring.popleft()[1])

    def subscribe(self, viewer: Viewer, requests: list[dict[str, Any]], width: int | None) -> None:
        """Replace the viewer's envs; resume each from its seq, or send a snapshot."""
        viewer.width = width
        wanted = {r["env"]: r for r in requests}
        for env in list(viewer.envs):
            if env not in wanted:
                del viewer.envs[env]
        for env, request in wanted.items():
            since = request.get("seq")
            resumable = since is not None and request.get("store") == self.store.store_id
            if resumable and self._resume(viewer, env, since):
                continue
            self.send_snapshot(viewer, env)
        self.watch_changed()

    def watch_changed(self) -> None:
        if not self.watchers:
            return
        envs = set().union(*(v.envs for v in self.viewers))
        if self.extra_watched is not None:
            envs |= self.extra_watched()
        watched = (envs, bool(self.runs.viewers))
        if watched != self._watched:
            self._watched = watched
            for watcher in self.watchers:
                watcher(*watched)

    def _resume(self, viewer: Viewer, env: str, since: int) -> bool:
        published = self.published.get(env, 0)
        current = self.store.state.seqs.get(env, 0)
        if since > current:
            return False
        viewer.envs[env] = since
        if since >= published:
            return True
        ring = self.recent.get(env)
        if not ring or ring[0][0] > since + 1:
            del viewer.envs[env]
            return False
        for seq, frame in ring:
            if seq > since:
                viewer.push(frame, env, seq)
        return True

    def send_snapshot(self, viewer: Viewer, env: str) -> None:
        snapshot = self.store.state.snapshot(env, viewer.width)
        viewer.envs[env] = snapshot["seq"]
        viewer.push(packb(snapshot))

    def close(self) -> None:
        for viewer in list(self.viewers):
            viewer.close()
        self.runs.close()
