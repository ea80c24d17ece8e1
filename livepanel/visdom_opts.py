"""Visdom's drawing options (line, scatter, bar) as livepanel window options.

Read from Visdom's client (fossasia/visdom, Apache-2.0: `_opts2layout`, `_markerColorCheck`,
`_lineColorCheck`, `_dashCheck` and the line/scatter code): window-wide options (ticks, margins,
markers, fill, legend) map to window options of the same meaning; per-trace ones (`linecolor`,
`dash`, `markercolor`, `textlabels`) become one ``trace:<name>`` option per trace they name, so an
insert styles its own trace only. Options without a meaning here are accepted and ignored
(listed in IGNORED and in docs/client.md).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from livepanel import trace_style

log = logging.getLogger("livepanel.visdom")

# same name, same meaning; the value's type is checked by the client's option checks
WINDOW = (
    "markersymbol", "fillarea", "showlegend", "xtick", "ytick", "xtickmin", "xtickmax", "xtickstep",
    "ytickmin", "ytickmax", "ytickstep", "xtickvals", "ytickvals", "marginleft", "marginright",
    "margintop", "marginbottom",
)  # fmt: skip
PER_TRACE = ("linecolor", "markercolor", "dash", "textlabels", "traceopts")
# accepted, drawn nowhere (why: docs/client.md)
IGNORED = ("markerborderwidth", "webgl", "mode", "color")
_AXIS = {"type": "type", "range": "range", "tickvals": "tickvals", "ticktext": "ticklabels", "dtick": "tickstep",
         "showticklabels": "tick", "tickfont": "tickfont", "title": "label"}  # fmt: skip
_MARGIN = {"l": "marginleft", "r": "marginright", "t": "margintop", "b": "marginbottom"}


def _plain(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, tuple):
        return list(v)
    return v


def window(key: str, value: Any, kind: str) -> dict[str, Any] | None:
    """Livepanel options for one window-wide Visdom option; None when `key` is not one of these."""
    value = _plain(value)
    if key in WINDOW:
        if key.startswith("margin"):
            return {key: int(value)}
        if key.endswith("tickfont"):
            return {}  # a dict: see below
        if key.endswith("tickvals"):
            return {key: [float(v) for v in value]}
        if key in ("xtickmin", "xtickmax", "xtickstep", "ytickmin", "ytickmax", "ytickstep"):
            return {key: float(value)}
        return {key: value}
    if key in ("xtickfont", "ytickfont"):
        size = value.get("size") if isinstance(value, dict) else value
        return {key: float(size)} if isinstance(size, (int, float)) and not isinstance(size, bool) else {}
    if key in ("xticklabels", "yticklabels"):
        return {key: [str(v) for v in value]}
    if key in PER_TRACE:
        return {}  # trace_styles
    if key == "markers":
        return {"markers": bool(value)} if kind != "scatter" else {}
    if key == "layoutopts":
        return layoutopts(value)
    if key in IGNORED:
        log.debug("visdom option %r is accepted and has no meaning here (docs/client.md)", key)
        return {}
    return None


def layoutopts(value: Any) -> dict[str, Any]:
    """What of `layoutopts={"plotly": {...}}` has a meaning here (axes, margins, legend); the rest is logged."""
    plotly = value.get("plotly") if isinstance(value, dict) else None
    out: dict[str, Any] = {}
    ignored: list[str] = []
    for key, v in (plotly or {}).items():
        if key in ("xaxis", "yaxis") and isinstance(v, dict):
            for k, item in v.items():
                name = _AXIS.get(k)
                if name == "type":
                    out[key[0] + "log"] = item == "log"
                elif name == "range" and isinstance(item, (list, tuple)) and len(item) == 2:
                    out[key[0] + "tickmin"], out[key[0] + "tickmax"] = float(item[0]), float(item[1])
                elif name == "label":
                    out[key[0] + "label"] = str(item.get("text", "") if isinstance(item, dict) else item)
                elif name is not None:
                    out.update(window(key[0] + name, item, "") or {})
                else:
                    ignored.append(f"{key}.{k}")
        elif key == "margin" and isinstance(v, dict):
            out.update({_MARGIN[k]: int(m) for k, m in v.items() if k in _MARGIN})
            ignored += [f"margin.{k}" for k in v if k not in _MARGIN]
        elif key == "showlegend":
            out["showlegend"] = bool(v)
        elif key == "title":
            out["title"] = str(v.get("text", "") if isinstance(v, dict) else v)
        elif key == "barmode":
            out["stacked"] = v == "stack"
        else:
            ignored.append(key)
    if ignored:
        log.debug("layoutopts without a livepanel meaning ignored: %s", ", ".join(ignored))
    return out


def defaults(kind: str, opts: dict | None, update: str | None) -> dict[str, Any]:
    """What Visdom draws when a new plot leaves it out: 10 px markers (scatter, or lines with markers), and no
    name under a line's x axis (its X is anything, not livepanel's steps)."""
    opts = opts or {}
    if update is not None:
        return {}
    out: dict[str, Any] = {"xlabel": ""} if kind == "line" and opts.get("xlabel") is None else {}
    if opts.get("markersize") is None and (kind == "scatter" or opts.get("markers")):
        out["markersize"] = 10.0
    return out


def _rgb(rows: np.ndarray, what: str) -> list[str]:
    """Visdom's colours: RGB rows of integers 0..255 (or CSS strings), one per trace or point."""
    if rows.dtype.kind in "US":
        return [str(c) for c in rows.ravel()]
    if not np.all(np.isfinite(rows)) or (rows < 0).any() or (rows > 255).any():
        raise ValueError(f"visdom {what}: colours must be integers from 0 to 255")
    if rows.ndim == 1:  # one number per row: its opacity, in blue (as Visdom draws it)
        return [f"rgba(0, 0, 255, {v / 255.0:.3g})" for v in rows]
    if rows.ndim != 2 or rows.shape[1] != 3:
        raise ValueError(f"visdom {what}: expected rows of 3 numbers (R, G, B), got shape {rows.shape}")
    return ["#{:02x}{:02x}{:02x}".format(*(int(v) for v in r)) for r in rows]


