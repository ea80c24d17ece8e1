"""Plotly figures for Visdom's figure-like methods, built from Visdom's arguments and options.

Pure functions (numpy in, a figure dict {"data": [...], "layout": {...}} out) that follow what Visdom's own
client builds in `visdom/__init__.py` (fossasia/visdom, Apache-2.0): stem, pie, boxplot, quiver, mesh,
surf, contour, sunburst, dual_axis_lines and 3-D scatter. livepanel.visdom sends them with
`Panel.plotly`, so they are stored and drawn as a plotly window. Numeric data stays numpy (it travels as
raw bytes); the window's title goes to the window's header (its `title` option), as Visdom shows it.
Differences from Visdom are said where they are.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np


def array(x: Any) -> np.ndarray:
    """numpy, torch (detached, on the host), lists."""
    if type(x).__module__.startswith("torch"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _floats(x: Any) -> np.ndarray:
    return array(x).astype(np.float64)


def _axis(prefix: str, opts: dict) -> dict | None:
    """Visdom's `_axisformat`: <x|y|z>label, type, tickmin/tickmax, tickvals, ticklabels, tickstep, tick, tickfont."""
    fields = ("type", "label", "tickmin", "tickmax", "tickvals", "ticklabels", "tick", "tickfont", "tickstep")
    if not any(opts.get(prefix + f) is not None for f in fields):
        return None
    lo, hi = opts.get(prefix + "tickmin"), opts.get(prefix + "tickmax")
    out = {
        "type": opts.get(prefix + "type"),
        "title": {"text": str(opts[prefix + "label"])} if opts.get(prefix + "label") is not None else None,
        "range": [lo, hi] if lo is not None and hi is not None else None,
        "tickvals": _plain(opts.get(prefix + "tickvals")),
        "ticktext": _plain(opts.get(prefix + "ticklabels")),
        "dtick": opts.get(prefix + "tickstep"),
        "showticklabels": opts.get(prefix + "tick"),
        "tickfont": opts.get(prefix + "tickfont"),
    }
    return {k: v for k, v in out.items() if v is not None}


def _plain(v: Any) -> Any:
    return array(v).tolist() if isinstance(v, np.ndarray) or type(v).__module__.startswith("torch") else v


def layout(opts: dict | None, is3d: bool = False) -> dict[str, Any]:
    """Visdom's `_opts2layout`: legend, margins, axes (a 3-D scene's for surfaces), barmode, and
    `layoutopts={"plotly": {...}}` merged last. The title is the window's (its header), not repeated here."""
    opts = opts or {}
    out: dict[str, Any] = {
        "showlegend": bool(opts.get("showlegend", "legend" in opts)),
        "margin": {
            "l": opts.get("marginleft", 0 if is3d else 60),
            "r": opts.get("marginright", 60),
            "t": opts.get("margintop", 20 if is3d else 30),
            "b": opts.get("marginbottom", 0 if is3d else 60),
        },
    }
    if is3d:
        scene = {f"{a}axis": ax for a in "xyz" if (ax := _axis(a, opts)) is not None}
        if scene:
            out["scene"] = scene
    else:
        for a in "xy":
            ax = _axis(a, opts)
            if ax is not None:
                out[f"{a}axis"] = ax
    if opts.get("stacked"):
        out["barmode"] = "stack"
    extra = opts.get("layoutopts")
    if isinstance(extra, dict) and isinstance(extra.get("plotly"), dict):
        out.update(extra["plotly"])
    return out


def _trace_opts(opts: dict, name: str) -> dict:
    """Visdom's `traceopts={"plotly": {trace name: {...}}}`: Plotly attributes per trace."""
    extra = (opts.get("traceopts") or {}).get("plotly") or {}
    return extra.get(name, {}) if isinstance(extra, dict) else {}


def figure(data: list[dict], opts: dict | None, is3d: bool = False) -> dict[str, Any]:
    return {"data": data, "layout": layout(opts, is3d)}


# ---------------------------------------------------------------- lines and points


