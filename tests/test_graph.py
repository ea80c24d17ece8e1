"""The `graph` window kind end to end: panel.graph on a torch module (torch.fx, and the module tree where fx
cannot trace), an ONNX file and ModelProto, and a Keras model is stored, read back by panel.get, exported
as CSV and JSON, kept across a restart and replaced by a new graph; every bad input is refused in the call
(or with a clear 400 on the wire) and leaves nothing stored."""

from __future__ import annotations

import csv
import io
import json
import os
import sys

import pytest
from serverproc import ServerProcess
from wire import get, send_ops

import livepanel
from livepanel import model_graph

torch = pytest.importorskip("torch")
nn = torch.nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.norm = nn.LayerNorm(4)

    def forward(self, x):
        return self.norm(x + self.lin(x)).relu()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(Block(), Block())
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(torch.flatten(self.blocks(x), 1))


class Branchy(Net):
    """Control flow on a tensor's value: torch.fx cannot trace it."""

    def forward(self, x):
        if x.sum() > 0:
            x = x * 2
        return super().forward(x)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = ServerProcess(tmp_path_factory.mktemp("graph") / "data").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def panel(server, tmp_path_factory):
    p = livepanel.Panel(server.url, env="graphs", spool_dir=tmp_path_factory.mktemp("spool"))
    yield p
    p.close(timeout=10)


def by_id(graph: dict) -> dict:
    return {n["id"]: n for n in graph["nodes"]}


def test_a_traced_module_round_trips_with_shapes_params_and_module_paths(server, panel):
    model = Net()
    assert panel.graph(model, torch.randn(3, 4), win="fx") == "fx"
    state = panel.get("fx")
    assert state["kind"] == "graph"
    g = state["graph"]
    assert g["source"] == "fx" and g["name"] == "Net" and "example_input" in g["note"]
    nodes = by_id(g)
    lin = nodes["blocks_0_lin"]
    assert lin["op"] == "Linear" and lin["module"] == "blocks.0.lin" and lin["shape"] == [3, 4]
    assert lin["attrs"] == {"in_features": 4, "out_features": 4}
    weight, bias = {"name": "weight", "shape": [4, 4], "count": 16}, {"name": "bias", "shape": [4], "count": 4}
    assert lin["params"] == [weight, bias]
    assert nodes["add"]["module"] == "blocks.0" and nodes["add"]["op"] == "add"  # a function inside a block
    assert nodes["x"]["op"] == "Input" and nodes["output"]["op"] == "Output"
    # module paths are those of named_modules(): the names watch() gives its per-layer traces
    paths = {name for name, _ in model.named_modules()}
    assert {n["module"] for n in g["nodes"]} <= paths
    assert {m["path"] for m in g["modules"]} == paths
    assert next(m for m in g["modules"] if m["path"] == "")["params"] == sum(p.numel() for p in model.parameters())
    edge = next(e for e in g["edges"] if e["from"] == "x" and e["to"] == "blocks_0_lin")
    assert edge["shape"] == [3, 4] and edge["order"] is False
    # exports: CSV one row per node with its inputs, JSON the window state
    status, body = get(server.url, "/api/v1/export", env="graphs", win="fx", format="csv")
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert len(rows) == len(g["nodes"])
    add = next(r for r in rows if r["id"] == "add")
    assert add["inputs"] == "x blocks_0_lin" and add["module"] == "blocks.0"
    assert next(r for r in rows if r["id"] == "blocks_0_lin")["params"] == "20"
    status, body = get(server.url, "/api/v1/export", env="graphs", win="fx", format="json")
    assert status == 200 and json.loads(body)["graph"]["nodes"][1]["id"] == g["nodes"][1]["id"]


def test_the_example_input_leaves_the_model_as_it_was(panel):
    for model in (nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout(0.5)), Branchy()):
        model.train()
        if isinstance(model, Branchy):
            model.blocks[1].eval()  # modes differ between modules: each is restored
        state = {k: v.clone() for k, v in model.state_dict().items()}
        modes = [m.training for m in model.modules()]
        torch.manual_seed(3)
        panel.graph(model, -torch.ones(5, 4), win="untouched")
        after_rng = torch.rand(1)
        torch.manual_seed(3)
        assert torch.equal(after_rng, torch.rand(1)), "the random state moved"
        assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items()), "running statistics changed"
        assert [m.training for m in model.modules()] == modes


def test_without_an_example_input_the_trace_has_no_shapes(panel):
    panel.graph(Net(), win="noshapes")
    g = panel.get("noshapes")["graph"]
    assert g["source"] == "fx"
    assert all(n["shape"] is None for n in g["nodes"]) and all(e["shape"] is None for e in g["edges"])


