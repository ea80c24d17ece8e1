"""Visdom's methods and update modes beyond the basics (issue 20): a real server and the real client."""

from __future__ import annotations

import io
import json
import sys
import urllib.error
import urllib.request
import wave

import numpy as np
import pytest

from livepanel.visdom import Visdom


@pytest.fixture
def viz(server, tmp_path):
    port = int(server.url.rsplit(":", 1)[1])
    v = Visdom(server="http://127.0.0.1", port=port, env="par", spool_dir=tmp_path / "spool")
    yield v
    v.panel.close(timeout=5)


def names(viz: Visdom, win: str, env: str | None = None) -> list[str]:
    return [t["name"] for t in viz.panel.get(win, env=env)["traces"]]


def trace(state: dict, name: str) -> dict:
    return next(t for t in state["traces"] if t["name"] == name)


# ---------------------------------------------------------------- item 2: appends by position


def test_append_without_name_extends_legend_traces_by_position(viz):
    win = viz.line(Y=np.ones((3, 2)), X=np.arange(3), opts={"legend": ["train", "val"]})
    viz.line(Y=np.array([[2.0, 3.0]]), X=np.array([[3, 3]]), win=win, update="append")
    assert names(viz, win) == ["train", "val"]  # not new traces "1" and "2"
    state = viz.panel.get(win)
    assert trace(state, "train")["n"] == 4 and trace(state, "val")["y"][-1] == 3.0


def test_append_by_position_to_a_window_another_client_made(viz, server, tmp_path):
    win = viz.line(Y=np.ones((2, 2)), X=np.arange(2), opts={"legend": ["a", "b"]}, win="shared")
    viz.flush()
    other = Visdom(server="http://127.0.0.1", port=int(server.url.rsplit(":", 1)[1]), env="par",
                   spool_dir=tmp_path / "spool2")  # fmt: skip
    try:
        other.line(Y=np.array([[5.0, 6.0]]), X=np.array([[2, 2]]), win=win, update="append")
        other.flush()
    finally:
        other.panel.close(timeout=5)
    assert names(viz, win) == ["a", "b"] and trace(viz.panel.get(win), "b")["y"].tolist() == [1, 1, 6]


def test_scatter_append_by_label_position(viz):
    pts = np.random.default_rng(0).random((10, 2))
    win = viz.scatter(X=pts, Y=np.arange(10) % 2 + 1, opts={"legend": ["even", "odd"]})
    viz.scatter(X=pts, Y=np.arange(10) % 2 + 1, win=win, update="append")
    assert names(viz, win) == ["even", "odd"] and trace(viz.panel.get(win), "odd")["n"] == 10


def test_unknown_visdom_options_are_accepted(viz):
    win = viz.line(Y=np.arange(3.0), opts={"webgl": True, "layoutopts": {"plotly": {}}, "no_such_option": 1})
    assert viz.panel.get(win)["traces"][0]["n"] == 3


# ---------------------------------------------------------------- scatter: 1-D X with a name, update='new'


def test_scatter_1d_x_with_name_and_update_new(viz):
    win = viz.scatter(X=np.random.default_rng(1).random((5, 2)))
    viz.scatter(X=np.arange(4.0), Y=np.arange(4.0) * 2, win=win, name="new_trace", update="new")
    viz.scatter(X=np.arange(2.0), Y=np.ones(2), win=win, name="new_trace", update="append")
    state = viz.panel.get(win)
    assert trace(state, "new_trace")["y"].tolist() == [0, 2, 4, 6, 1, 1]
    line = viz.line(Y=np.arange(3.0), X=np.arange(3.0))
    viz.line(Y=np.ones(2), X=np.arange(2.0), win=line, name="extra", update="new")
    assert names(viz, line) == ["", "extra"]


