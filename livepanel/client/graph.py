"""`Panel.graph`: a model's structure as a `graph` window (livepanel/model_graph.py has the form).

PyTorch modules are traced with torch.fx (tensor shapes from ShapeProp when `example_input` is given);
a module fx cannot trace (data-dependent control flow, say) falls back to its module tree, with the
data flow recorded by forward hooks when `example_input` is given, else the layers in the order they
were registered (edges marked `order`). ONNX files and `onnx.ModelProto` need the optional `onnx`
package (`pip install 'livepanel[onnx]'`); Keras 3 models are read from their layers. The graph is built
and checked in the call, so a model that cannot be read raises there and nothing is sent. torch, onnx
and keras are imported only when such a model is given.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from livepanel import model_graph

_SCALARS = (bool, int, float, str, type(None))


def build(model: Any, example_input: Any = None) -> dict[str, Any]:
    """The graph of `model` (checked: within the limits of livepanel/model_graph.py), or a clear error."""
    if isinstance(model, (str, os.PathLike)):
        graph = _onnx_file(model)
    elif type(model).__name__ == "ModelProto" and type(model).__module__.startswith("onnx"):
        graph = _onnx(model)
    elif _is_keras_model(model):  # before torch: on the torch backend a Keras model is an nn.Module too
        graph = _keras(model)
    elif _is_torch_module(model):
        # torch.compile's wrapper: its module paths would start with "_orig_mod.", not as watch() names layers
        graph = _torch(getattr(model, "_orig_mod", model), example_input)
    else:
        raise TypeError(
            "graph(): expected a torch.nn.Module, a Keras model, an ONNX file path or an onnx.ModelProto, "
            f"got {type(model).__module__}.{type(model).__qualname__}"
        )
    try:
        return model_graph.check_graph(graph)
    except model_graph.GraphError as exc:
        raise ValueError(f"graph(): {exc}") from None


def _is_torch_module(model: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def _is_keras_model(model: Any) -> bool:
    return type(model).__module__.startswith("keras") and hasattr(model, "layers") and not isinstance(model, type)


def _attr_value(v: Any) -> Any:
    """A value an attribute map holds (scalars, short lists of scalars), or None when it holds no such."""
    if isinstance(v, str):
        return v[: model_graph.MAX_TEXT]
    if isinstance(v, float):
        return v
    if isinstance(v, _SCALARS):
        return v if not isinstance(v, int) or abs(v) < 2**63 else str(v)
    if isinstance(v, (tuple, list)) and len(v) <= model_graph.MAX_ATTR_LIST and all(isinstance(x, _SCALARS) for x in v):
        return [_attr_value(x) for x in v]
    if isinstance(v, bytes) and len(v) <= model_graph.MAX_TEXT:
        return v.decode("utf-8", "replace")
    return None


def _attrs(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in items:
        if len(out) >= model_graph.MAX_ATTRS:
            break
        if not isinstance(k, str) or k.startswith("_") or k == "training" or len(k) > model_graph.MAX_TEXT:
            continue
        value = _attr_value(v)
        if value is not None or v is None:
            out[k] = value
    return out


def _too_big(n: int, what: str) -> None:
    if n > model_graph.MAX_NODES:
        raise ValueError(f"graph(): the model has {n} {what}; a graph window holds at most {model_graph.MAX_NODES}")


# ---------------------------------------------------------------- PyTorch


def _shape_of(meta: Any) -> list[int] | None:
    shape = getattr(meta, "shape", None)
    if shape is None:
        return None
    try:
        dims = [int(d) for d in shape]
    except (TypeError, ValueError):  # symbolic sizes
        return None
    return dims if len(dims) <= model_graph.MAX_DIMS else None


def _params(module: Any, recurse: bool = True) -> list[dict[str, Any]]:
    out = []
    for name, p in module.named_parameters(recurse=recurse):
        if len(out) >= model_graph.MAX_PARAMS:
            break
        shape = list(p.shape)
        out.append({"name": name, "shape": shape if len(shape) <= model_graph.MAX_DIMS else None, "count": p.numel()})
    return out


def _modules(model: Any) -> list[dict[str, Any]]:
    mods = list(model.named_modules())
    _too_big(len(mods), "modules")
    return [
        {"path": path, "type": type(m).__name__, "params": sum(p.numel() for p in m.parameters())} for path, m in mods
    ]


@contextlib.contextmanager
def _untouched(model: Any) -> Iterator[None]:
    """Run the model on the example input without changing it: in eval mode (batch norm's running
    statistics stay, dropout draws nothing), without gradients, with the random state restored after."""
    import torch

    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            yield
    finally:
        for m, training in modes:
            m.training = training


def _inputs(example_input: Any) -> tuple:
    return example_input if isinstance(example_input, tuple) else (example_input,)


def _torch(model: Any, example_input: Any) -> dict[str, Any]:
    from torch import fx

    try:
        gm = fx.symbolic_trace(model)
    except Exception as exc:  # control flow on tensor values, unsupported calls: the module tree instead
        reason = f"torch.fx could not trace {type(model).__name__} ({type(exc).__name__}: {str(exc)[:300]})"
        return _module_tree(model, example_input, reason)
    _too_big(len(gm.graph.nodes), "graph nodes")
    note = "traced with torch.fx"
    if example_input is not None:
        from torch.fx.passes.shape_prop import ShapeProp

        try:
            with _untouched(model):
                ShapeProp(gm).propagate(*_inputs(example_input))
            note += "; shapes from example_input"
        except Exception as exc:
            raise ValueError(
                f"graph(): the model failed on example_input ({type(exc).__name__}: {str(exc)[:300]}); "
                "give an input its forward accepts (a tensor, or a tuple of its positional arguments)"
            ) from None
    nodes, edges, shapes = [], [], {}
    for n in gm.graph.nodes:
        shape = _shape_of(n.meta.get("tensor_meta"))
        shapes[n.name] = shape
        stack = n.meta.get("nn_module_stack") or {}
        last = list(stack.items())[-1] if stack else None
        module = "" if last is None else (last[1][0] if isinstance(last[1], tuple) else str(last[0]))
        node: dict[str, Any] = {"id": n.name, "name": n.name, "shape": shape, "module": module}
        scalars = [(f"arg{i}", a) for i, a in enumerate(n.args) if isinstance(a, _SCALARS + (tuple, list))]
        if n.op == "placeholder":
            node.update(op="Input", name=str(n.target), module="")
        elif n.op == "output":
            node.update(op="Output", module="")
        elif n.op == "call_module":
            mod = gm.get_submodule(n.target)
            attrs = _attrs(vars(mod).items())
            node.update(op=type(mod).__name__, name=str(n.target), module=str(n.target), attrs=attrs)
            node["params"] = _params(mod)
        elif n.op == "get_attr":
            node.update(op="get_attr", name=str(n.target), module=str(n.target).rpartition(".")[0])
        else:  # call_function, call_method
            target = n.target if isinstance(n.target, str) else getattr(n.target, "__name__", str(n.target))
            node.update(op=str(target), attrs=_attrs([*scalars, *n.kwargs.items()]))
        nodes.append(node)
        for a in n.all_input_nodes:
            edges.append({"from": a.name, "to": n.name, "shape": shapes.get(a.name)})
    return {"source": "fx", "name": type(model).__name__, "note": note, "nodes": nodes, "edges": edges,
            "modules": _modules(model)}  # fmt: skip


def _module_tree(model: Any, example_input: Any, reason: str) -> dict[str, Any]:
    """The leaf modules as nodes; edges from forward hooks when `example_input` is given, else in order."""
    import torch

    leaves = [(path, m) for path, m in model.named_modules() if not any(True for _ in m.children())]
    _too_big(len(leaves), "leaf modules")
    nodes: dict[str, dict[str, Any]] = {}
    for path, m in leaves:
        nid = path or type(model).__name__
        nodes[nid] = {"id": nid, "name": nid, "op": type(m).__name__, "module": path, "shape": None,
                      "attrs": _attrs(vars(m).items()), "params": _params(m)}  # fmt: skip
    edges: list[dict[str, Any]] = []
    note = f"module tree: {reason}"
    if example_input is None:
        ids = list(nodes)
        edges = [{"from": a, "to": b, "order": True} for a, b in zip(ids, ids[1:], strict=False)]
        note += "; edges follow the order the layers were registered in (give example_input for the data flow)"
    else:
        edges = _hooked_edges(model, example_input, leaves, nodes, torch)
        note += "; data flow recorded with forward hooks on example_input"
    return {"source": "module_tree", "name": type(model).__name__, "note": note, "nodes": list(nodes.values()),
            "edges": edges, "modules": _modules(model)}  # fmt: skip


def _tensors(value: Any, torch: Any) -> list:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors(v, torch)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v, torch)]
    return []


def _hooked_edges(model: Any, example_input: Any, leaves: list, nodes: dict, torch: Any) -> list[dict[str, Any]]:
    """Run the model once with hooks on its leaf modules: which module's output each one was given."""
    producer: dict[int, str] = {}
    keep: list = []  # the tensors seen, so that their ids are not reused during the run
    seen: set[tuple[str, str]] = set()
    edges: list[dict[str, Any]] = []
    last = ["input"]
    nodes_in = {"id": "input", "name": "input", "op": "Input", "module": "", "shape": None}

    def add(src: str, dst: str, shape: Any, order: bool = False) -> None:
        if (src, dst) not in seen and src != dst:
            seen.add((src, dst))
            edges.append({"from": src, "to": dst, "shape": shape, "order": order})

    def hook(nid: str):
        def on_forward(module: Any, args: Any, output: Any) -> None:
            found = False
            for t in _tensors(args, torch):
                src = producer.get(id(t))
                if src is not None:
                    add(src, nid, _shape_of(t))
                    found = True
            if not found:  # made by a function between modules: the module that ran last
                add(last[0], nid, None, order=True)
            outs = _tensors(output, torch)
            for t in outs:
                producer[id(t)] = nid
                keep.append(t)
            if outs and nodes[nid]["shape"] is None:
                nodes[nid]["shape"] = _shape_of(outs[0])
            last[0] = nid

        return on_forward

    args = _inputs(example_input)
    for t in _tensors(args, torch):
        producer[id(t)] = "input"
        nodes_in["shape"] = nodes_in["shape"] or _shape_of(t)
    handles = [m.register_forward_hook(hook(path or type(model).__name__)) for path, m in leaves]
    try:
        with _untouched(model):
            output = model(*args)
    except Exception as exc:
        raise ValueError(
            f"graph(): the model failed on example_input ({type(exc).__name__}: {str(exc)[:300]})"
        ) from None
    finally:
        for h in handles:
            h.remove()
    out = {"id": "output", "name": "output", "op": "Output", "module": "", "shape": None}
    for t in _tensors(output, torch):
        add(producer.get(id(t), last[0]), "output", _shape_of(t))
        out["shape"] = out["shape"] or _shape_of(t)
    nodes["input"], nodes["output"] = nodes_in, out
    return edges