def test_a_module_fx_cannot_trace_is_drawn_as_its_module_tree(panel):
    panel.graph(Branchy(), -torch.ones(3, 4), win="tree")  # the input goes on as it is (sum < 0)
    g = panel.get("tree")["graph"]
    assert g["source"] == "module_tree" and "torch.fx could not trace Branchy" in g["note"]
    nodes = by_id(g)
    assert {"blocks.0.lin", "blocks.1.norm", "head", "input", "output"} <= set(nodes)
    assert nodes["head"]["shape"] == [3, 2] and nodes["head"]["params"][0]["shape"] == [2, 4]
    flow = {(e["from"], e["to"]): e for e in g["edges"]}
    assert flow[("input", "blocks.0.lin")]["shape"] == [3, 4] and not flow[("input", "blocks.0.lin")]["order"]
    assert flow[("head", "output")]["shape"] == [3, 2]
    # without an input the layers follow their registration order, marked as such
    panel.graph(Branchy(), win="tree-order")
    g = panel.get("tree-order")["graph"]
    assert g["source"] == "module_tree" and all(e["order"] for e in g["edges"])
    assert [(e["from"], e["to"]) for e in g["edges"]][0] == ("blocks.0.lin", "blocks.0.norm")


def onnx_model():
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    w = helper.make_tensor("conv.weight", TensorProto.FLOAT, [4, 3, 3, 3], [0.0] * 108)
    fc = helper.make_tensor("fc.weight", TensorProto.FLOAT, [10, 4], [0.0] * 40)
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight"], ["c"], name="/conv/Conv", kernel_shape=[3, 3], pads=[1] * 4),
        helper.make_node("Relu", ["c"], ["r"], name="/relu/Relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["p"], name="/pool/GlobalAveragePool"),
        helper.make_node("Flatten", ["p"], ["f"], name="/Flatten", axis=1),
        helper.make_node("Gemm", ["f", "fc.weight"], ["y"], name="/fc/Gemm", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        [w, fc],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def test_an_onnx_file_and_a_model_proto(panel, tmp_path):
    import onnx

    model = onnx_model()
    path = tmp_path / "tiny.onnx"
    onnx.save(model, str(path))
    panel.graph(str(path), win="onnx-file")
    panel.graph(model, win="onnx-proto")
    for win in ("onnx-file", "onnx-proto"):
        g = panel.get(win)["graph"]
        assert g["source"] == "onnx" and "opset 17" in g["note"]
        nodes = by_id(g)
        conv = nodes["/conv/Conv"]
        assert conv["op"] == "Conv" and conv["module"] == "conv" and conv["attrs"]["kernel_shape"] == [3, 3]
        assert conv["params"] == [{"name": "conv.weight", "shape": [4, 3, 3, 3], "count": 108}]
        assert conv["shape"] == [1, 4, 8, 8]  # from ONNX shape inference
        flow = {(e["from"], e["to"]): e["shape"] for e in g["edges"]}
        assert flow[("input:x", "/conv/Conv")] == [1, 3, 8, 8]
        assert flow[("/fc/Gemm", "output:y")] == [1, 10]
    assert panel.get("onnx-file")["graph"]["name"] == "tiny.onnx"


def test_a_keras_model(panel):
    if "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    inp = keras.Input((8,), name="features")
    h = keras.layers.Dense(4, activation="relu", name="hidden")(inp)
    out = keras.layers.Add(name="sum")([keras.layers.Dense(4, name="a")(h), h])
    panel.graph(keras.Model(inp, out, name="kmodel"), win="keras")
    g = panel.get("keras")["graph"]
    assert g["source"] == "keras" and g["name"] == "kmodel"
    nodes = by_id(g)
    assert nodes["hidden"]["op"] == "Dense" and nodes["hidden"]["attrs"]["units"] == 4
    assert nodes["hidden"]["attrs"]["activation"] == "relu"
    assert sorted(p["shape"] for p in nodes["hidden"]["params"]) == [[4], [8, 4]]
    flow = {(e["from"], e["to"]): e["shape"] for e in g["edges"]}
    assert flow[("features", "hidden")] == [-1, 8] and ("hidden", "sum") in flow and ("a", "sum") in flow
    # a Sequential never built on an input: its layers in order, marked as such
    panel.graph(keras.Sequential([keras.layers.Dense(4, name="d1"), keras.layers.Dense(2, name="d2")]), win="kseq")
    g = panel.get("kseq")["graph"]
    assert [(e["from"], e["to"], e["order"]) for e in g["edges"]] == [("d1", "d2", True)] and "not built" in g["note"]


def test_a_compiled_module_is_drawn_with_the_paths_of_the_module_it_wraps(panel):
    class Compiled(nn.Module):  # what torch.compile returns holds the module as _orig_mod (importing
        def __init__(self, inner):  # torch._dynamo here would cost seconds and warn)
            super().__init__()
            self._orig_mod = inner

        def forward(self, x):
            return self._orig_mod(x)

    panel.graph(Compiled(Net()), win="compiled")
    g = panel.get("compiled")["graph"]
    assert "blocks.0.lin" in {n["module"] for n in g["nodes"]} and g["name"] == "Net"


def test_a_new_graph_replaces_the_window_and_survives_a_restart(server, panel):
    panel.graph(Net(), torch.randn(1, 4), win="replaced")
    panel.graph(nn.Sequential(nn.Linear(2, 2)), torch.randn(1, 2), win="replaced")
    g = panel.get("replaced")["graph"]
    assert [n["op"] for n in g["nodes"]] == ["Input", "Linear", "Output"]
    server.restart()
    again = panel.get("replaced")["graph"]
    assert again == g
    # a fork of the env copies the graph
    fork = {"op": "fork", "env": "graphs-copy", "source": "graphs"}
    status, answer = send_ops(server.url, [fork], client="graph-fork-1")
    assert status == 200, answer
    assert panel.get("replaced", env="graphs-copy")["graph"] == g


def test_bad_inputs_are_refused_in_the_call_and_nothing_is_stored(panel, tmp_path, monkeypatch):
    panel.graph(nn.Sequential(nn.Linear(2, 2)), win="kept")
    before = panel.get("kept")["graph"]
    not_onnx = tmp_path / "notes.onnx"
    not_onnx.write_bytes(b"these are notes, not a model\n" * 10)
    with pytest.raises(TypeError, match="expected a torch.nn.Module, a Keras model, an ONNX file"):
        panel.graph({"layers": 3}, win="fresh")
    with pytest.raises(FileNotFoundError, match="no such ONNX file"):
        panel.graph(str(tmp_path / "missing.onnx"), win="kept")
    pytest.importorskip("onnx")
    with pytest.raises(ValueError, match="is not an ONNX model"):
        panel.graph(not_onnx, win="kept")
    with pytest.raises(ValueError, match="the model failed on example_input"):
        panel.graph(Net(), torch.randn(3, 5), win="fresh")  # a shape the first layer refuses
    with pytest.raises(ValueError, match="the model failed on example_input"):
        panel.graph(Branchy(), torch.randn(3, 5), win="kept")  # the module tree's run refuses it too
    monkeypatch.setattr(model_graph, "MAX_NODES", 5)
    with pytest.raises(ValueError, match="a graph window holds at most 5"):
        panel.graph(Net(), win="kept")
    with pytest.raises(ValueError, match="graph has 7 nodes; the limit is 5"):
        panel.graph(onnx_model(), win="kept")
    monkeypatch.undo()
    with pytest.raises(TypeError, match="window name must be a string"):
        panel.graph(Net(), win=3)
    assert panel.get("kept")["graph"] == before
    assert "fresh" not in panel.windows()


def _op(graph, win="wire") -> dict:
    return {"op": "graph", "env": "graphs-wire", "win": win, "graph": graph}


NODE = {"id": "a", "name": "a", "op": "Linear", "module": "a"}


@pytest.mark.parametrize(
    ("graph", "message"),
    [
        ("not a map", "graph must be a map"),
        ({"source": "tf", "nodes": []}, "graph source must be one of fx, module_tree, onnx, keras"),
        ({"source": "fx", "nodes": [NODE], "edges": [{"from": "a", "to": "b"}]}, "edge 0 to 'b' is not the id"),
        ({"source": "fx", "nodes": [NODE, NODE]}, "id 'a' is used twice"),
        ({"source": "fx", "nodes": [{**NODE, "shape": [1.5]}]}, "node 0 shape must be a list"),
        ({"source": "fx", "nodes": [{**NODE, "attrs": {"k": {"deep": 1}}}]}, "must be a number, a string"),
        ({"source": "fx", "nodes": [{**NODE, "name": "x" * 201}]}, "the limit is 200"),
        ({"source": "fx", "nodes": [{"id": str(i)} for i in range(model_graph.MAX_NODES + 1)]}, "the limit is 20000"),
        ({"source": "fx", "nodes": [], "colour": "red"}, "unknown field"),
    ],
)
def test_a_bad_graph_on_the_wire_gets_a_clear_400_and_nothing_stored(server, graph, message):
    good = _op({"source": "fx", "nodes": [NODE]}, win="first")
    status, answer = send_ops(server.url, [good, _op(graph)], client="graph-wire-client", seq=1)
    assert status == 400 and message in answer["error"], answer
    status, _ = get(server.url, "/api/v1/window", env="graphs-wire", win="first")
    assert status == 404  # the whole batch was refused
