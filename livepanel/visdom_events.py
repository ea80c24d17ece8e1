"""Visdom's event handlers and properties panes on livepanel's downlink (used by livepanel/visdom.py).

Visdom calls `handler(event)` with a dict: `event_type` ("Click", "KeyPress", "PropertyUpdate"), `target` (the
window), `eid` (the env), `pane_data` (the window as Visdom's server holds it: `content`, `type`, `title`,
`id`) and per type the fields Visdom's page sends: `key` and `key_code` for a key press, `propertyId` and
`value` for a property (as Visdom's page sends them: a number or a select's index as text, "clicked" for a
button). A click on a plot has the data coordinates `x`, `y` and the nearest `point` (trace, index, x, y);
on an image, Visdom's `image_coord` too. Handlers match their window in any env this client wrote to.
"""

from __future__ import annotations

from typing import Any

from livepanel.client import Panel

# Visdom's property types; values as Visdom's page sends them
_AS_TEXT = ("number", "select")


def visdom_value(item: dict[str, Any]) -> Any:
    """A property's value in a PropertyUpdate, as Visdom's page sends it."""
    kind, value = item["type"], item.get("value")
    if kind == "button":
        return "clicked"
    if kind in _AS_TEXT and not isinstance(value, str):
        return str(value)
    return value


def visdom_event(event: dict[str, Any]) -> dict[str, Any]:
    """One of livepanel's events (livepanel/client/downlink.py) in Visdom's shape."""
    win, env = event["win"], event["env"]
    out: dict[str, Any] = {"target": win, "eid": env}
    kind = event["event"]
    if kind == "property":
        items = event["items"]
        out["pane_data"] = {"id": win, "type": "properties", "title": "", "content": items}
        out.update(event_type="PropertyUpdate", propertyId=event["id"], value=visdom_value(items[event["id"]]))
        return out
    pane = event.get("pane") or {}
    out["pane_data"] = {"id": win, "type": pane.get("kind", ""), "title": pane.get("title", ""),
                        "content": pane.get("content")}  # fmt: skip
    if kind == "key":
        out.update(event_type="KeyPress", key=event["key"], key_code=event["key_code"])
        for mod in ("alt", "ctrl", "shift", "meta"):
            out[mod + "_key"] = event.get(mod, False)
    else:
        out.update(event_type="Click", x=event.get("x"), y=event.get("y"), point=event.get("point"))
        if pane.get("kind") == "image":
            out["image_coord"] = {"x": event.get("x"), "y": event.get("y")}
    return out


class VisdomEvents:
    """`event_handlers` (target -> list of handlers, as Visdom keeps them) and the downlink under them."""

    def __init__(self, panel: Panel, env: str):
        self.panel, self.env = panel, env
        self.event_handlers: dict[str, list] = {}
        self._listening: set[tuple[str, str]] = set()

    def register(self, handler: Any, target: str) -> None:
        if not callable(handler):
            raise TypeError("Event handler must be a function")
        self.event_handlers.setdefault(target, []).append(handler)
        for env in {self.env, *self.panel._written}:  # the window may have been made in another env
            if (env, target) not in self._listening:
                self._listening.add((env, target))
                self.panel.on(target, self._dispatch, env=env)

    def clear(self, target: str) -> None:
        self.event_handlers[target] = []

    def _dispatch(self, event: dict[str, Any]) -> None:
        message = visdom_event(event)
        for handler in list(self.event_handlers.get(event["win"], [])):
            handler(message)  # an exception is logged by the downlink's handler thread


def pane_properties(panel: Panel, data: Any, win: str, env: str | None) -> str:
    """Visdom's `properties(data, win, env)`: a list of {type, name, value[, values]} as a properties pane."""
    if not isinstance(data, list):
        raise TypeError(f"properties: data must be a list of {{type, name, value}} dicts, got {type(data).__name__}")
    panel._pane_items(win, data, env)
    return win
