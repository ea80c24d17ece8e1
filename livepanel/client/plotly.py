"""`Panel.plotly`: a Plotly figure (a dict, or anything with `to_plotly_json()` such as a
`plotly.graph_objects.Figure`) sent as it is to a window of kind `plotly`.

plotly itself is never imported: a figure object is recognised by its `to_plotly_json` method. The figure
is copied in the call (so later changes by the caller do not show), numeric numpy arrays stay arrays (they
travel as raw bytes, and the page hands them to Plotly as typed arrays), and every other value becomes
what msgpack carries: tuples become lists, numpy scalars numbers, dates ISO strings.
"""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import numpy as np

from livepanel import plotly_figure
from livepanel.client import checks, convert

_NUMBER_KINDS = "biuf"


def as_dict(fig: Any) -> dict[str, Any]:
    """The figure as a plain dict {data, layout}: a dict as it is, or `fig.to_plotly_json()` (duck-typed)."""
    if not isinstance(fig, dict):
        to_json = getattr(fig, "to_plotly_json", None) or getattr(fig, "to_dict", None)
        if not callable(to_json) or isinstance(fig, type):
            raise TypeError(
                "plotly(): expected a figure dict {'data': [...], 'layout': {...}} or a plotly Figure, "
                f"got {type(fig).__module__}.{type(fig).__name__}"
            )
        fig = to_json()
        if not isinstance(fig, dict):
            raise TypeError(f"plotly(): to_plotly_json() returned a {type(fig).__name__}, not a dict")
    extra = set(fig) - set(plotly_figure.FIGURE_KEYS)
    if extra:  # frames, config: not stored (a plotly Figure never has them in to_plotly_json)
        raise ValueError(f"plotly(): unknown figure key(s) {', '.join(sorted(map(str, extra)))}; expected data, layout")
    data = fig.get("data", [])
    if isinstance(data, tuple):
        data = list(data)
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise TypeError(f"plotly(): figure data must be a list of traces, got {type(data).__name__}")
    if len(data) > plotly_figure.MAX_TRACES:
        raise ValueError(f"plotly(): {len(data)} traces; the limit is {plotly_figure.MAX_TRACES}")
    layout = fig.get("layout") or {}
    if not isinstance(layout, dict):
        to_json = getattr(layout, "to_plotly_json", None)
        layout = to_json() if callable(to_json) else layout
    if not isinstance(layout, dict):
        raise TypeError(f"plotly(): figure layout must be a dict, got {type(layout).__name__}")
    traces = []
    for i, t in enumerate(data):
        if not isinstance(t, dict):
            to_json = getattr(t, "to_plotly_json", None)
            t = to_json() if callable(to_json) else t
        if not isinstance(t, dict):
            raise TypeError(f"plotly(): trace {i} must be a dict, got {type(t).__name__}")
        traces.append(t)
    return {"data": _plain(traces, "data", 0), "layout": _plain(layout, "layout", 0)}


def _plain(value: Any, where: str, depth: int) -> Any:
    """A copy of `value` msgpack can carry; numeric arrays as numpy arrays of a wire dtype."""
    if depth > plotly_figure.MAX_FIGURE_DEPTH:
        raise ValueError(f"plotly(): the figure nests more than {plotly_figure.MAX_FIGURE_DEPTH} deep at {where}")
    if value is None or isinstance(value, (bool, str, int, float)):
        if isinstance(value, float) or not isinstance(value, int) or isinstance(value, bool):
            return value
        return value if -(2**63) <= value < 2**63 else float(value)
    if isinstance(value, dict):
        return {str(k): _plain(v, f"{where}.{k}", depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        return _plain(value.item(), where, depth)
    if convert.is_torch(value):
        value = np.asarray(convert.finish_array(convert.snapshot(value, f"plotly {where}")))
    elif hasattr(value, "__array__") and not isinstance(value, np.ndarray):  # pandas, xarray, ...
        value = np.asarray(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind in _NUMBER_KINDS and 1 <= value.ndim <= 4 and value.dtype.itemsize <= 8:
            return np.array(convert.wire_dtype(value), copy=True)  # a copy: the caller may change theirs
        if value.ndim == 0:
            return _plain(value.item(), where, depth)
        return _plain(value.tolist(), where, depth)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    to_json = getattr(value, "to_plotly_json", None)
    if callable(to_json):
        return _plain(to_json(), where, depth)
    raise TypeError(f"plotly(): cannot send a {type(value).__name__} at {where}")


def plotly(
    panel: Any,
    fig: Any,
    win: str | None = None,
    env: str | None = None,
    opts: dict | None = None,
    update: str | None = None,
) -> str:
    """Queue a figure for window `win` (replace it, or `update="append"`: traces extend those of the same name)."""
    env, win, opts = panel._env(env), panel._win(win, "plotly"), checks.opts(opts)
    update = "replace" if update is None else update
    if update not in plotly_figure.PLOTLY_UPDATES:
        raise ValueError(f"plotly(): update must be one of {', '.join(plotly_figure.PLOTLY_UPDATES)}, got {update!r}")
    op: dict[str, Any] = {"op": "plotly", "env": env, "win": win, "figure": as_dict(fig), "update": update}
    if opts:
        op["opts"] = opts
    panel._push(op)
    return win
