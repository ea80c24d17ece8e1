"""The `plotly` window kind's figure: its schema check and its append rule.

A Plotly figure ({"data": [traces], "layout": {...}}) is stored and shown as it is, so the server checks
its shape and size only: maps with string keys, lists, strings, numbers, booleans, nil, and wire arrays
(numeric arrays travel as raw bytes inside the figure, as everywhere on the wire, and the page turns
them into typed arrays). Strings are user input: the page hands them to Plotly, which draws them as SVG
text (never HTML) and allows only its own few tags. Used by livepanel.protocol (validation) and by the
store (append); imports neither client nor server.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from livepanel import protocol

FIGURE_KEYS = ("data", "layout")
MAX_TRACES = 1000
MAX_FIGURE_DEPTH = 20  # maps and lists inside the figure (the batch around it adds 5, under MAX_DEPTH)
MAX_FIGURE_BYTES = 64 << 20  # array bytes + string characters + 8 per plain value, of the whole figure
MAX_FIGURE_ITEMS = 1_000_000  # plain values (numbers, strings, map entries): large data travels as arrays
MAX_KEY = 200  # characters of a map key
MAX_STRING = 1 << 20  # characters of one string
PLOTLY_UPDATES = ("replace", "append")


class _Budget:
    """What the walk has seen so far; refuses past the limits."""

    __slots__ = ("size", "items")

    def __init__(self) -> None:
        self.size = 0
        self.items = 0

    def add(self, size: int, items: int = 1) -> None:
        self.size += size
        self.items += items
        if self.size > MAX_FIGURE_BYTES:
            raise protocol.ProtocolError(f"plotly figure is larger than {MAX_FIGURE_BYTES >> 20} MiB")
        if self.items > MAX_FIGURE_ITEMS:
            raise protocol.ProtocolError(
                f"plotly figure holds more than {MAX_FIGURE_ITEMS} plain values; send long data as numeric arrays"
            )


def _walk(value: Any, where: str, depth: int, budget: _Budget) -> Any:
    """The value checked, with wire arrays as numpy."""
    t = type(value)
    if t is dict:
        if protocol._is_array(value):
            arr = protocol.decode_array(value, where)
            budget.add(arr.nbytes)
            return arr
        if depth >= MAX_FIGURE_DEPTH:
            raise protocol.ProtocolError(f"plotly figure nests maps and lists more than {MAX_FIGURE_DEPTH} deep")
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or len(k) > MAX_KEY:
                raise protocol.ProtocolError(
                    f"{where}: keys must be strings of at most {MAX_KEY} characters, got {protocol.quote(k, 50)}"
                )
            budget.add(len(k) + 8)
            out[k] = _walk(v, f"{where}.{k}" if len(where) < 200 else where, depth + 1, budget)
        return out
    if t is list:
        if depth >= MAX_FIGURE_DEPTH:
            raise protocol.ProtocolError(f"plotly figure nests maps and lists more than {MAX_FIGURE_DEPTH} deep")
        budget.add(8)
        inside = where + "[]" if len(where) < 200 else where
        return [_walk(v, inside, depth + 1, budget) for v in value]
    if t is str:
        if len(value) > MAX_STRING:
            raise protocol.ProtocolError(f"{where}: a string of {len(value)} characters; the limit is {MAX_STRING}")
        budget.add(len(value) + 8)
        return value
    if t is int:
        protocol.check_int(value, where)
        budget.add(8)
        return value
    if value is None or t is bool or t is float:
        budget.add(8)
        return value
    raise protocol.ProtocolError(
        f"{where}: a figure holds maps, lists, strings, numbers, booleans, nil and numeric arrays, "
        f"got {type(value).__name__}"
    )


def check_figure(figure: Any) -> dict[str, Any]:
    """A figure {"data": [trace maps], "layout": map}, within the limits; wire arrays become numpy."""
    if not isinstance(figure, dict):
        raise protocol.ProtocolError(f"plotly figure must be a map {{data, layout}}, got {type(figure).__name__}")
    extra = set(figure) - set(FIGURE_KEYS)
    if extra:
        raise protocol.ProtocolError(f"plotly figure: unknown field(s) {protocol._names(extra)}; expected data, layout")
    data = figure.get("data", [])
    if not isinstance(data, list) or not all(isinstance(t, dict) and not protocol._is_array(t) for t in data):
        raise protocol.ProtocolError("plotly figure data must be a list of trace maps")
    if len(data) > MAX_TRACES:
        raise protocol.ProtocolError(f"plotly figure has {len(data)} traces; the limit is {MAX_TRACES}")
    layout = figure.get("layout", {})
    if not isinstance(layout, dict) or protocol._is_array(layout):
        raise protocol.ProtocolError(f"plotly figure layout must be a map, got {type(layout).__name__}")
    budget = _Budget()
    return {"data": _walk(data, "plotly data", 1, budget), "layout": _walk(layout, "plotly layout", 1, budget)}


def check_op(op: dict, out: dict) -> None:
    """The fields of a `plotly` operation (protocol.validate_op): figure and update."""
    out["update"] = protocol.check_choice(op.get("update", "replace"), "plotly update", PLOTLY_UPDATES)
    out["figure"] = check_figure(protocol._require(op, "figure"))


# ---------------------------------------------------------------- append


def _extendable(v: Any) -> bool:
    return isinstance(v, list) or (isinstance(v, np.ndarray) and v.ndim == 1)


def _joined(old: Any, new: Any) -> Any:
    """Two 1-D sequences end to end: arrays stay arrays (of a common dtype), lists stay lists."""
    if isinstance(old, np.ndarray) or isinstance(new, np.ndarray):
        a, b = np.asarray(old), np.asarray(new)
        if a.dtype.kind in "fiub" and b.dtype.kind in "fiub" and a.ndim == b.ndim == 1:
            return np.concatenate([a, b])
        return list(a.tolist()) + list(b.tolist())
    return old + new


def _extended(trace: dict, more: dict) -> dict:
    """A trace with `more`'s sequences appended to its own (x, y, z, text, ...) and its other fields replaced;
    `marker`, `line` and similar maps are merged the same way one level down (per-point colours and sizes)."""
    out = dict(trace)
    for key, value in more.items():
        old = out.get(key)
        if _extendable(old) and _extendable(value):
            out[key] = _joined(old, value)
        elif isinstance(old, dict) and isinstance(value, dict):
            inner = {k: _joined(old[k], v) if _extendable(old.get(k)) and _extendable(v) else v
                     for k, v in value.items()}  # fmt: skip
            out[key] = {**old, **inner}
        else:
            out[key] = value
    return out


def appended(figure: dict, more: dict) -> dict:
    """Visdom's `update="append"` for a figure: each trace of `more` that has the `name` of a trace of
    `figure` extends it (its points are appended); the others are added as new traces; `more`'s layout
    keys replace the figure's. A new figure: the old one is left as it was (it may be in a message sent)."""
    data = list(figure.get("data", []))
    index = {t.get("name"): i for i, t in enumerate(data) if isinstance(t.get("name"), str)}
    for trace in more.get("data", []):
        at = index.get(trace.get("name")) if isinstance(trace.get("name"), str) else None
        if at is None:
            data.append(trace)
        else:
            data[at] = _extended(data[at], trace)
    if len(data) > MAX_TRACES:
        raise protocol.ProtocolError(f"plotly figure would have {len(data)} traces; the limit is {MAX_TRACES}")
    layout = {**figure.get("layout", {}), **more.get("layout", {})}
    result = {"data": data, "layout": layout}
    _walk_size(result)
    return result


def _walk_size(figure: dict) -> None:
    """Refuse a figure that an append made larger than the limits (arrays counted by bytes)."""
    budget = _Budget()
    stack: list[Any] = [figure]
    while stack:
        v = stack.pop()
        if isinstance(v, np.ndarray):
            budget.add(v.nbytes)
        elif isinstance(v, dict):
            budget.add(8 * len(v))
            stack.extend(v.values())
        elif isinstance(v, list):
            budget.add(8)
            stack.extend(v)
        elif isinstance(v, str):
            budget.add(len(v) + 8)
        else:
            budget.add(8)
