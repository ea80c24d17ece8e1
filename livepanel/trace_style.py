"""One trace's drawing style, as a window option keyed by the trace's name: ``"trace:<name>"``.

Why a key per trace: window options merge key by key (store and page alike), so a call that styles
trace "c" (Visdom's ``linecolor`` in an insert) leaves the styles of "a" and "b" as they are, with no
store rule of its own. The value is a small map, checked here for both the client and the server.
"""

from __future__ import annotations

from typing import Any

PREFIX = "trace:"
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
MAX_TEXT = 1000  # characters of one string
MAX_POINTS = 10000  # entries of a per-point list (marker colours, text labels)
MAX_KEYS = 1000  # "trace:" keys in one opts map
FIELDS = {
    "color": str,  # the line's colour (CSS)
    "markercolor": str,  # the markers' colour, when not the line's
    "dash": str,  # one of DASHES (another Plotly dash string draws solid)
    "markercolors": list,  # per point, from the trace's first point
    "text": list,  # per point labels, from the trace's first point
}


def is_key(key: Any) -> bool:
    return isinstance(key, str) and key.startswith(PREFIX)


def check(key: str, value: Any) -> None:
    """Raise ValueError naming what is wrong with one ``trace:<name>`` option (None removes it)."""
    name = key[len(PREFIX) :]
    if len(name) > 200:
        raise ValueError(f"option {key[:60]!r}: the trace name must be at most 200 characters")
    if value is None:
        return
    if not isinstance(value, dict):
        raise ValueError(f"option {key[:60]!r} must be a map of {', '.join(FIELDS)}, got {type(value).__name__}")
    for field, v in value.items():
        expected = FIELDS.get(field)
        if expected is None:
            raise ValueError(f"option {key[:60]!r}: unknown field {str(field)[:40]!r}; known: {', '.join(FIELDS)}")
        if not isinstance(v, expected):
            raise ValueError(f"option {key[:60]!r}: {field} must be a {expected.__name__}, got {type(v).__name__}")
        items = v if isinstance(v, list) else [v]
        if len(items) > MAX_POINTS:
            raise ValueError(f"option {key[:60]!r}: {field} has {len(items)} entries; the limit is {MAX_POINTS}")
        for s in items:
            if not isinstance(s, str) or len(s) > MAX_TEXT:
                raise ValueError(f"option {key[:60]!r}: {field} must hold strings of at most {MAX_TEXT} characters")


def count_keys(opts: dict) -> None:
    n = sum(1 for k in opts if is_key(k))
    if n > MAX_KEYS:
        raise ValueError(f"opts style {n} traces; the limit is {MAX_KEYS} in one map")


PER_POINT = ("markercolors", "text")


def appended(opts: dict, stored: dict, name: str, start: int) -> dict:
    """The options an append to trace `name` stores (State.apply): its per-point lists describe the points
    it appends, so they extend the trace's stored lists from point `start` (the trace's length before the
    append; points appended without one get "": the trace's colour, no label), up to MAX_POINTS entries.
    The per-point lists of other traces stay as stored (an append never shortens them), and the other fields
    an append gives replace those fields only (a label list does not take the trace's colour away). Why here
    and not in the client: only the store knows the trace's length and its lists when several clients append."""
    out = {}
    for key, value in opts.items():
        if not is_key(key) or not isinstance(value, dict):
            out[key] = value
            continue
        old = stored.get(key) if isinstance(stored.get(key), dict) else {}
        new = {f: v for f, v in {**old, **value}.items() if f not in PER_POINT}
        for field in PER_POINT:
            kept = old.get(field)
            if key[len(PREFIX) :] == name and field in value:
                before = (kept or [])[:start]
                kept = (before + [""] * (start - len(before)) + value[field])[:MAX_POINTS]
            if kept is not None:
                new[field] = kept
        out[key] = new
    return out
