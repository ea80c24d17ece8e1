"""The runs feed: live run rows for the pages that show the runs table (docs/protocol.md, "Runs feed").

A page turns it on over its socket and gets every row at once; then, at most once per FEED_EVERY,
the rows of the envs that changed since the last frame and the names of those deleted. Changes are
marked as the store commits them (a set add per change), and rows are made only for marked envs, once
per tick: the same encoded frame goes to every viewer on the feed, through its bounded queue. A running
run that turns stale by time alone is found by a check over the envs last sent as running, made only
while some viewer is on the feed.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from livepanel.protocol import packb
from livepanel.server.runs import STALE_AFTER, row, status
from livepanel.server.store import Store
from livepanel.server.store.model import Env

if TYPE_CHECKING:
    from livepanel.server.hub import Viewer

FEED_EVERY = 1.0  # seconds between two frames of changed rows (and between checks for runs gone stale)
NO_ROW_CHANGE = ("layout", "mute", "opts")  # operations that change nothing a row shows


class RunsFeed:
    """The viewers on the feed, the envs changed since the last frame, and the timer of the next one."""

    def __init__(self, store: Store, stale_after: float = STALE_AFTER):
        self.store = store
        self.stale_after = stale_after
        self.viewers: set[Viewer] = set()
        self._dirty: set[str] = set()
        self._gone: set[str] = set()
        self._running: set[str] = set()  # envs some viewer may hold as running: checked for staleness
        # each env's last row by its seq (a row changes only with the env's seq, but for its status by time):
        # a full frame for another viewer makes rows only for the envs changed since
        self._rows: dict[str, tuple[int, dict[str, Any]]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self.frames = 0  # frames of changed rows sent (tests and metrics)
        store.listeners.append(self.changed)

    def start(self, viewer: Viewer) -> None:
        """Put a viewer on the feed (again): every row now, the changes from the next tick on."""
        self.viewers.add(viewer)
        self.send_full(viewer)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FEED_EVERY, self._tick)

    def send_full(self, viewer: Viewer) -> None:
        """Every env's row, to one viewer (on start, and after its queue was dropped)."""
        now = time.time()
        rows = [self._row(e, now, forget=False) for e in self.store.state.envs.values()]
        viewer.push(packb({"type": "runs", "full": True, "rows": rows}))

    def stop(self, viewer: Viewer) -> None:
        self.viewers.discard(viewer)
        if not self.viewers:
            self._reset()

    def changed(self, messages: list[dict]) -> None:
        """A store listener: mark the envs of committed changes (nothing to do while no one is on)."""
        if not self.viewers:
            return
        envs = self.store.state.envs
        for message in messages:
            name, kind = message["env"], message["op"]["op"]
            if kind in NO_ROW_CHANGE:
                continue
            if name in envs:
                self._dirty.add(name)
                self._gone.discard(name)
            else:  # deleted (by this change or a later one of the same commit)
                self._dirty.discard(name)
                self._gone.add(name)

    def _row(self, env: Env, now: float, forget: bool = True) -> dict[str, Any]:
        cached = self._rows.get(env.name)
        if cached is not None and cached[0] == env.seq:
            out = dict(cached[1], status=status(env, now, self.stale_after))
        else:
            out = row(env, now, self.stale_after)
            self._rows[env.name] = (env.seq, out)
        if out["status"] == "running":
            self._running.add(env.name)
        elif forget:  # a full frame to one viewer must not hide a change from the others
            self._running.discard(env.name)
        return out

    def _tick(self) -> None:
        self._timer = None
        self.viewers = {v for v in self.viewers if not v.closed}
        if not self.viewers:
            self._reset()
            return
        now = time.time()
        envs = self.store.state.envs
        for name in list(self._running):
            e = envs.get(name)
            if e is None:
                self._running.discard(name)
            elif status(e, now, self.stale_after) != "running":
                self._dirty.add(name)
        rows = [self._row(envs[name], now) for name in sorted(self._dirty) if name in envs]
        gone = sorted(self._gone - envs.keys())
        self._running.difference_update(gone)
        for name in gone:
            self._rows.pop(name, None)
        self._dirty.clear()
        self._gone.clear()
        if rows or gone:
            frame = packb({"type": "runs", "rows": rows, "gone": gone})
            self.frames += 1
            for viewer in self.viewers:
                viewer.push(frame)
        self._timer = asyncio.get_running_loop().call_later(FEED_EVERY, self._tick)

    def _reset(self) -> None:
        """No one is on: forget the marks (the next viewer starts from a full frame) and stop the timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._dirty.clear()
        self._gone.clear()
        self._running.clear()
        self._rows.clear()

    def close(self) -> None:
        self.viewers.clear()
        self._reset()
