"""The `graph` window kind: a model's structure (nodes, edges, module hierarchy), its schema and limits.

A graph is one content per window (a new one replaces it), made by `Panel.graph` from a PyTorch module,
an ONNX model or a Keras model (livepanel/client/graph.py). Its form (docs/protocol.md, "Graph"):

    {"source": "fx" | "module_tree" | "onnx" | "keras", "name": str, "note": str (why this source),
     "nodes": [{"id", "name", "op", "module", "attrs": {str: scalar | list}, "params": [{"name", "shape",
                "count"}], "shape": [int] | None}],
     "edges": [{"from": id, "to": id, "shape": [int] | None, "order": bool}],
     "modules": [{"path", "type", "params"}]}

`module` is the dotted path of the module a node belongs to, as in PyTorch's `model.named_modules()` (""
for the model itself): it is what `watch()` names its per-layer traces by, so the page can shade a node
by its layer's statistics. `modules` lists the hierarchy (a module's parent is its path without the last
dotted part). An edge with `order` true stands for execution order where the data flow is unknown (a
module tree without an example input). Every string is user data: the page shows it as text only.
Used by livepanel.protocol (validation) and the client (checks before sending); imports neither.
"""

from __future__ import annotations

import math
from typing import Any

from livepanel import protocol

SOURCES = ("fx", "module_tree", "onnx", "keras")
MAX_NODES = 20_000
MAX_EDGES = 60_000
MAX_MODULES = 20_000
MAX_ATTRS = 32  # entries of one node's attributes
MAX_ATTR_LIST = 64  # entries of one list attribute
MAX_PARAMS = 64  # parameter entries of one node
MAX_DIMS = 8  # dimensions of a shape
MAX_TEXT = 200  # characters of an id, a name, an op, a module path, an attribute key or value
MAX_BYTES = 16 << 20  # estimated size of the whole graph (characters + 8 per value)
GRAPH_FIELDS = {"source", "name", "note", "nodes", "edges", "modules"}
NODE_FIELDS = {"id", "name", "op", "module", "attrs", "params", "shape"}
EDGE_FIELDS = {"from", "to", "shape", "order"}
MODULE_FIELDS = {"path", "type", "params"}


class GraphError(protocol.ProtocolError):
    """A graph that does not fit the schema or its limits; the text says what is wrong."""


class _Budget:
    __slots__ = ("size",)

    def __init__(self) -> None:
        self.size = 0

    def add(self, n: int) -> None:
        self.size += n
        if self.size > MAX_BYTES:
            raise GraphError(f"graph is larger than {MAX_BYTES >> 20} MiB; the nodes carry too many attributes")


def _text(value: Any, what: str, budget: _Budget, allow_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise GraphError(f"{what} must be a string, got {protocol.quote(value, 60)}")
    if len(value) > MAX_TEXT:
        raise GraphError(f"{what} is {len(value)} characters long; the limit is {MAX_TEXT}")
    if not value and not allow_empty:
        raise GraphError(f"{what} must not be empty")
    budget.add(len(value) + 8)
    return value


def _shape(value: Any, what: str, budget: _Budget) -> list[int] | None:
    """A tensor shape: up to MAX_DIMS integers (-1 for a dimension not known), or None."""
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) > MAX_DIMS
        or not all(type(d) is int and -1 <= d <= protocol.MAX_DIM for d in value)
    ):
        got = protocol.quote(value, 80)
        raise GraphError(f"{what} must be a list of up to {MAX_DIMS} sizes (integers, -1 unknown), got {got}")
    budget.add(8 * len(value) + 8)
    return value


def _scalar(value: Any, what: str, budget: _Budget) -> Any:
    if value is None or isinstance(value, bool):
        budget.add(8)
        return value
    if isinstance(value, int):
        protocol.check_int(value, what)
        budget.add(8)
        return value
    if isinstance(value, float):
        budget.add(8)
        return value if math.isfinite(value) else repr(value)  # JSON readers choke on NaN and inf
    if isinstance(value, str):
        return _text(value, what, budget)
    raise GraphError(f"{what} must be a number, a string, true, false or nil, got {protocol.quote(value, 60)}")


def _attrs(value: Any, what: str, budget: _Budget) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_ATTRS:
        raise GraphError(f"{what} must be a map of up to {MAX_ATTRS} names to values")
    out = {}
    for key, v in value.items():
        _text(key, f"{what}: a key", budget, allow_empty=False)
        if isinstance(v, list):
            if len(v) > MAX_ATTR_LIST:
                raise GraphError(f"{what} {protocol.quote(key, 50)} has {len(v)} entries; the limit is {MAX_ATTR_LIST}")
            out[key] = [_scalar(x, f"{what} {protocol.quote(key, 50)}", budget) for x in v]
        else:
            out[key] = _scalar(v, f"{what} {protocol.quote(key, 50)}", budget)
    return out


def _params(value: Any, what: str, budget: _Budget) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_PARAMS:
        raise GraphError(f"{what} must be a list of up to {MAX_PARAMS} parameters {{name, shape, count}}")
    out = []
    for p in value:
        if not isinstance(p, dict) or set(p) - {"name", "shape", "count"}:
            raise GraphError(f"{what}: a parameter must be a map {{name, shape, count}}, got {protocol.quote(p, 80)}")
        shape = _shape(p.get("shape"), f"{what} shape", budget)
        count = protocol.check_int(p.get("count", 0), f"{what} count", 0)
        out.append({"name": _text(p.get("name", ""), f"{what} name", budget), "shape": shape, "count": count})
    return out