def stem(X: Any, Y: Any = None, opts: dict | None = None) -> dict[str, Any]:
    """Stems: X of shape (N,) or (N, M) (M series), Y the N timestamps (or (N, M)); one trace per series,
    named by `legend` (Visdom's colormap option is accepted and not used: Plotly's palette colours them)."""
    opts = dict(opts or {})
    x = np.squeeze(_floats(X))
    if x.ndim not in (1, 2):
        raise ValueError(f"visdom stem: X should be one or two-dimensional, got shape {x.shape}")
    x = x[:, None] if x.ndim == 1 else x
    t = np.arange(1, x.shape[0] + 1, dtype=np.float64) if Y is None else _floats(Y)
    t = t[:, None] if t.ndim == 1 else t
    if t.shape[0] != x.shape[0] or t.shape[1] not in (1, x.shape[1]):
        raise ValueError(f"visdom stem: Y of shape {t.shape} does not match X of shape {x.shape}")
    t = np.broadcast_to(t, x.shape)
    legend = list(opts.get("legend") or [])
    data = []
    for j in range(x.shape[1]):
        n = x.shape[0]
        xs = np.column_stack([t[:, j], t[:, j], np.full(n, np.nan)]).ravel()  # base, tip, gap
        ys = np.column_stack([np.zeros(n), x[:, j], np.full(n, np.nan)]).ravel()
        name = str(legend[j]) if j < len(legend) else str(j + 1)
        data.append({"type": "scatter", "mode": "lines", "x": xs, "y": ys, "name": name, **_trace_opts(opts, name)})
    return figure(data, opts)


def quiver(X: Any, Y: Any, gridX: Any = None, gridY: Any = None, opts: dict | None = None) -> dict[str, Any]:
    """Arrows of direction and length (X, Y) (both N x M) from a grid (gridX, gridY; default the integer
    grid); opts normalize (length of the longest arrow) and arrowheads (default true). As Visdom: one trace
    of line segments separated by gaps."""
    opts = dict(opts or {})
    dx, dy = _floats(X), _floats(Y)
    if dx.ndim != 2 or dx.shape != dy.shape:
        raise ValueError(f"visdom quiver: X and Y must be 2-D of the same shape, got {dx.shape} and {dy.shape}")
    n, m = dx.shape
    gx = np.broadcast_to(np.arange(n, dtype=np.float64)[:, None], (n, m)) if gridX is None else _floats(gridX)
    gy = np.broadcast_to(np.arange(m, dtype=np.float64)[None, :], (n, m)) if gridY is None else _floats(gridY)
    if gx.shape != dx.shape or gy.shape != dy.shape:
        raise ValueError("visdom quiver: gridX and gridY must have the shape of X and Y")
    norm = opts.get("normalize")
    if norm:
        if not isinstance(norm, numbers.Number) or norm <= 0:
            raise ValueError(f"visdom quiver: opts normalize must be a positive number, got {norm!r}")
        longest = float(np.sqrt(dx * dx + dy * dy).max())
        if longest > 0:
            dx, dy = dx * (norm / longest), dy * (norm / longest)
    tx, ty = gx + dx, gy + dy
    gap = np.full(n * m, np.nan)
    xs = [np.column_stack([gx.ravel(), tx.ravel(), gap]).ravel()]
    ys = [np.column_stack([gy.ravel(), ty.ravel(), gap]).ravel()]
    if opts.get("arrowheads", True):
        alpha, beta = 0.33, 0.33  # Visdom's head length and width, relative to the arrow
        xb, yb = (dx + 1e-5) * beta, (dy + 1e-5) * beta
        lx, rx = tx - alpha * (dx + yb), tx - alpha * (dx - yb)
        ly, ry = ty - alpha * (dy - xb), ty - alpha * (dy + xb)
        xs.append(np.column_stack([lx.ravel(), tx.ravel(), rx.ravel(), gap]).ravel())
        ys.append(np.column_stack([ly.ravel(), ty.ravel(), ry.ravel(), gap]).ravel())
    trace = {"type": "scatter", "mode": "lines", "x": np.concatenate(xs), "y": np.concatenate(ys), "name": "1"}
    return figure([trace], opts)


_SYMBOLS_3D = {"dot": "circle", "circle-open": "circle-open", "square": "square", "diamond": "diamond", "x": "x"}