# ---------------------------------------------------------------- ONNX


def _import_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ImportError("graph(): ONNX models need the onnx package: pip install 'livepanel[onnx]'") from None
    return onnx


def _onnx_file(path: Any) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"graph(): no such ONNX file: {str(p)[:300]}")
    onnx = _import_onnx()
    try:
        model = onnx.load(str(p), load_external_data=False)  # the structure only: weights in files beside stay there
    except Exception as exc:
        raise ValueError(
            f"graph(): {str(p)[:300]} is not an ONNX model ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None
    if not model.ir_version or not len(model.graph.node):
        raise ValueError(f"graph(): {str(p)[:300]} is not an ONNX model (it holds no graph)")
    return _onnx(model, p.name)


def _dims(type_proto: Any) -> list[int] | None:
    tensor = type_proto.tensor_type
    if not tensor.HasField("shape"):
        return None
    dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]
    return dims if len(dims) <= model_graph.MAX_DIMS else None


def _scope(name: str) -> str:
    """The module path in an ONNX node's name as torch.onnx.export writes it: "/layer1/layer1.0/conv1/Conv"
    is in module "layer1.0.conv1"."""
    if not name.startswith("/"):
        return ""
    path = ""
    for part in name.split("/")[1:-1]:
        path = part if not path or part.startswith(path + ".") else f"{path}.{part}"
    return path