def _list(graph: dict, key: str, limit: int) -> list:
    value = graph.get(key, [])
    if not isinstance(value, list):
        raise GraphError(f"graph {key} must be a list, got {type(value).__name__}")
    if len(value) > limit:
        raise GraphError(f"graph has {len(value)} {key}; the limit is {limit}")
    return value


def check_graph(graph: Any) -> dict[str, Any]:
    """A graph in the form above, within the limits (a new dict: unknown fields are refused, not dropped)."""
    if not isinstance(graph, dict):
        raise GraphError(f"graph must be a map {{source, name, nodes, edges, modules}}, got {type(graph).__name__}")
    extra = set(graph) - GRAPH_FIELDS
    if extra:
        raise GraphError(f"graph: unknown field(s) {protocol._names(extra)}")
    budget = _Budget()
    source = protocol.check_choice(graph.get("source"), "graph source", SOURCES)
    name = _text(graph.get("name", ""), "graph name", budget)
    note = graph.get("note", "")
    if not isinstance(note, str) or len(note) > protocol.MAX_OPTION_TEXT:
        raise GraphError(f"graph note must be a string of at most {protocol.MAX_OPTION_TEXT} characters")
    nodes, ids = [], set()
    for i, n in enumerate(_list(graph, "nodes", MAX_NODES)):
        what = f"graph node {i}"
        if not isinstance(n, dict):
            raise GraphError(f"{what} must be a map, got {type(n).__name__}")
        extra = set(n) - NODE_FIELDS
        if extra:
            raise GraphError(f"{what}: unknown field(s) {protocol._names(extra)}")
        nid = _text(n.get("id"), f"{what} id", budget, allow_empty=False)
        if nid in ids:
            raise GraphError(f"{what}: id {protocol.quote(nid, 60)} is used twice")
        ids.add(nid)
        nodes.append(
            {
                "id": nid,
                "name": _text(n.get("name", nid), f"{what} name", budget),
                "op": _text(n.get("op", ""), f"{what} op", budget),
                "module": _text(n.get("module", ""), f"{what} module", budget),
                "attrs": _attrs(n.get("attrs"), f"{what} attrs", budget),
                "params": _params(n.get("params"), f"{what} params", budget),
                "shape": _shape(n.get("shape"), f"{what} shape", budget),
            }
        )
    edges = []
    for i, e in enumerate(_list(graph, "edges", MAX_EDGES)):
        what = f"graph edge {i}"
        if not isinstance(e, dict) or set(e) - EDGE_FIELDS:
            raise GraphError(f"{what} must be a map {{from, to, shape, order}}, got {protocol.quote(e, 80)}")
        src, dst = e.get("from"), e.get("to")
        for end, v in (("from", src), ("to", dst)):
            if not isinstance(v, str) or v not in ids:
                raise GraphError(f"{what} {end} {protocol.quote(v, 60)} is not the id of a node")
        order = e.get("order", False)
        if not isinstance(order, bool):
            raise GraphError(f"{what} order must be true or false, got {protocol.quote(order)}")
        budget.add(len(src) + len(dst) + 16)
        edges.append({"from": src, "to": dst, "shape": _shape(e.get("shape"), f"{what} shape", budget), "order": order})
    modules, paths = [], set()
    for i, m in enumerate(_list(graph, "modules", MAX_MODULES)):
        what = f"graph module {i}"
        if not isinstance(m, dict) or set(m) - MODULE_FIELDS:
            raise GraphError(f"{what} must be a map {{path, type, params}}, got {protocol.quote(m, 80)}")
        path = _text(m.get("path", ""), f"{what} path", budget)
        if path in paths:
            raise GraphError(f"{what}: path {protocol.quote(path, 60)} is listed twice")
        paths.add(path)
        modules.append(
            {
                "path": path,
                "type": _text(m.get("type", ""), f"{what} type", budget),
                "params": protocol.check_int(m.get("params", 0), f"{what} params", 0),
            }
        )
    return {"source": source, "name": name, "note": note, "nodes": nodes, "edges": edges, "modules": modules}


def check_op(op: dict, out: dict) -> None:
    """The fields of a `graph` operation (protocol.validate_op): the graph, replacing the window's."""
    out["graph"] = check_graph(protocol._require(op, "graph"))


def csv_rows(graph: dict[str, Any]) -> list[list[Any]]:
    """The graph as a table, one row per node (livepanel/server/export.py): its inputs name the edges."""
    inputs: dict[str, list[str]] = {}
    for e in graph.get("edges", []):
        inputs.setdefault(e["to"], []).append(e["from"])
    rows: list[list[Any]] = [["id", "name", "op", "module", "shape", "params", "param_shapes", "inputs"]]
    for n in graph.get("nodes", []):
        shape = "" if n.get("shape") is None else "x".join(map(str, n["shape"]))
        params = n.get("params") or []
        shapes = " ".join(f"{p['name']}:{'x'.join(map(str, p['shape'] or []))}" for p in params)
        count = sum(p["count"] for p in params)
        rows.append([n["id"], n["name"], n["op"], n["module"], shape, count, shapes, " ".join(inputs.get(n["id"], []))])
    return rows