def test_scatter_and_line_bad_input(viz):
    with pytest.raises(ValueError, match="give its name"):
        viz.scatter(X=np.arange(3.0), Y=np.arange(3.0))
    with pytest.raises(ValueError, match="same length"):
        viz.scatter(X=np.arange(3.0), Y=np.arange(4.0), name="a", update="append", win="w")
    with pytest.raises(ValueError, match="update must be"):
        viz.line(Y=np.arange(3.0), X=np.arange(3.0), update="appnd", win="w")


# ---------------------------------------------------------------- heatmap updates


def test_heatmap_updates_join_rows_and_columns_with_names(viz):
    win = viz.heatmap(X=np.outer(np.arange(1, 3), np.arange(1, 4)), opts={"rownames": ["r1", "r2"],
                      "columnnames": ["a", "b", "c"]})  # fmt: skip
    viz.heatmap(X=np.full((1, 3), 7.0), win=win, update="appendRow", opts={"rownames": ["r3"]})
    viz.heatmap(X=np.full((1, 3), -1.0), win=win, update="prependRow", opts={"rownames": ["r0"]})
    viz.heatmap(X=np.full((4, 1), 9.0), win=win, update="appendColumn", opts={"columnnames": ["d"]})
    viz.heatmap(X=np.full((4, 2), 5.0), win=win, update="prependColumn", opts={"columnnames": ["y", "z"]})
    state = viz.panel.get(win)
    z = np.asarray(state["z"])
    assert z.shape == (4, 6)
    assert z[0].tolist() == [5, 5, -1, -1, -1, 9] and z[3].tolist() == [5, 5, 7, 7, 7, 9]
    assert state["opts"]["yticklabels"] == ["r0", "r1", "r2", "r3"]
    assert state["opts"]["xticklabels"] == ["y", "z", "a", "b", "c", "d"]
    viz.heatmap(X=np.eye(2), win=win, update="replace")
    assert np.asarray(viz.panel.get(win)["z"]).shape == (2, 2)
    viz.heatmap(X=None, win=win, update="remove")
    assert not viz.win_exists(win)


def test_heatmap_append_creates_and_mismatch_is_refused(viz, server):
    win = viz.heatmap(X=np.ones((1, 3)), win="hm_new", update="appendRow")
    viz.heatmap(X=np.zeros((1, 3)), win=win, update="appendRow")
    assert np.asarray(viz.panel.get(win)["z"]).shape == (2, 3)
    # a row of 2 columns cannot join 3 columns: the server refuses that op and says why
    body = _batch([{"op": "heatmap", "env": "par", "win": win, "z": np.ones((1, 2)), "update": "appendRow"}])
    status, text = _post(server.url + "/api/v1/ingest", body)
    assert status == 400 and "2 columns, but the window has 3" in text
    with viz.panel.batch():  # the client drops the refused op alone: the rest of its batch is stored
        viz.heatmap(X=np.ones((1, 2)), win=win, update="appendRow")
        viz.text("after", win="after_refused")
    assert viz.panel.get("after_refused")["text"] == "after"
    assert np.asarray(viz.panel.get(win)["z"]).shape == (2, 3)
    with pytest.raises(ValueError, match="update must be one of"):
        viz.heatmap(X=np.ones((1, 3)), win=win, update="appendrow")
    status, text = _post(server.url + "/api/v1/ingest", _batch([{"op": "heatmap", "env": "par", "win": "x",
                         "z": np.ones((2, 2)), "update": "sideways"}]))  # fmt: skip
    assert status == 400 and "heatmap update must be one of" in text


