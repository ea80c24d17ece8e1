"""Properties panes: the items of a pane and the check of a viewer's edit (docs/protocol.md, "Properties").

Shared by the protocol (the `properties` and `property` ops), the store (applying an edit) and the client
(building a pane from a dict). Items use Visdom's form, a list of maps `{type, name, value}` with `values`
for a select (its value is the index of the chosen entry), plus `min`, `max`, `step` for numbers and
sliders, and `presses` for a button (its value is its label; a press counts). Imports nothing of ours
but the protocol's errors, so protocol.py can import it.
"""

from __future__ import annotations

import math
from typing import Any

TYPES = ("text", "number", "slider", "checkbox", "select", "button")
MAX_ITEMS = 100  # items in one pane
MAX_VALUES = 100  # entries of a select
MAX_ITEM_TEXT = 1000  # characters of a text value, a label, a select entry
MAX_NAME = 200
MAX_PANE = 64  # characters of a pane id (chosen by the client that made the pane)
_ITEM_FIELDS = {"type", "name", "value", "values", "min", "max", "step", "presses"}


class PropertyError(ValueError):
    """A pane or an edit that does not fit; protocol.py turns it into a ProtocolError."""


def _quote(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and abs(v) < 2**63


def _text(v: Any, what: str) -> str:
    if not isinstance(v, str) or len(v) > MAX_ITEM_TEXT:
        raise PropertyError(f"{what} must be a string of at most {MAX_ITEM_TEXT} characters, got {_quote(v)}")
    return v


def check_items(items: Any) -> list[dict[str, Any]]:
    """A pane's items, checked; a select's value as an int index; a button's presses (0 by default)."""
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise PropertyError(f"properties must be a list of up to {MAX_ITEMS} items {{type, name, value}}")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise PropertyError(f"property {i} must be a map {{type, name, value}}, got {_quote(item)}")
        extra = set(item) - _ITEM_FIELDS
        if extra:
            raise PropertyError(f"property {i}: unknown field(s) {', '.join(sorted(map(str, extra)))}")
        kind = item.get("type")
        if kind not in TYPES:
            raise PropertyError(f"property {i}: type must be one of {', '.join(TYPES)}, got {_quote(kind)}")
        name = item.get("name", "")
        if not isinstance(name, str) or len(name) > MAX_NAME or not name.isprintable():
            raise PropertyError(f"property {i}: name must be printable text of at most {MAX_NAME} characters")
        clean: dict[str, Any] = {"type": kind, "name": name}
        for bound in ("min", "max", "step"):
            if item.get(bound) is not None:
                if kind not in ("number", "slider") or not _number(item[bound]):
                    raise PropertyError(f"property {i} ({name!r}): {bound} is a finite number of a number or slider")
                clean[bound] = item[bound]
        if kind == "slider":
            clean.setdefault("min", 0)
            clean.setdefault("max", 1)
            if clean["min"] >= clean["max"]:
                raise PropertyError(f"property {i} ({name!r}): slider min must be below max")
        if kind == "select":
            values = item.get("values")
            if not isinstance(values, list) or not 0 < len(values) <= MAX_VALUES:
                raise PropertyError(f"property {i} ({name!r}): a select needs values, a list of 1 to {MAX_VALUES}")
            clean["values"] = [_text(v, f"property {i} ({name!r}): a select entry") for v in values]
        elif "values" in item:
            raise PropertyError(f"property {i} ({name!r}): only a select has values")
        value = item.get("value")
        if kind == "number" and isinstance(value, str):  # Visdom keeps numbers as the text typed
            try:
                float(value)
            except ValueError:
                raise PropertyError(f"property {i} ({name!r}): {_quote(value)} is not a number") from None
            clean["value"] = _text(value, f"property {i} ({name!r}) value")
        elif kind == "button":
            clean["value"] = _text("" if value is None else value, f"property {i} ({name!r}): a button's label")
            presses = item.get("presses", 0)
            if not isinstance(presses, int) or isinstance(presses, bool) or not 0 <= presses < 2**62:
                raise PropertyError(f"property {i} ({name!r}): presses must be a count")
            clean["presses"] = presses
        else:
            try:
                clean["value"] = check_value(clean, value)
            except PropertyError as exc:
                raise PropertyError(f"property {i} ({name!r}): {exc}") from None
        if "presses" in item and kind != "button":
            raise PropertyError(f"property {i} ({name!r}): only a button has presses")
        out.append(clean)
    return out


def check_value(item: dict[str, Any], value: Any) -> Any:
    """A value a viewer (or a pane) gives an item, checked against its type and bounds; returned as stored."""
    kind = item["type"]
    if kind == "text":
        return _text(value, "a text value")
    if kind == "checkbox":
        if not isinstance(value, bool):
            raise PropertyError(f"a checkbox value must be true or false, got {_quote(value)}")
        return value
    if kind == "select":
        if isinstance(value, str) and value.isdigit() and len(value) < 6:  # Visdom sends the index as text
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < len(item["values"]):
            raise PropertyError(
                f"a select value must be the index of an entry, 0 to {len(item['values']) - 1}, got {_quote(value)}"
            )
        return value
    if kind in ("number", "slider"):
        if not _number(value):
            raise PropertyError(f"a {kind} value must be a finite number, got {_quote(value)}")
        lo, hi = item.get("min"), item.get("max")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise PropertyError(f"{value!r} is outside the {kind}'s range [{lo}, {hi}]")
        return value
    raise PropertyError(f"a {kind} has no value to set")  # a button is pressed, not set


def edited(items: list[dict[str, Any]], index: Any, value: Any) -> list[dict[str, Any]]:
    """The items after a viewer's edit of item `index` (a new list; the old one may be in messages sent):
    a button press counts one more; any other item takes the checked value."""
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(items):
        raise PropertyError(f"the pane has no property {_quote(index)} (it has {len(items)}, from 0)")
    item = items[index]
    if item["type"] == "button":
        new = dict(item, presses=item.get("presses", 0) + 1)
    else:
        new = dict(item, value=check_value(item, value))
    return [new if i == index else it for i, it in enumerate(items)]


def reading(item: dict[str, Any]) -> Any:
    """What an item reads as (a writer's `props[name]`, an export): its value; a select's chosen entry;
    a button's press count."""
    if item["type"] == "select":
        values, i = item.get("values") or [], item.get("value")
        return values[i] if isinstance(i, int) and 0 <= i < len(values) else None
    if item["type"] == "button":
        return item.get("presses", 0)
    return item.get("value")


def check_pane(pane: Any) -> str:
    if not isinstance(pane, str) or len(pane) > MAX_PANE or not pane.isprintable():
        raise PropertyError(f"pane must be an id of at most {MAX_PANE} printable characters, got {_quote(pane)}")
    return pane