def _onnx_attr(onnx: Any, a: Any) -> Any:
    try:
        v = onnx.helper.get_attribute_value(a)
    except Exception:
        return None
    if hasattr(v, "dims"):  # a tensor
        return f"tensor {list(v.dims)}"
    if hasattr(v, "node"):  # a subgraph
        return f"graph of {len(v.node)} nodes"
    if isinstance(v, (list, tuple)):
        v = [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in v]
        v = [x for x in v if isinstance(x, _SCALARS)]
    return _attr_value(v)


def _onnx(model: Any, name: str = "") -> dict[str, Any]:
    onnx = _import_onnx()
    if not isinstance(model, onnx.ModelProto):
        raise TypeError(f"graph(): expected an onnx.ModelProto, got {type(model).__name__}")
    try:
        model = onnx.shape_inference.infer_shapes(model)
    except Exception:  # shapes are a bonus: a model shape inference cannot follow is still drawn
        pass
    g = model.graph
    _too_big(len(g.node), "ONNX nodes")
    shapes = {v.name: _dims(v.type) for v in [*g.input, *g.output, *g.value_info]}
    inits = {i.name: i for i in g.initializer}
    nodes, edges, producer, ids = [], [], {}, set()
    for v in g.input:
        if v.name not in inits:
            nid = f"input:{v.name}"[: model_graph.MAX_TEXT]
            nodes.append({"id": nid, "name": v.name, "op": "Input", "shape": shapes.get(v.name)})
            producer[v.name] = nid
            ids.add(nid)
    for i, node in enumerate(g.node):
        nid = (node.name or f"{node.op_type}_{i}")[: model_graph.MAX_TEXT]
        if nid in ids:
            nid = f"{nid}#{i}"[-model_graph.MAX_TEXT :]
        ids.add(nid)
        params = []
        for x in node.input:
            if x in inits and len(params) < model_graph.MAX_PARAMS:
                dims = list(inits[x].dims)
                params.append({"name": x[: model_graph.MAX_TEXT], "shape": dims[: model_graph.MAX_DIMS],
                               "count": math.prod(dims)})  # fmt: skip
        attrs = {a.name: _onnx_attr(onnx, a) for a in list(node.attribute)[: model_graph.MAX_ATTRS]}
        out0 = node.output[0] if node.output else ""
        nodes.append({"id": nid, "name": (node.name or nid)[: model_graph.MAX_TEXT], "op": node.op_type,
                      "module": _scope(node.name)[: model_graph.MAX_TEXT], "attrs": attrs, "params": params,
                      "shape": shapes.get(out0)})  # fmt: skip
        for x in node.input:
            if x and x not in inits and x in producer:
                edges.append({"from": producer[x], "to": nid, "shape": shapes.get(x)})
        for x in node.output:
            producer[x] = nid
    for v in g.output:
        nid = f"output:{v.name}"[: model_graph.MAX_TEXT]
        if nid not in ids:
            nodes.append({"id": nid, "name": v.name, "op": "Output", "shape": shapes.get(v.name)})
            ids.add(nid)
            if v.name in producer:
                edges.append({"from": producer[v.name], "to": nid, "shape": shapes.get(v.name)})
    paths = sorted({n.get("module", "") for n in nodes} - {""})
    modules = [{"path": "", "type": g.name or "ONNX graph", "params": sum(math.prod(i.dims) for i in inits.values())}]
    modules += [{"path": p, "type": "", "params": 0} for p in paths[: model_graph.MAX_MODULES - 1]]
    note = f"ONNX opset {', '.join(str(o.version) for o in model.opset_import)}"
    return {"source": "onnx", "name": (name or g.name)[: model_graph.MAX_TEXT], "note": note, "nodes": nodes,
            "edges": edges, "modules": modules}  # fmt: skip