def trace_styles(opts: dict | None, names: list[str], member: np.ndarray | None) -> dict[str, Any]:
    """``trace:<name>`` options for the traces of one call.

    `names` are the call's traces (Visdom's K), `member` gives each point's trace index (None: the
    points of one trace). Per-point colours and labels are those of the call's points; in an append the
    store adds them after the trace's own (trace_style.appended)."""
    opts = opts or {}
    k = len(names)
    n = len(member) if member is not None else None
    styles: dict[str, dict[str, Any]] = {name: {} for name in names}

    lc = opts.get("linecolor")
    if lc is not None:
        colors = _rgb(np.asarray(_plain(lc)), "linecolor")
        if len(colors) != k:
            raise ValueError(f"visdom linecolor: expected {k} rows (one per trace), got {len(colors)}")
        for name, c in zip(names, colors, strict=True):
            styles[name]["color"] = c
    dash = opts.get("dash")
    if dash is not None:
        dashes = [str(d) for d in np.asarray(_plain(dash)).ravel()]
        if len(dashes) != k:
            raise ValueError(f"visdom dash: expected {k} entries (one per trace), got {len(dashes)}")
        for name, d in zip(names, dashes, strict=True):
            styles[name]["dash"] = d
    mc = opts.get("markercolor")
    if mc is not None:
        colors = _rgb(np.asarray(_plain(mc)), "markercolor")
        if n is not None and len(colors) == n:  # one per point (Visdom's first reading)
            for j, name in enumerate(names):
                styles[name]["markercolors"] = [c for c, m in zip(colors, member, strict=True) if m == j]
        elif len(colors) == k:
            for name, c in zip(names, colors, strict=True):
                styles[name]["markercolor"] = c
        else:
            raise ValueError(
                f"visdom markercolor: expected {k} rows (one per trace) or {n} (one per point), got {len(colors)}"
            )
    labels = opts.get("textlabels")
    if labels is not None:
        text = [str(v) for v in np.asarray(_plain(labels), dtype=object).ravel()]
        if n is not None and len(text) != n:
            raise ValueError(f"visdom textlabels: expected {n} labels (one per point), got {len(text)}")
        for j, name in enumerate(names):
            mine = text if member is None else [t for t, m in zip(text, member, strict=True) if m == j]
            styles[name]["text"] = mine
    plotly = (opts.get("traceopts") or {}).get("plotly") if isinstance(opts.get("traceopts"), dict) else None
    for name in names:  # Plotly trace overrides by name: the parts a trace style holds
        over = plotly.get(name) if isinstance(plotly, dict) else None
        if not isinstance(over, dict):
            continue
        line, marker = (over.get(k) if isinstance(over.get(k), dict) else {} for k in ("line", "marker"))
        parts = (("color", line.get("color")), ("dash", line.get("dash")), ("markercolor", marker.get("color")))
        for field, v in parts:
            if isinstance(v, str) and len(v) <= trace_style.MAX_TEXT:
                styles[name][field] = v
    out = {trace_style.PREFIX + name: s for name, s in styles.items() if s}
    for key, s in out.items():
        trace_style.check(key, s)
    return out
