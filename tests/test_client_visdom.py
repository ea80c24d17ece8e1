"""Visdom training code runs after changing one import."""

from __future__ import annotations

import numpy as np
import pytest

from livepanel.visdom import Visdom


def trace(state: dict, name: str = "") -> dict:
    return next(t for t in state["traces"] if t["name"] == name)


@pytest.fixture
def viz(server, tmp_path):
    port = server.url.rsplit(":", 1)[1]
    v = Visdom(server="http://127.0.0.1", port=int(port), env="vis", spool_dir=tmp_path / "spool",
               use_incoming_socket=False, raise_exceptions=True)  # fmt: skip
    yield v
    v.panel.close(timeout=5)


def test_visdom_training_script(viz):
    assert viz.check_connection(timeout_seconds=2)
    win = viz.line(Y=np.array([1.0]), X=np.array([0]), opts={"title": "loss", "xtype": "linear", "ytype": "log"})
    for epoch in range(1, 5):
        viz.line(Y=np.array([1.0 / (epoch + 1)]), X=np.array([epoch]), win=win, update="append")
    viz.line(Y=np.array([0.5, 0.4]), X=np.array([0, 1]), win=win, name="val", update="append")
    state = viz.panel.get(win)
    np.testing.assert_array_equal(trace(state)["x"], np.arange(5))
    assert trace(state, "val")["n"] == 2 and state["opts"]["ylog"] is True and state["opts"]["title"] == "loss"
    assert state["opts"]["xlabel"] == ""  # as Visdom: no name under X (the page would say "step")
    named = viz.line(Y=np.array([1.0]), X=np.array([0]), opts={"xlabel": "epoch"})
    viz.line(Y=np.array([2.0]), X=np.array([1]), win=named, update="append")
    assert viz.panel.get(named)["opts"]["xlabel"] == "epoch"
    two = viz.line(Y=np.ones((3, 2)), X=np.arange(3), opts={"legend": ["a", "b"]})
    assert {t["name"] for t in viz.panel.get(two)["traces"]} == {"a", "b"}
    viz.line(Y=np.zeros(4), win=two)  # update=None: a new plot replaces the window
    assert [t["name"] for t in viz.panel.get(two)["traces"]] == [""]
    viz.line(Y=None, win=win, name="val", update="remove")
    assert [t["name"] for t in viz.panel.get(win)["traces"]] == [""]


def test_visdom_other_methods(viz):
    pts = np.random.default_rng(0).random((20, 2))
    s = viz.scatter(X=pts, Y=np.arange(20) % 2 + 1, opts={"legend": ["even", "odd"], "markersize": 5})
    assert {t["name"] for t in viz.panel.get(s)["traces"]} == {"even", "odd"}
    b = viz.bar(X=np.array([3, 1, 2]), opts={"rownames": ["x", "y", "z"]})
    assert viz.panel.get(b)["labels"] == ["x", "y", "z"]
    h = viz.histogram(X=np.random.default_rng(1).random(1000), opts={"numbins": 12})
    assert len(viz.panel.get(h)["steps"][0]["counts"]) == 12
    hm = viz.heatmap(X=np.eye(3), opts={"columnnames": ["a", "b", "c"], "rownames": ["d", "e", "f"]})
    assert viz.panel.get(hm)["opts"]["xticklabels"] == ["a", "b", "c"]
    im = viz.image(np.zeros((3, 8, 8)), opts={"caption": "zeros", "jpgquality": 80, "store_history": True})
    img = viz.panel.get(im)["steps"][0]["images"][0]
    assert img["caption"] == "zeros" and img["format"] == "jpeg"
    ims = viz.images(np.zeros((4, 3, 8, 8)), nrow=2, opts={"title": "batch"})
    assert len(viz.panel.get(ims)["steps"][0]["images"]) == 4
    t = viz.text("hello")
    viz.text(" again", win=t, append=True)
    assert viz.panel.get(t)["text"] == "hello<br> again"  # as Visdom: an append starts a new line
    assert viz.win_exists(t) and not viz.win_exists("nope")
    viz.close(win=t)
    assert not viz.win_exists(t)
    assert "vis" in viz.get_env_list()
    viz.close()  # every window of the env
    assert viz.panel.windows() == []
    with pytest.raises(NotImplementedError, match="docs/client.md"):
        viz.replay_log("log.txt")


def test_visdom_check_connection_when_down(tmp_path):
    v = Visdom(server="http://127.0.0.1", port=9, spool_dir=tmp_path / "spool")
    assert v.check_connection() is False
    v.panel.close(timeout=0)
