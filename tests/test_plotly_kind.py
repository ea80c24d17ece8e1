"""The `plotly` window kind end to end: a figure sent by the client (a dict or a duck-typed plotly Figure)
is stored, read back and kept across a restart; append extends traces by name; past its limits a figure
gets a clear 400; Visdom's figure methods (livepanel/visdom_figures.py) send the figures Visdom draws."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest
from client_helpers import wait_for
from wire import get, post, send_ops, window

import livepanel
from livepanel import plotly_figure, protocol
from livepanel.visdom import Visdom


@pytest.fixture
def panel(server, tmp_path):
    p = livepanel.Panel(server.url, env="fig", spool_dir=tmp_path / "spool")
    yield p
    p.close(timeout=10)


def stored(server, win: str, env: str = "fig") -> dict:
    return window(server.url, env, win)["figure"]


def test_a_dict_figure_is_stored_as_it_is_and_survives_a_restart(server, panel):
    z = np.arange(12.0).reshape(3, 4)
    fig = {
        "data": [
            {"type": "surface", "z": z, "name": "$\\alpha$", "colorscale": "Viridis"},
            {"type": "scatter", "x": [1, 2, 3], "y": (4.5, 5.5, 6.5), "text": ["a", "b", "c"]},
        ],
        "layout": {"title": {"text": "hello"}, "scene": {"xaxis": {"title": {"text": "x"}}}},
    }
    assert panel.plotly(fig, win="surf") == "surf"
    assert panel.flush()
    got = stored(server, "surf")
    assert window(server.url, "fig", "surf")["kind"] == "plotly"
    np.testing.assert_array_equal(got["data"][0]["z"], z)  # a numpy array travelled as a wire array
    assert got["data"][0]["z"].dtype == np.float64
    assert got["data"][1]["y"] == [4.5, 5.5, 6.5] and got["data"][1]["text"] == ["a", "b", "c"]
    assert got["layout"]["title"]["text"] == "hello" and got["data"][0]["name"] == "$\\alpha$"
    server.restart()
    again = stored(server, "surf")
    np.testing.assert_array_equal(again["data"][0]["z"], z)
    assert again["layout"] == got["layout"]


class FakeFigure:
    """What livepanel needs of plotly.graph_objects.Figure: to_plotly_json() (plotly is no dependency)."""

    def __init__(self, data, layout):
        self._json = {"data": data, "layout": layout}

    def to_plotly_json(self):
        return self._json


def test_a_duck_typed_figure_is_sent_by_to_plotly_json(server, panel):
    fig = FakeFigure([{"type": "pie", "values": np.array([1, 2, 3], dtype=np.int32)}], {"showlegend": False})
    panel.plotly(fig, win="pie")
    assert panel.flush()
    got = stored(server, "pie")
    assert got["data"][0]["values"].tolist() == [1, 2, 3] and got["layout"] == {"showlegend": False}


def test_the_figure_is_copied_in_the_call(server, panel):
    y = np.zeros(3)
    with panel.batch():
        panel.plotly({"data": [{"y": y}]}, win="copy")
        y[:] = 7
    assert panel.flush()
    assert stored(server, "copy")["data"][0]["y"].tolist() == [0, 0, 0]


def test_replace_and_append_by_trace_name(server, panel):
    panel.plotly({"data": [{"name": "a", "x": np.arange(3.0), "y": np.ones(3)}]}, win="live")
    panel.plotly(
        {"data": [{"name": "a", "x": np.arange(3.0, 5.0), "y": np.zeros(2)}, {"name": "b", "y": [1, 2]}]},
        win="live",
        update="append",
    )
    assert panel.flush()
    got = stored(server, "live")
    assert [t["name"] for t in got["data"]] == ["a", "b"]
    assert got["data"][0]["x"].tolist() == [0, 1, 2, 3, 4] and got["data"][0]["y"].tolist() == [1, 1, 1, 0, 0]
    panel.plotly({"data": [{"name": "c", "y": [1]}]}, win="live")  # replace: the figure as sent
    assert panel.flush()
    assert [t["name"] for t in stored(server, "live")["data"]] == ["c"]


def test_bad_figures_are_refused_in_the_call(panel):
    with pytest.raises(TypeError, match="expected a figure dict"):
        panel.plotly([1, 2, 3])
    with pytest.raises(ValueError, match="unknown figure key"):
        panel.plotly({"data": [], "frames": []})
    with pytest.raises(TypeError, match="cannot send a set"):
        panel.plotly({"data": [{"x": {1, 2}}]})
    with pytest.raises(ValueError, match="update must be one of"):
        panel.plotly({"data": []}, update="insert")


def _nested(depth: int) -> list:
    out: list = [1]
    for _ in range(depth):
        out = [out]
    return out


def _op(figure, **more) -> dict:
    return {"op": "plotly", "env": "raw", "win": "w", "figure": figure, **more}


CASES = {
    "not a map": (_op([1]), "plotly figure must be a map"),
    "unknown field": (_op({"data": [], "frames": []}), "unknown field(s) frames"),
    "data not traces": (_op({"data": [1, 2]}), "data must be a list of trace maps"),
    "too many traces": (_op({"data": [{}] * (plotly_figure.MAX_TRACES + 1)}), "the limit is 1000"),
    "too deep": (_op({"data": [{"a": _nested(22)}]}), "more than 20 deep"),
    "binary": (_op({"data": [{"x": b"raw"}]}), "got bytes"),
    "bad array": (_op({"data": [{"x": {"dtype": "c16", "shape": [1], "data": b"0" * 16}}]}), "unknown dtype"),
    "binary key": (_op({"data": [], "layout": {b"k": 2}}), "keys must be strings"),
    "bad update": (_op({"data": []}, update="merge"), "plotly update must be one of"),
    "too many values": (_op({"data": [{"x": [0] * (plotly_figure.MAX_FIGURE_ITEMS + 1)}]}), "send long data as"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_figure_gets_a_clear_400(server, case):
    op, expected = CASES[case]
    body = msgpack.packb({"client": "plotly-bad", "seq": 1, "ops": [op]}, use_bin_type=True, strict_types=False)
    status, answer = post(server.url, body)
    assert status == 400 and expected in answer["error"], answer
    assert get(server.url, "/api/v1/window", env="raw", win="w")[0] == 404


def test_a_figure_larger_than_the_limit_is_refused(server, monkeypatch):
    monkeypatch.setattr(plotly_figure, "MAX_FIGURE_BYTES", 1000)  # the check as a unit: the server's is 64 MiB
    with pytest.raises(protocol.ProtocolError, match="larger than 0 MiB"):
        plotly_figure.check_figure({"data": [{"x": protocol.encode_array(np.zeros(200)) | {"data": bytes(1600)}}]})
    status, answer = send_ops(server.url, [_op({"data": [{"y": np.zeros(10)}]})], client="plotly-ok")
    assert status == 200, answer


def test_an_append_past_the_trace_limit_is_refused_and_the_figure_kept(server):
    first = _op({"data": [{"name": str(i)} for i in range(plotly_figure.MAX_TRACES)]})
    assert send_ops(server.url, [first], client="plotly-app")[0] == 200
    status, answer = send_ops(server.url, [_op({"data": [{"name": "one more"}]}, update="append")], "plotly-app", 2)
    assert status == 400 and "would have 1001 traces" in answer["error"]
    assert len(window(server.url, "raw", "w")["figure"]["data"]) == plotly_figure.MAX_TRACES


# ---------------------------------------------------------------- Visdom's figure methods


@pytest.fixture
def vis(server, tmp_path):
    v = Visdom(server="http://127.0.0.1", port=server.port, env="vis", spool_dir=tmp_path / "vspool")
    yield v
    v.panel.close(timeout=10)


def types(server, win: str) -> list[str]:
    return [t.get("type", "scatter") for t in stored(server, win, "vis")["data"]]


def test_visdom_figure_methods_draw_plotly_windows(server, vis):
    rng = np.random.default_rng(0)
    vis.stem(X=np.sin(np.linspace(0, 6, 20)), win="stem", opts={"title": "Stem"})
    vis.pie(X=np.array([3, 1, 2]), win="pie", opts={"legend": ["a", "b", "c"]})
    vis.boxplot(X=rng.standard_normal((50, 2)), win="box", opts={"legend": ["Men", "Women"]})
    vis.quiver(X=rng.random((4, 5)), Y=rng.random((4, 5)), win="quiver", opts={"normalize": 0.9})
    vis.mesh(X=rng.random((10, 3)), win="mesh", opts={"opacity": 0.5})
    vis.surf(X=rng.random((20, 30)), win="surf", opts={"colormap": "Hot"})
    vis.contour(X=rng.random((20, 30)), win="contour")
    vis.sunburst(labels=np.array(["root", "a", "b"]), parents=np.array(["", "root", "root"]), win="sun")
    vis.dual_axis_lines(X=np.arange(5), Y1=np.arange(5), Y2=np.arange(5) ** 2, win="dual")
    vis.scatter(
        X=rng.random((30, 3)),
        Y=rng.integers(1, 3, 30),
        win="s3",
        opts={"legend": ["one", "two"], "markercolor": np.arange(30) * 8, "title": "3-D"},
    )
    vis.embeddings(rng.random((40, 8)), [i % 3 for i in range(40)], win="emb")
    vis.plotlyplot(FakeFigure([{"type": "bar", "y": [1, 2]}], {"title": {"text": "Bars"}}), win="pp")
    assert vis.flush()
    assert types(server, "stem") == ["scatter"] and window(server.url, "vis", "stem")["opts"]["title"] == "Stem"
    pie = stored(server, "pie", "vis")["data"][0]
    assert pie["type"] == "pie" and pie["labels"] == ["a", "b", "c"] and pie["values"].tolist() == [3, 1, 2]
    assert [t["name"] for t in stored(server, "box", "vis")["data"]] == ["Men", "Women"]
    assert types(server, "quiver") == ["scatter"]
    assert types(server, "mesh") == ["mesh3d"] and stored(server, "mesh", "vis")["data"][0]["opacity"] == 0.5
    surf = stored(server, "surf", "vis")["data"][0]
    assert surf["type"] == "surface" and surf["z"].shape == (20, 30) and surf["colorscale"] == "Hot"
    assert types(server, "contour") == ["contour"]
    assert stored(server, "sun", "vis")["data"][0]["parents"] == ["", "root", "root"]
    dual = stored(server, "dual", "vis")
    assert len(dual["data"]) == 2 and dual["data"][1]["yaxis"] == "y2" and dual["layout"]["yaxis2"]["overlaying"] == "y"
    s3 = stored(server, "s3", "vis")["data"]
    assert [t["type"] for t in s3] == ["scatter3d", "scatter3d"] and [t["name"] for t in s3] == ["one", "two"]
    assert sum(len(t["z"]) for t in s3) == 30
    assert sum(len(t["marker"]["color"]) for t in s3) == 30  # per point, as Visdom's blue of that opacity
    assert window(server.url, "vis", "s3")["opts"]["title"] == "3-D"
    emb = vis.panel.get("emb", env="vis")  # a native embedding window since Visdom's embeddings use one
    assert emb["kind"] == "embedding" and [s["features"].shape for s in emb["steps"]] == [(40, 8)]
    assert sorted(set(emb["steps"][0]["labels"])) == ["0", "1", "2"]
    assert types(server, "pp") == ["bar"] and window(server.url, "vis", "pp")["opts"]["title"] == "Bars"
    assert wait_for(lambda: set(vis.panel.windows("vis")) >= {"stem", "pie", "s3", "pp"})


def test_visdom_stem_is_a_stem_per_column():
    from livepanel import visdom_figures

    fig = visdom_figures.stem(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([10.0, 20.0]), {"legend": ["p", "q"]})
    p = fig["data"][0]
    assert [t["name"] for t in fig["data"]] == ["p", "q"]
    np.testing.assert_array_equal(p["x"], [10, 10, np.nan, 20, 20, np.nan])
    np.testing.assert_array_equal(p["y"], [0, 1, np.nan, 0, 3, np.nan])


def test_visdom_figure_methods_refuse_bad_input(vis):
    with pytest.raises(ValueError, match="cannot contain negative"):
        vis.pie(X=np.array([1, -1]))
    with pytest.raises(ValueError, match="two-dimensional"):
        vis.surf(X=np.ones(3))
    with pytest.raises(ValueError, match="same shape"):
        vis.quiver(X=np.ones((2, 2)), Y=np.ones((3, 2)))
    with pytest.raises(ValueError, match="labels but"):
        vis.sunburst(labels=np.array(["a"]), parents=np.array(["", "a"]))