def _marker_colors(mc: Any, labels: np.ndarray, k: int) -> list[Any] | None:
    """Visdom's `markercolor`: per label (K) or per point (N), as intensities (N,) or RGB rows (N, 3) of 0-255."""
    if mc is None:
        return None
    c = _floats(mc)
    n = len(labels)
    if c.shape[0] not in (k, n) or c.ndim not in (1, 2) or (c.ndim == 2 and c.shape[1] != 3):
        raise ValueError(f"visdom scatter: markercolor must have {n} or {k} rows (of 1 or 3 values), got {c.shape}")
    if np.any(c < 0) or np.any(c > 255):
        raise ValueError("visdom scatter: marker colors have to be from 0 to 255")
    c = c.astype(np.uint8)
    colors = (
        [f"rgba(0, 0, 255, {v / 255.0})" for v in c] if c.ndim == 1 else [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in c]
    )
    if c.shape[0] != n:
        colors = [colors[int(lab) - 1] for lab in labels]
    return colors


def scatter3d(X: Any, Y: Any = None, opts: dict | None = None, name: str | None = None) -> dict[str, Any]:
    """Points in 3-D: X of shape (N, 3); Y optional labels 1..K (one trace each, named by `legend`);
    opts markersize, markersymbol, markercolor, markerborderwidth, textlabels, legend."""
    opts = dict(opts or {})
    xyz = _floats(X)
    if xyz.ndim != 2 or xyz.shape[1] != 3:
        raise ValueError(f"visdom scatter: a 3-D scatter needs X of shape (N, 3), got {xyz.shape}")
    labels = np.ones(len(xyz), dtype=np.int64) if Y is None else array(Y).ravel()
    if len(labels) != len(xyz):
        raise ValueError(f"visdom scatter: Y must hold one label per point ({len(xyz)}), got {len(labels)}")
    if len(labels) and (np.any(np.mod(labels, 1) != 0) or labels.min() < 1):
        raise ValueError("visdom scatter: labels must be integers from 1")
    labels = labels.astype(np.int64)
    k = int(labels.max()) if len(labels) else 1
    legend = list(opts.get("legend") or [])
    if legend and len(legend) < k:
        raise ValueError(f"visdom scatter: the largest label ({k}) is greater than the legend's size ({len(legend)})")
    text = None if opts.get("textlabels") is None else [str(v) for v in np.ravel(opts["textlabels"]).tolist()]
    colors = _marker_colors(opts.get("markercolor"), labels, k)
    symbol = str(opts.get("markersymbol", "dot"))
    data = []
    for lab in np.unique(labels):
        mask = labels == lab
        trace_name = str(legend[lab - 1]) if legend else (name if name is not None and k == 1 else str(lab))
        marker: dict[str, Any] = {
            "size": opts.get("markersize", 10) / 2,  # Plotly's 3-D markers are twice as large as 2-D ones
            "symbol": _SYMBOLS_3D.get(symbol, symbol),
            "line": {"color": "#000000", "width": opts.get("markerborderwidth", 0.5)},
        }
        if colors is not None:
            marker["color"] = [c for c, m in zip(colors, mask, strict=True) if m]
        trace: dict[str, Any] = {
            "type": "scatter3d",
            "mode": opts.get("mode") or ("markers+text" if text else "markers"),
            "name": trace_name,
            "x": xyz[mask, 0],
            "y": xyz[mask, 1],
            "z": xyz[mask, 2],
            "marker": marker,
        }
        if text is not None:
            trace["text"] = [t for t, m in zip(text, mask, strict=True) if m]
        data.append({**trace, **_trace_opts(opts, trace_name)})
    return figure(data, opts, is3d=True)