def test_heatmap_stays_bounded():
    from livepanel import heatmap_update

    z, _ = heatmap_update.applied(np.zeros((heatmap_update.MAX_CELLS // 4, 4)), {}, {"z": np.ones((3, 4)),
                                  "update": "appendRow"})  # fmt: skip
    assert z.shape == (heatmap_update.MAX_CELLS // 4, 4) and z[-1].tolist() == [1, 1, 1, 1] and z[0, 0] == 0


# ---------------------------------------------------------------- text append, images captions


def test_text_append_on_a_new_line(viz):
    win = viz.text("first")
    viz.text("second", win=win, append=True)
    assert viz.panel.get(win)["text"] == "first<br>second"
    fresh = viz.text("only", win="fresh_text", append=True)  # a new window: no break before it
    assert viz.panel.get(fresh)["text"] == "only"
    with pytest.raises(TypeError, match="text must be a string"):
        viz.text(42)


def test_images_captions(viz):
    win = viz.images(np.zeros((3, 3, 8, 8)), opts={"captions": ["a", "b", "c"]})
    assert [i["caption"] for i in viz.panel.get(win)["steps"][-1]["images"]] == ["a", "b", "c"]
    grid = viz.images(np.zeros((2, 3, 8, 8)), opts={"caption": "How random."})
    assert [i["caption"] for i in viz.panel.get(grid)["steps"][-1]["images"]] == ["How random.", ""]
    with pytest.raises(ValueError, match="one per image"):
        viz.images(np.zeros((2, 3, 8, 8)), opts={"captions": ["only one"]})


# ---------------------------------------------------------------- window data


def test_get_and_set_window_data_in_visdom_shape(viz):
    win = viz.text("test one")
    data = json.loads(viz.get_window_data(win))
    assert data["type"] == "text" and data["content"] == "test one" and data["id"] == win
    data["content"] = "test two"
    viz.set_window_data(json.dumps(data), win=win)
    assert viz.panel.get(win)["text"] == "test two"
    line = viz.line(Y=np.ones((3, 2)), X=np.arange(3), opts={"legend": ["a", "b"], "title": "t"})
    data = json.loads(viz.get_window_data(line))
    assert data["type"] == "plot" and [t["name"] for t in data["content"]["data"]] == ["a", "b"]
    data["content"]["data"][1]["y"] = [7, 8, 9]
    viz.set_window_data(data, win=line)
    assert trace(viz.panel.get(line), "b")["y"].tolist() == [7, 8, 9]
    hm = viz.heatmap(X=np.eye(2))
    everything = json.loads(viz.get_window_data())
    assert everything[hm]["content"]["data"][0]["z"] == [[1, 0], [0, 1]] and win in everything


def test_window_data_bad_input(viz):
    with pytest.raises(KeyError, match="no window"):
        viz.get_window_data("missing")
    with pytest.raises(ValueError, match="not JSON"):
        viz.set_window_data("{nope", win="w")
    with pytest.raises(ValueError, match="no 'content'"):
        viz.set_window_data({"id": "w"}, win="w")
    with pytest.raises(ValueError, match="cannot be set"):
        viz.set_window_data({"type": "embeddings", "content": {"data": []}}, win="w")


# ---------------------------------------------------------------- fork_env


def test_fork_env_copies_every_window(viz):
    viz.line(Y=np.arange(4.0), X=np.arange(4.0), win="loss", opts={"title": "Loss"})
    viz.text("notes", win="notes")
    viz.heatmap(X=np.eye(3), win="hm")
    viz.images(np.zeros((2, 3, 4, 4)), win="imgs")
    viz.histogram(X=np.arange(100.0), win="hist")
    assert viz.fork_env("par", "par_fork") == "par_fork"
    assert sorted(viz.panel.windows("par_fork")) == ["hist", "hm", "imgs", "loss", "notes"]
    loss = viz.panel.get("loss", env="par_fork")
    assert loss["traces"][0]["y"].tolist() == [0, 1, 2, 3] and loss["opts"]["title"] == "Loss"
    assert viz.panel.get("notes", env="par_fork")["text"] == "notes"
    assert len(viz.panel.get("imgs", env="par_fork")["steps"][0]["images"]) == 2
    viz.text("changed", win="notes")  # the copy is independent of its source
    assert viz.panel.get("notes", env="par_fork")["text"] == "notes"


def test_fork_env_errors(viz, server):
    viz.text("x", win="t")
    viz.text("y", win="t", env="taken")
    with pytest.raises(ValueError, match="exists already"):
        viz.fork_env("par", "taken")
    with pytest.raises(ValueError, match="does not exist"):
        viz.fork_env("nowhere", "fresh")
    with pytest.raises(ValueError, match="into itself"):
        viz.fork_env("par", "par")
    # the server refuses too (another writer may have made the env meanwhile), atomically
    status, text = _post(server.url + "/api/v1/ingest", _batch([{"op": "fork", "env": "taken", "source": "par"}]))
    assert status == 400 and "exists already" in text
    body = _batch([{"op": "fork", "env": "f1", "source": "par"}, {"op": "fork", "env": "f1", "source": "par"}])
    status, text = _post(server.url + "/api/v1/ingest", body)
    assert status == 400 and "f1" not in viz.panel.envs()


def test_fork_env_survives_restart(server_factory, tmp_path):
    srv = server_factory()
    v = Visdom(server="http://127.0.0.1", port=srv.port, env="src", spool_dir=tmp_path / "s1")
    v.line(Y=np.arange(3.0), X=np.arange(3.0), win="l")
    v.heatmap(X=np.ones((1, 2)), win="hm", opts={"rownames": ["a"]})
    v.heatmap(X=np.zeros((1, 2)), win="hm", update="appendRow", opts={"rownames": ["b"]})
    v.audio(tensor=np.ones(50), win="sound")
    v.fork_env("src", "copy")
    v.panel.close(timeout=5)
    srv.stop()
    srv.start()
    v = Visdom(server="http://127.0.0.1", port=srv.port, env="copy", spool_dir=tmp_path / "s2")
    try:  # the copy, a heatmap's joined rows and a media file are stored, not only in memory
        assert v.panel.get("l")["traces"][0]["y"].tolist() == [0, 1, 2]
        hm = v.panel.get("hm", env="src")
        assert hm["z"].tolist() == [[1, 1], [0, 0]] and hm["opts"]["yticklabels"] == ["a", "b"]
        assert v.panel.get("hm")["z"].shape == (2, 2)
        status, headers, body = _get(f"{srv.url}/api/v1/media?env=copy&win=sound")
        assert status == 200 and body[:4] == b"RIFF" and len(body) == v.panel.get("sound")["size"]
    finally:
        v.panel.close(timeout=5)


# ---------------------------------------------------------------- svg, audio, video


def _get(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _batch(ops: list[dict]) -> bytes:
    from livepanel import protocol

    return protocol.packb({"client": "paritytest01", "seq": 1, "ops": ops})


def _post(url: str, body: bytes) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/msgpack"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_audio_from_a_waveform_is_served_as_wav(viz, server):
    win = viz.audio(tensor=np.sin(np.linspace(0, 100, 4410)), opts={"sample_frequency": 8000})
    state = viz.panel.get(win)
    assert (
        state["kind"] == "media"
        and state["format"] == "wav"
        and "data" not in viz.panel._read("/window", env="par", win=win)
    )
    status, headers, body = _get(f"{server.url}/api/v1/media?env=par&win={win}")
    assert status == 200 and headers["Content-Type"] == "audio/wav" and len(body) == state["size"]
    with wave.open(io.BytesIO(body)) as w:
        assert w.getframerate() == 8000 and w.getnframes() == 4410 and w.getnchannels() == 1
    stereo = viz.audio(tensor=np.ones((10, 2)))
    viz.flush()
    with wave.open(io.BytesIO(_get(f"{server.url}/api/v1/media?env=par&win={stereo}")[2])) as w:
        assert w.getnchannels() == 2 and w.getframerate() == 44100


def test_audio_and_video_files(viz, server, tmp_path):
    ogg = tmp_path / "clip.ogg"
    ogg.write_bytes(b"OggS" + bytes(100))
    win = viz.audio(audiofile=str(ogg))
    viz.flush()
    status, headers, body = _get(f"{server.url}/api/v1/media?env=par&win={win}")
    assert headers["Content-Type"] == "audio/ogg" and body == ogg.read_bytes()
    mp4 = tmp_path / "clip.webm"
    mp4.write_bytes(b"\x1aE\xdf\xa3" + bytes(50))
    vwin = viz.video(videofile=str(mp4), opts={"width": 300, "height": 200})
    viz.flush()
    status, headers, body = _get(f"{server.url}/api/v1/media?env=par&win={vwin}")
    assert headers["Content-Type"] == "video/webm" and viz.panel.get(vwin)["opts"]["width"] == 300


def test_media_bad_input(viz, server, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="give tensor"):
        viz.audio()
    with pytest.raises(ValueError, match="1-D or N x 2"):
        viz.audio(tensor=np.ones((5, 3)))
    with pytest.raises(ValueError, match="sample_frequency"):
        viz.audio(tensor=np.ones(5), opts={"sample_frequency": -1})
    bad = tmp_path / "a.xyz"
    bad.write_bytes(b"1")
    with pytest.raises(ValueError, match="unknown audio type"):
        viz.audio(audiofile=str(bad))
    with pytest.raises(ValueError, match="give tensor"):
        viz.video()
    with pytest.raises(ValueError, match="dim must be"):
        viz.video(tensor=np.zeros((2, 4, 4, 3)), dim="HxW")
    monkeypatch.setitem(sys.modules, "av", None)  # as without PyAV installed
    with pytest.raises(ImportError, match="PyAV"):
        viz.video(tensor=np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="no <svg"):
        viz.svg(svgstr="<p>no drawing</p>")
    with pytest.raises(ValueError, match="give svgstr"):
        viz.svg()
    status, text = _post(server.url + "/api/v1/ingest", _batch([{"op": "media", "env": "par", "win": "m",
                         "format": "exe", "data": b"MZ"}]))  # fmt: skip
    assert status == 400 and "media format must be one of" in text
    viz.text("t", win="plain")
    viz.flush()
    assert _get(f"{server.url}/api/v1/media?env=par&win=plain")[0] == 404


def test_svg_is_stored_and_served_sandboxed(viz, server):
    svg = '<p>before</p><svg height="30" width="30"><ellipse cx="8" cy="8" rx="5" ry="3"/></svg> after'
    win = viz.svg(svgstr=svg, opts={"title": "SVG"})
    viz.flush()
    status, headers, body = _get(f"{server.url}/api/v1/media?env=par&win={win}")
    assert headers["Content-Type"] == "image/svg+xml" and "sandbox" in headers["Content-Security-Policy"]
    assert body.decode().startswith("<svg") and body.decode().endswith("</svg>")


# ---------------------------------------------------------------- graph


def test_graph_figure_and_bad_input():
    from livepanel import visdom_graph

    fig = visdom_graph.figure([(0, 1), (1, 2)], ["A", "B"], ["x", "y", "z"],
                              {"showEdgeLabels": True, "directed": True, "scheme": "different"})  # fmt: skip
    edges, nodes, labels = fig["data"]
    assert nodes["text"] == ["x", "y", "z"] and len(set(nodes["marker"]["color"])) == 3
    assert labels["text"] == ["A", "B"] and len(fig["layout"]["annotations"]) == 2
    assert sum(v is None for v in edges["x"]) == 2  # one segment per edge
    with pytest.raises(ValueError, match="node 1 is missing"):
        visdom_graph.figure([(0, 2)])
    with pytest.raises(ValueError, match="list of 2 labels"):
        visdom_graph.figure([(0, 1)], node_labels=["only"])
    with pytest.raises(ValueError, match="pairs|source, destination"):
        visdom_graph.figure([(0,)])


def test_graph_draws_a_plotly_window(viz):
    win = viz.graph([(0, 1), (0, 2), (1, 3)], nodeLabels=["a", "b", "c", "d"], opts={"title": "net"})
    state = viz.panel.get(win)
    assert state["kind"] == "plotly" and state["figure"]["data"][1]["text"] == ["a", "b", "c", "d"]


def test_close_forgets_trace_names_and_text(viz):
    win = viz.line(Y=np.ones((2, 2)), X=np.arange(2), opts={"legend": ["a", "b"]}, win="again")
    viz.text("t", win="again_text")
    viz.close(win)
    viz.close("again_text")
    viz.line(Y=np.ones((1, 2)), X=np.array([[0, 0]]), win=win, update="append")
    assert names(viz, win) == ["1", "2"]  # a new window: Visdom's default names, not the closed one's
    viz.text("fresh", win="again_text", append=True)
    assert viz.panel.get("again_text")["text"] == "fresh"


def test_fork_env_copies_panes_and_plotly_windows(viz):
    viz.properties([{"type": "number", "name": "lr", "value": "0.1"}], win="props")
    viz.panel.plotly({"data": [{"type": "bar", "x": [1, 2], "y": [3, 4]}], "layout": {}}, win="fig")
    viz.fork_env("par", "par_copy")
    copied = {w: viz.panel.get(w, env="par_copy") for w in viz.panel.windows("par_copy")}
    assert copied["props"]["kind"] == "properties" and copied["props"]["items"][0]["name"] == "lr"
    assert copied["fig"]["figure"]["data"][0]["type"] == "bar"


def test_window_data_of_plotly_windows_and_panes(viz):
    pie = viz.pie(X=np.array([1.0, 2.0, 3.0]))
    data = json.loads(viz.get_window_data(pie))
    assert data["type"] == "plot" and data["content"]["data"][0]["values"] == [1, 2, 3]
    data["content"]["data"][0]["values"] = [3, 2, 1]
    viz.set_window_data(data, win=pie)
    assert viz.panel.get(pie)["figure"]["data"][0]["values"] == [3, 2, 1]
    pane = viz.properties([{"type": "text", "name": "a", "value": "x"}])
    data = json.loads(viz.get_window_data(pane))
    assert data["type"] == "properties" and data["content"][0]["name"] == "a"


def test_append_by_position_after_a_trace_is_removed(viz):
    win = viz.line(Y=np.ones((2, 3)), X=np.arange(2), opts={"legend": ["a", "b", "c"]})
    viz.line(X=None, Y=None, win=win, name="a", update="remove")
    viz.line(Y=np.array([[5.0, 6.0]]), X=np.array([[2, 2]]), win=win, update="append")
    state = viz.panel.get(win)
    assert names(viz, win) == ["b", "c"] and trace(state, "b")["y"][-1] == 5 and trace(state, "c")["y"][-1] == 6


def test_media_route_needs_the_token(server_factory, tmp_path):
    srv = server_factory("--token", "media-token-1234")
    v = Visdom(server="http://127.0.0.1", port=srv.port, env="m", token="media-token-1234", spool_dir=tmp_path / "s")
    try:
        v.svg(svgstr="<svg><rect width='1' height='1'/></svg>", win="d")
        assert v.flush()
    finally:
        v.panel.close(timeout=5)
    assert _get(f"{srv.url}/api/v1/media?env=m&win=d")[0] == 401
    req = urllib.request.Request(f"{srv.url}/api/v1/media?env=m&win=d",
                                 headers={"Authorization": "Bearer media-token-1234"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200 and r.read().startswith(b"<svg")


def test_video_from_frames(viz, server):
    pytest.importorskip("av", reason="video from a tensor encodes with PyAV (optional, as in Visdom)")
    frames = np.zeros((8, 3, 16, 24), dtype=np.float64)
    frames[:, 2] = np.linspace(0, 1, 8)[:, None, None]  # red fades in (BGR, as Visdom)
    win = viz.video(tensor=frames, dim="LxCxHxW", opts={"fps": 4})
    viz.flush()
    status, headers, body = _get(f"{server.url}/api/v1/media?env=par&win={win}")
    assert status == 200 and headers["Content-Type"] == "video/mp4" and body[4:8] == b"ftyp"
    import av

    with av.open(io.BytesIO(body)) as container:
        stream = container.streams.video[0]
        decoded = [f.to_ndarray(format="bgr24") for f in container.decode(stream)]
    assert (stream.width, stream.height) == (24, 16) and len(decoded) == 8
    assert decoded[-1][..., 2].mean() > 200 and decoded[0][..., 2].mean() < 40


# ---------------------------------------------------------------- embeddings: a native embedding window


def _png_html(value: int) -> str:
    """Visdom's MNIST example's preview: an inline PNG in an <img> tag."""
    import base64

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((28, 28), value, dtype=np.uint8)).convert("RGB").save(buf, format="PNG")
    return "<img src='data:image/png;base64," + base64.b64encode(buf.getvalue()).decode() + "' />"


def test_embeddings_make_a_native_embedding_window(viz):
    rng = np.random.default_rng(3)
    feats = rng.standard_normal((30, 6))
    labels = np.arange(30) % 3 * 1.0  # np.loadtxt's labels, as in Visdom's MNIST example
    win = viz.embeddings(feats, labels, opts={"title": "Feats"})
    state = viz.panel.get(win)
    assert state["kind"] == "embedding" and state["opts"]["title"] == "Feats" and len(state["steps"]) == 1
    step = state["steps"][0]
    assert step["labels"] == [str(i % 3) for i in range(30)] and step["features"].shape == (30, 6)
    assert step["projections"]["pca"].shape == (30, 3) and "thumbs" not in step
    # again into the same window: drawn anew (Visdom replaces the window), not a second step
    viz.embeddings(feats[:10], ["a", "b"] * 5, win=win)
    state = viz.panel.get(win)
    assert len(state["steps"]) == 1 and state["steps"][0]["labels"] == ["a", "b"] * 5
    data = json.loads(viz.get_window_data(win))
    assert data["type"] == "embeddings" and len(data["content"]["data"]) == 10
    point = data["content"]["data"][3]
    assert point["label"] == "b" and point["group"] == 1 and point["idx"] == 3 and len(point["position"]) == 2


def test_embeddings_previews_become_thumbnails(viz):
    feats = np.random.default_rng(4).standard_normal((12, 4))
    calls: list[int] = []

    def html(i: int) -> str:
        calls.append(i)
        return _png_html(20 * i)

    win = viz.embeddings(feats, list(range(12)), data_getter=html, data_type="html")
    thumbs = viz.panel.get(win)["steps"][0]["thumbs"]
    assert calls == list(range(12)) and len(thumbs) == 12 and all(t.startswith(b"\x89PNG") for t in thumbs)
    from PIL import Image

    with Image.open(io.BytesIO(thumbs[5])) as im:
        assert im.size == (28, 28) and im.convert("L").getpixel((3, 3)) == 100
    # a getter returning image arrays (CHW floats in [0, 1])
    win = viz.embeddings(feats, list(range(12)), data_getter=lambda i: np.full((3, 8, 8), i / 11))
    assert len(viz.panel.get(win)["steps"][0]["thumbs"]) == 12
    # other HTML, or something that is not an image: no thumbnails, and the getter is not called for all points
    calls.clear()
    for getter in (lambda i: calls.append(i) or f"<b>point {i}</b>", lambda i: calls.append(i) or np.arange(4.0)):
        win = viz.embeddings(feats, list(range(12)), data_getter=getter, data_type="html")
        assert "thumbs" not in viz.panel.get(win)["steps"][0] and calls == [0]
        calls.clear()


def test_embeddings_bad_input(viz):
    with pytest.raises(ValueError, match="N x D"):
        viz.embeddings(np.arange(5.0), [0] * 5)
    with pytest.raises(ValueError, match="3 labels for 4 points"):
        viz.embeddings(np.ones((4, 2)), [0, 1, 2])
    with pytest.raises(TypeError, match="labels must be a sequence"):
        viz.embeddings(np.ones((4, 2)), "abcd")
    with pytest.raises(TypeError, match="data_getter must be a function"):
        viz.embeddings(np.ones((4, 2)), [0] * 4, data_getter=["<img>"] * 4)
    with pytest.raises(ValueError, match="non-finite"):
        viz.embeddings(np.array([[1.0, np.nan], [0, 1]]), [0, 1])


# ---------------------------------------------------------------- per-point styles in an append


def test_an_append_keeps_its_points_colours_and_labels(viz):
    red, blue, green = [255, 0, 0], [0, 0, 255], [0, 255, 0]
    win = viz.scatter(X=np.zeros((3, 2)), Y=np.array([1, 2, 1]), opts={"legend": ["a", "b"],
                      "markercolor": np.array([red, blue, red]), "textlabels": ["p0", "p1", "p2"]})  # fmt: skip
    # an append by label: each trace's colours and labels extend its own lists
    viz.scatter(X=np.ones((3, 2)), Y=np.array([2, 1, 2]), win=win, update="append",
                opts={"markercolor": np.array([green, blue, green]), "textlabels": ["q0", "q1", "q2"]})  # fmt: skip
    opts = viz.panel.get(win)["opts"]
    assert opts["trace:a"]["markercolors"] == ["#ff0000", "#ff0000", "#0000ff"]
    assert opts["trace:b"]["markercolors"] == ["#0000ff", "#00ff00", "#00ff00"]
    assert opts["trace:a"]["text"] == ["p0", "p2", "q1"] and opts["trace:b"]["text"] == ["p1", "q0", "q2"]
    # an append without them keeps the lists (its points draw in the trace's colour), a later one pads
    viz.scatter(X=np.ones((1, 2)), Y=np.array([1]), win=win, update="append", opts={"linecolor": np.array([red])})
    viz.scatter(X=np.ones((1, 2)), Y=np.array([1]), win=win, update="append", opts={"textlabels": ["r"]})
    state = viz.panel.get(win)
    a = state["opts"]["trace:a"]
    assert a["markercolors"] == ["#ff0000", "#ff0000", "#0000ff"] and a["color"] == "#ff0000"
    assert a["text"] == ["p0", "p2", "q1", "", "r"] and trace(state, "a")["n"] == 5
    assert state["opts"]["trace:b"]["text"] == ["p1", "q0", "q2"]
    # a line's insert with `name`: only that trace's list grows; a new trace starts its own
    ln = viz.line(Y=np.array([1.0, 2.0]), X=np.arange(2), name="u", opts={"textlabels": ["u0", "u1"]})
    viz.line(Y=np.array([3.0]), X=np.array([2]), win=ln, name="u", update="append", opts={"textlabels": ["u2"]})
    viz.line(Y=np.array([3.0]), X=np.array([0]), win=ln, name="v", update="insert", opts={"textlabels": ["v0"]})
    opts = viz.panel.get(ln)["opts"]
    assert opts["trace:u"]["text"] == ["u0", "u1", "u2"] and opts["trace:v"]["text"] == ["v0"]


def test_per_point_lists_stop_at_the_limit():
    from livepanel import trace_style

    long = {"trace:a": {"text": ["x"] * 9999}}
    out = trace_style.appended({"trace:a": {"text": ["y", "z"]}, "title": "T"}, long, "a", 9999)
    assert len(out["trace:a"]["text"]) == trace_style.MAX_POINTS and out["trace:a"]["text"][-1] == "y"
    assert out["title"] == "T"
    # another trace's lists in the op are not taken: that trace's points are not the op's
    assert trace_style.appended({"trace:b": {"text": ["n"], "dash": "dot"}}, {}, "a", 0) == {"trace:b": {"dash": "dot"}}