# ---------------------------------------------------------------- Keras


def _keras_shape(t: Any) -> list[int] | None:
    try:
        return [-1 if d is None else int(d) for d in t.shape][: model_graph.MAX_DIMS]
    except Exception:
        return None


def _keras(model: Any) -> dict[str, Any]:
    layers = list(model.layers)
    _too_big(len(layers), "layers")
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, Any]] = []
    for layer in layers:
        try:
            config = layer.get_config()
        except Exception:
            config = {}
        params = [{"name": str(getattr(w, "path", w.name))[: model_graph.MAX_TEXT], "shape": _keras_shape(w),
                   "count": int(math.prod(w.shape))} for w in layer.weights[: model_graph.MAX_PARAMS]]  # fmt: skip
        nodes[layer.name] = {"id": layer.name, "name": layer.name, "op": type(layer).__name__, "module": layer.name,
                             "attrs": _attrs((k, v) for k, v in config.items() if k not in ("name", "dtype")),
                             "params": params, "shape": None}  # fmt: skip
    for layer in layers:
        for node in getattr(layer, "_inbound_nodes", []):
            for t in getattr(node, "output_tensors", []) or []:
                nodes[layer.name]["shape"] = nodes[layer.name]["shape"] or _keras_shape(t)
            for t in getattr(node, "input_tensors", []) or []:
                history = getattr(t, "_keras_history", None)
                src = getattr(history[0], "name", None) if history else None
                if src is None:
                    continue
                if src not in nodes:  # a Sequential's input layer is not among its layers
                    nodes[src] = {"id": src, "name": src, "op": "Input", "module": "", "shape": _keras_shape(t)}
                edges.append({"from": src, "to": layer.name, "shape": _keras_shape(t)})
    note = "Keras layers and their connections"
    if not edges and len(layers) > 1:
        names = [layer.name for layer in layers]
        edges = [{"from": a, "to": b, "order": True} for a, b in zip(names, names[1:], strict=False)]
        note = "Keras layers in order (the model is not built on an input: its connections are unknown)"
    total = sum(int(math.prod(w.shape)) for w in model.weights)
    modules = [{"path": "", "type": type(model).__name__, "params": total}]
    modules += [{"path": layer.name, "type": type(layer).__name__,
                 "params": sum(int(math.prod(w.shape)) for w in layer.weights)} for layer in layers]  # fmt: skip
    return {"source": "keras", "name": str(getattr(model, "name", type(model).__name__)), "note": note,
            "nodes": list(nodes.values()), "edges": edges, "modules": modules}  # fmt: skip
