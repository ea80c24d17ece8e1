"""Events and properties panes in the Panel API (a mixin of `Panel`): `on`, `off`, `properties`.

The first handler or pane opens the Panel's downlink (livepanel/client/downlink.py); nothing here runs on
the logging path: a pane is sent like any window, and its edits come back on the downlink's thread.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from livepanel.client import checks
from livepanel.client.downlink import Downlink, Handler, Properties, new_pane_id
from livepanel.properties import PropertyError, check_items

_NATIVE = {bool: "checkbox", int: "number", float: "number", str: "text"}


def pane_items(values: dict[str, Any]) -> list[dict[str, Any]]:
    """A pane's items from `{name: value}`: a bool is a checkbox, a number a number field, a string a text
    field; a dict gives the item in full: `{"type": "slider", "value": 0.1, "min": 0, "max": 1, "step": 0.01}`,
    `{"type": "select", "value": "adam", "values": ["adam", "sgd"]}`, `{"type": "button", "label": "Stop"}`."""
    if not isinstance(values, dict) or not values:
        raise TypeError(f"properties: expected a non-empty dict {{name: value}}, got {type(values).__name__}")
    items = []
    for name, v in values.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"properties: names must be non-empty strings, got {name!r:.100}")
        if isinstance(v, dict):
            item = dict(v)
            item.setdefault("name", name)
            if item.get("type") == "button" and "label" in item:
                item["value"] = item.pop("label")
            if (
                item.get("type") == "select"
                and isinstance(item.get("value"), str)
                and item["value"] in (item.get("values") or ())
            ):
                item["value"] = list(item["values"]).index(item["value"])
        elif type(v) in _NATIVE:
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"properties: {name!r} must be a finite number, got {v!r}")
            item = {"type": _NATIVE[type(v)], "name": name, "value": v}
        else:
            raise TypeError(
                f"properties: {name!r} must be a bool, a number, a string or a dict with a type, got {type(v).__name__}"
            )
        items.append(item)
    try:
        return check_items(items)
    except PropertyError as exc:
        raise ValueError(f"properties: {exc}") from None


class Interactive:
    """`on`, `off` and `properties` (mixed into Panel)."""

    url: str
    urls: tuple[str, ...]
    _token: str | None
    timeout: float
    _downlink: Downlink | None = None
    _downlink_lock = threading.Lock()  # only guards creating the one downlink of a Panel

    def _env(self, env: Any) -> str:
        raise NotImplementedError

    def _win(self, win: Any, default: str) -> str:
        raise NotImplementedError

    def _push(self, op: dict, finish: Any = None, key: tuple | None = None) -> None:
        raise NotImplementedError

    def _link(self) -> Downlink:
        with self._downlink_lock:
            if self._downlink is None:
                start = self.urls.index(self.url)  # the node the sender uses first, then the others in turn
                self._downlink = Downlink(list(self.urls[start:] + self.urls[:start]), self._token, self.timeout)
            return self._downlink

    def on(self, win: str, fn: Handler, env: str | None = None) -> None:
        """Call fn(event) for each click, key press (in a focused window) and properties edit in window `win`
        of a page, on a thread of the client (never the caller's), in order. Opens the downlink.
        Events are dicts: {"event": "click", "x", "y", "point": {"trace", "index", "x", "y"} or None, ...},
        {"event": "key", "key", "code", ...}, {"event": "property", "name", "value", ...} (docs/client.md)."""
        if not callable(fn):
            raise TypeError(f"on: expected a function taking one event dict, got {type(fn).__name__}")
        env, win = self._env(env), self._win(win, win)
        self._link().on(env, win, fn)

    def off(self, win: str, env: str | None = None) -> None:
        """Remove every handler of window `win` (the downlink stays open)."""
        env = self._env(env)
        checks.name(win, "window name")
        if self._downlink is not None:
            self._downlink.off(env, win)

    def properties(
        self, win: str, values: dict[str, Any], env: str | None = None, opts: dict | None = None
    ) -> Properties:
        """A properties pane in window `win` made from `{name: value}` (see pane_items); returns a live
        read-only mapping whose values change when a viewer edits them: read `props["lr"]` each step.
        Edits are stored by the server and shared by every viewer. Opens the downlink."""
        return self._pane_items(win, pane_items(values), env, opts)

    def _pane_items(self, win: str, items: list, env: str | None = None, opts: dict | None = None) -> Properties:
        """A pane from items in Visdom's form (livepanel/properties.py), checked here, sent like a window."""
        env, win, opts = self._env(env), self._win(win, win), checks.opts(opts)
        try:
            items = check_items(items)
        except PropertyError as exc:
            raise ValueError(f"properties: {exc}") from None
        pane = new_pane_id()
        props = Properties(env, win, items, pane)
        self._link().pane(props)
        op = {"op": "properties", "env": env, "win": win, "items": items, "pane": pane}
        if opts:
            op["opts"] = opts
        self._push(op)
        return props

    def _close_downlink(self) -> None:
        if self._downlink is not None:
            self._downlink.close()