def dual_axis_lines(X: Any, Y1: Any, Y2: Any, opts: dict | None = None) -> dict[str, Any]:
    """Two lines on one x with a y axis each; Visdom's opts name_y1, name_y2, color_title_y1/y2,
    color_tick_y1/y2, side, showlegend, top, bottom, left, right (height and width size the window)."""
    opts = dict(opts or {})
    x, y1, y2 = _floats(X).ravel(), _floats(Y1).ravel(), _floats(Y2).ravel()
    if not len(x) == len(y1) == len(y2):
        raise ValueError(
            f"visdom dual_axis_lines: X, Y1 and Y2 must have one length, got {len(x)}, {len(y1)}, {len(y2)}"
        )
    n1, n2 = str(opts.get("name_y1", "Y1 axis")), str(opts.get("name_y2", "Y2 axis"))
    data = [
        {"type": "scatter", "x": x, "y": y1, "name": n1},
        {"type": "scatter", "x": x, "y": y2, "name": n2, "yaxis": "y2"},
    ]
    c2 = "rgb(148, 103, 189)"
    out = {
        "yaxis": {
            "title": {"text": n1, "font": {"color": opts.get("color_title_y1", "black")}},
            "tickfont": {"color": opts.get("color_tick_y1", "black")},
        },
        "yaxis2": {
            "title": {"text": n2, "font": {"color": opts.get("color_title_y2", c2)}},
            "tickfont": {"color": opts.get("color_tick_y2", c2)},
            "overlaying": "y",
            "side": opts.get("side", "right"),
        },
        "showlegend": bool(opts.get("showlegend", True)),
        "margin": {k: opts.get(v, 60) for k, v in (("b", "bottom"), ("r", "right"), ("t", "top"), ("l", "left"))},
    }
    return {"data": data, "layout": out}


# ---------------------------------------------------------------- shapes and surfaces


def pie(X: Any, opts: dict | None = None) -> dict[str, Any]:
    """A pie of the N non-negative values X; `legend` names the slices."""
    opts = dict(opts or {})
    x = np.squeeze(_floats(X))
    if x.ndim != 1:
        raise ValueError(f"visdom pie: X should be one-dimensional, got shape {x.shape}")
    if np.any(x < 0):
        raise ValueError("visdom pie: X cannot contain negative values")
    trace: dict[str, Any] = {"type": "pie", "values": x}
    if opts.get("legend") is not None:
        trace["labels"] = [str(v) for v in opts["legend"]]
    return figure([trace], opts)


def boxplot(X: Any, opts: dict | None = None) -> dict[str, Any]:
    """Box plots of each column of X ((N,) or (N, M)); `legend` names the columns ("column k" by default)."""
    opts = dict(opts or {})
    x = np.squeeze(_floats(X))
    if x.ndim not in (1, 2):
        raise ValueError(f"visdom boxplot: X should be one or two-dimensional, got shape {x.shape}")
    x = x[:, None] if x.ndim == 1 else x
    legend = opts.get("legend")
    if legend is not None and len(legend) != x.shape[1]:
        raise ValueError(f"visdom boxplot: {len(legend)} legend names for {x.shape[1]} columns")
    data = []
    for j in range(x.shape[1]):
        name = str(legend[j]) if legend else f"column {j}"
        data.append({"type": "box", "y": np.ascontiguousarray(x[:, j]), "name": name, **_trace_opts(opts, name)})
    return figure(data, opts)


def surface(X: Any, stype: str, opts: dict | None = None) -> dict[str, Any]:
    """`surf` (stype "surface", 3-D) and `contour` (2-D) of the N x M matrix X; opts colormap (default
    Viridis), xmin and xmax (the colour range; default the data's)."""
    opts = dict(opts or {})
    z = np.squeeze(_floats(X))
    if z.ndim != 2:
        raise ValueError(
            f"visdom {'surf' if stype == 'surface' else stype}: X should be two-dimensional, got {z.shape}"
        )
    finite = z[np.isfinite(z)]
    lo = float(opts.get("xmin", finite.min() if finite.size else 0.0))
    hi = float(opts.get("xmax", finite.max() if finite.size else 1.0))
    trace = {"type": stype, "z": z, "cmin": lo, "cmax": hi, "colorscale": str(opts.get("colormap", "Viridis"))}
    if stype == "contour":  # a contour's colour range is zmin/zmax in Plotly (Visdom's cmin is ignored there)
        trace.update(zmin=lo, zmax=hi)
    return figure([trace], opts, is3d=stype == "surface")


