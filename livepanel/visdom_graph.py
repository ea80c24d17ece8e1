"""Visdom's `graph`: a network of nodes 0..n-1 and edges, drawn as a plotly window (panel.plotly).

Visdom lays graphs out with d3's forces in the page; here the nodes sit on a circle in order, which needs
no extra package (Visdom's own client needs networkx) and draws the same graph the same way every time.
Options: directed (arrows), showVertexLabels, showEdgeLabels, scheme ("same" or "different" colours),
width, height.
"""

from __future__ import annotations

import math
from typing import Any

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]
MAX_EDGES = 100_000


def _labels(labels: Any, n: int, what: str) -> list[str] | None:
    if labels is None:
        return None
    if isinstance(labels, str) or len(labels) != n:
        raise ValueError(f"visdom graph: {what} must be a list of {n} labels, got {labels!r:.80}")
    return [str(v) for v in labels]


def figure(edges: Any, edge_labels: Any = None, node_labels: Any = None, opts: dict | None = None) -> dict:
    """The plotly figure of a graph; raises ValueError on edges that are not pairs of node numbers 0..n-1."""
    opts = dict(opts or {})
    try:
        pairs = [(int(a), int(b)) for a, b in edges]
    except (TypeError, ValueError):
        raise ValueError("visdom graph: edges must be a list of (source, destination) node numbers") from None
    if not pairs or len(pairs) > MAX_EDGES:
        raise ValueError(f"visdom graph: give 1 to {MAX_EDGES} edges, got {len(pairs)}")
    nodes = sorted({v for p in pairs for v in p})
    if nodes != list(range(len(nodes))):
        missing = next(i for i, v in enumerate(nodes + [None]) if v != i)
        raise ValueError(f"visdom graph: nodes must be numbered 0 to n-1; node {missing} is missing")
    n = len(nodes)
    names = _labels(node_labels, n, "nodeLabels") or [str(i) for i in range(n)]
    edge_names = _labels(edge_labels, len(pairs), "edgeLabels")
    angle = [2 * math.pi * i / n for i in range(n)]
    xs, ys = [math.cos(a) for a in angle], [math.sin(a) for a in angle]
    ex: list[float | None] = []
    ey: list[float | None] = []
    for a, b in pairs:
        ex += [xs[a], xs[b], None]
        ey += [ys[a], ys[b], None]
    colors = [PALETTE[i % len(PALETTE)] for i in range(n)] if opts.get("scheme") == "different" else PALETTE[0]
    show_nodes = opts.get("showVertexLabels", True)
    data: list[dict[str, Any]] = [
        {"type": "scatter", "x": ex, "y": ey, "mode": "lines", "line": {"color": "#999", "width": 1},
         "hoverinfo": "none", "showlegend": False},
        {"type": "scatter", "x": xs, "y": ys, "mode": "markers+text" if show_nodes else "markers", "text": names,
         "textposition": "top center", "marker": {"size": 14, "color": colors}, "name": "nodes",
         "showlegend": False},
    ]  # fmt: skip
    if edge_names is not None and opts.get("showEdgeLabels", False):
        mx, my = [(xs[a] + xs[b]) / 2 for a, b in pairs], [(ys[a] + ys[b]) / 2 for a, b in pairs]
        data.append({"type": "scatter", "mode": "text", "text": edge_names, "showlegend": False, "x": mx, "y": my})
    axis = {"visible": False, "range": [-1.3, 1.3]}
    layout: dict[str, Any] = {"xaxis": dict(axis), "yaxis": dict(axis, scaleanchor="x"), "showlegend": False}
    if opts.get("directed"):
        layout["annotations"] = [
            {"x": xs[b], "y": ys[b], "ax": xs[a], "ay": ys[a], "xref": "x", "yref": "y", "axref": "x", "ayref": "y",
             "showarrow": True, "arrowhead": 2, "standoff": 8, "text": ""} for a, b in pairs
        ]  # fmt: skip
    if opts.get("title"):
        layout["title"] = {"text": str(opts["title"])}
    return {"data": data, "layout": layout}