def mesh(X: Any, Y: Any = None, opts: dict | None = None) -> dict[str, Any]:
    """A mesh of the vertices X (N x 3) and triangles Y (M x 3 vertex indices; without Y, Plotly's Delaunay
    triangulation of the points); opts color and opacity. A 2-D mesh (N x 2, polygons M x 2 or more
    columns) is drawn as filled polygons (Visdom's type "mesh" is no Plotly type and draws nothing)."""
    opts = dict(opts or {})
    v = _floats(X)
    if v.ndim != 2 or v.shape[1] not in (2, 3):
        raise ValueError(f"visdom mesh: X must have 2 or 3 columns, got shape {v.shape}")
    f = None if Y is None else array(Y).astype(np.int64)
    if f is not None and (f.ndim != 2 or f.shape[1] != v.shape[1]):
        raise ValueError(f"visdom mesh: Y must have the columns of X ({v.shape[1]}), got shape {f.shape}")
    if f is not None and len(f) and (f.min() < 0 or f.max() >= len(v)):
        raise ValueError(f"visdom mesh: Y holds vertex indices from 0 to {len(v) - 1}")
    if v.shape[1] == 3:
        trace: dict[str, Any] = {"type": "mesh3d", "x": v[:, 0], "y": v[:, 1], "z": v[:, 2]}
        if f is not None:
            trace.update(
                i=np.ascontiguousarray(f[:, 0]), j=np.ascontiguousarray(f[:, 1]), k=np.ascontiguousarray(f[:, 2])
            )
        if opts.get("color") is not None:
            trace["color"] = str(opts["color"])
        if opts.get("opacity") is not None:
            trace["opacity"] = float(opts["opacity"])
        return figure([trace], opts, is3d=True)
    polys = f if f is not None else np.arange(len(v))[None, :]
    xs_parts: list[np.ndarray] = []
    ys_parts: list[np.ndarray] = []
    gap = np.array([np.nan])
    for p in polys:  # each polygon closed, then a gap
        ring = np.append(p, p[0])
        xs_parts += [v[ring, 0], gap]
        ys_parts += [v[ring, 1], gap]
    xs = np.concatenate(xs_parts) if xs_parts else np.zeros(0)
    ys = np.concatenate(ys_parts) if ys_parts else np.zeros(0)
    color = str(opts.get("color", "#1f77b4"))
    trace = {"type": "scatter", "mode": "lines", "x": xs, "y": ys, "fill": "toself", "line": {"color": color}}
    if opts.get("opacity") is not None:
        trace["opacity"] = float(opts["opacity"])
    return figure([trace], opts)


def sunburst(labels: Any, parents: Any, values: Any = None, opts: dict | None = None) -> dict[str, Any]:
    """A sunburst of labels and their parents ("" for the root), with optional values; Visdom's opts
    size and font_color (outside text), opacity (of the leaves), marker_width (of the lines)."""
    opts = dict(opts or {})
    lab = [str(v) for v in array(labels).ravel().tolist()]
    par = [str(v) for v in array(parents).ravel().tolist()]
    if len(lab) != len(par):
        raise ValueError(f"visdom sunburst: {len(lab)} labels but {len(par)} parents")
    trace: dict[str, Any] = {"type": "sunburst", "labels": lab, "parents": par}
    font = {k: opts[o] for k, o in (("size", "size"), ("color", "font_color")) if opts.get(o) is not None}
    if font:
        trace["outsidetextfont"] = font
    if opts.get("opacity") is not None:
        trace["leaf"] = {"opacity": float(opts["opacity"])}
    if opts.get("marker_width") is not None:
        trace["marker"] = {"line": {"width": float(opts["marker_width"])}}
    if values is not None:
        vals = np.squeeze(_floats(values))
        if vals.ndim != 1 or len(vals) != len(lab):
            raise ValueError(f"visdom sunburst: values must hold one number per label ({len(lab)})")
        trace["values"] = vals
    return figure([trace], opts)


def plotly_title(fig: dict) -> str | None:
    """The title of a figure's layout (`title` or `title.text`), for the window's header as Visdom does."""
    title = (fig.get("layout") or {}).get("title")
    if isinstance(title, dict):
        title = title.get("text")
    return str(title) if title else None
