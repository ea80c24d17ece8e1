"""The Panel API against a real server: every method round-trips through `get`, bad input raises."""

from __future__ import annotations

import io
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

import livepanel
from livepanel.client.sender import PACE_BURST
from livepanel.client.transport import DEFAULT_URL, resolve_token, resolve_url


@pytest.fixture
def panel(server, tmp_path):
    p = livepanel.Panel(server.url, env="api", spool_dir=tmp_path / "spool", max_backoff=0.2)
    yield p
    p.close(timeout=5)


@pytest.fixture
def offline(tmp_path):
    """A Panel whose server is not there (argument checks need no server)."""
    p = livepanel.Panel("http://127.0.0.1:9", env="api", spool_dir=tmp_path / "spool", replay_spool=False)
    yield p
    p.close(timeout=0)


def trace(state: dict, name: str = "") -> dict:
    return next(t for t in state["traces"] if t["name"] == name)


def test_import_is_light():
    code = "import sys, livepanel; livepanel.Panel; print('tornado' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_url_and_token_resolution(monkeypatch):
    monkeypatch.delenv("LIVEPANEL_URL", raising=False)
    monkeypatch.delenv("LIVEPANEL_TOKEN", raising=False)
    assert resolve_url(None) == DEFAULT_URL
    assert resolve_token(None) is None
    monkeypatch.setenv("LIVEPANEL_URL", "http://127.0.0.1:1234/")
    monkeypatch.setenv("LIVEPANEL_TOKEN", "tok")
    assert resolve_url(None) == "http://127.0.0.1:1234"
    assert resolve_url("http://127.0.0.1:5") == "http://127.0.0.1:5"
    assert resolve_token(None) == "tok" and resolve_token("x") == "x"


def test_line_round_trip(panel):
    for step in range(100):
        panel.line(step, step * 0.5, win="loss", name="train")
    panel.line([0.3, 0.2], win="loss", name="val")  # y only: x continues from 0
    panel.line(np.float32(0.1), win="loss", name="val")
    panel.line(np.arange(3), np.ones((3, 2)), win="two", opts={"legend": ["a", "b"], "title": "Two"})
    state = panel.get("loss")
    train = trace(state, "train")
    assert state["kind"] == "line"
    np.testing.assert_array_equal(train["x"], np.arange(100))
    np.testing.assert_array_equal(train["y"], np.arange(100) * 0.5)
    assert len(train["t"]) == 100 and np.all(np.diff(train["t"]) >= 0)
    np.testing.assert_array_equal(trace(state, "val")["x"], [0, 1, 2])
    np.testing.assert_allclose(trace(state, "val")["y"], [0.3, 0.2, 0.1], rtol=1e-6)
    two = panel.get("two")
    assert {t["name"] for t in two["traces"]} == {"a", "b"} and two["opts"]["title"] == "Two"
    panel.line([5.0, 6.0], win="loss", name="train", update="replace")
    panel.line(None, win="loss", name="val", update="remove")
    state = panel.get("loss")
    assert [t["name"] for t in state["traces"]] == ["train"]
    np.testing.assert_array_equal(trace(state, "train")["y"], [5.0, 6.0])


def test_log_groups_by_prefix(panel):
    for step in range(20):
        panel.log({"loss/train": 1.0 / (step + 1), "loss/val": 2.0, "lr": np.float64(0.1)}, step=step * 10)
    loss = panel.get("loss")
    assert {t["name"] for t in loss["traces"]} == {"train", "val"}
    np.testing.assert_array_equal(trace(loss, "train")["x"], np.arange(20) * 10)
    np.testing.assert_array_equal(trace(panel.get("lr"))["y"], [0.1] * 20)
    assert set(panel.windows()) >= {"loss", "lr"} and "api" in panel.envs()


def test_scatter_round_trip(panel):
    xy = np.random.default_rng(0).random((30, 2))
    labels = np.arange(30) % 3
    panel.scatter(xy, win="emb", labels=labels)
    panel.scatter(1.0, 2.0, win="pts")
    panel.scatter([3.0], [4.0], win="pts")
    state = panel.get("emb")
    assert state["kind"] == "scatter" and {t["name"] for t in state["traces"]} == {"0", "1", "2"}
    np.testing.assert_allclose(trace(state, "1")["x"], xy[labels == 1, 0])
    np.testing.assert_array_equal(trace(panel.get("pts"))["y"], [2.0, 4.0])


def test_bar_heatmap_text_round_trip(panel):
    panel.bar([3, 1, 2], win="classes", labels=["cat", "dog", "eel"])
    panel.bar(np.ones((2, 3)), win="multi")
    z = np.arange(12, dtype=np.float32).reshape(3, 4)
    panel.heatmap(z, win="conf", opts={"colormap": "viridis"})
    panel.text("**hello**", win="notes")
    panel.text(" world", win="notes", append=True)
    bar = panel.get("classes")
    np.testing.assert_array_equal(bar["y"], [3, 1, 2])
    assert bar["labels"] == ["cat", "dog", "eel"]
    assert panel.get("multi")["y"].shape == (2, 3)
    np.testing.assert_array_equal(panel.get("conf")["z"], z)
    assert panel.get("notes")["text"] == "**hello** world"


def test_histogram_round_trip(panel):
    values = np.random.default_rng(1).normal(size=10_000)
    values[:5] = np.nan
    panel.histogram(values, win="w", bins=20)
    panel.histogram([1, 2, 3], win="w", step=7, bins=[0, 2, 4])
    steps = panel.get("w")["steps"]
    assert [s["step"] for s in steps][-1] == 7
    first = steps[0]
    assert len(first["counts"]) == 20 and len(first["edges"]) == 21
    assert first["counts"].sum() == 9995 and first["stats"]["nan"] == 5 and first["stats"]["n"] == 9995
    assert abs(first["stats"]["mean"] - np.nanmean(values)) < 1e-9
    np.testing.assert_array_equal(steps[-1]["counts"], [1, 2])


def test_batch_sends_its_calls_in_one_request(panel):
    panel.line(0, 1.0, win="b")
    assert panel.flush(5)
    for _ in range(200):  # the sender goes back to sleep after the acknowledgement
        if panel._sender.idle:
            break
        time.sleep(0.005)
    before = panel.stats["batches"]
    with panel.batch() as same:
        assert same is panel
        panel.log({"b/other": 3.0}, step=1)
        time.sleep(0.05)  # work between the calls: an awake sender would have sent the first one alone
        panel.line(1, 2.0, win="b")
        panel.histogram(np.arange(100.0), win="bh", step=1)
        panel.text("in the same request", win="bt")
        assert panel.stats["batches"] == before  # nothing was sent while inside
    assert panel.flush(5)
    assert panel.stats["batches"] == before + 1
    assert trace(panel.get("b"))["y"].tolist() == [1.0, 2.0]
    assert panel.get("bt")["text"] == "in the same request"


def test_a_long_batch_keeps_the_queue_bounded(server, tmp_path):
    p = livepanel.Panel(server.url, env="longbatch", spool_dir=tmp_path / "spool", max_queue=1000)
    try:
        with p.batch():
            for step in range(5000):
                p.line(step, float(step), win="w")
                assert len(p._q) <= 1001
        assert trace(p.get("w"))["y"].tolist() == [float(s) for s in range(5000)]
    finally:
        p.close(timeout=5)


def test_requests_are_paced_but_a_lone_point_leaves_at_once(server, tmp_path):
    # An interval far longer than a request takes, even on a loaded machine: held back or not is then clear.
    interval = 1.0
    p = livepanel.Panel(server.url, env="pace", spool_dir=tmp_path / "spool", send_interval=interval)
    try:
        p.line(0, 0.0, win="w")
        assert p.flush(5)
        before, start = p.stats["batches"], time.monotonic()
        p.line(1, 1.0, win="w")
        while p.stats["batches"] == before and time.monotonic() - start < 5:
            time.sleep(0.001)
        assert time.monotonic() - start < interval / 2  # not held back: the burst allowance has room
        # a loop logging every millisecond: one request per interval, not one per point
        before, start = p.stats["batches"], time.monotonic()
        for step in range(2, 302):
            p.line(step, float(step), win="w")
            time.sleep(0.001)
        elapsed = time.monotonic() - start
        assert p.flush(5)
        requests = p.stats["batches"] - before
        assert requests <= elapsed / interval + PACE_BURST + 1, (requests, elapsed)  # without pacing: about 300
        assert trace(p.get("w"))["y"].tolist() == [float(s) for s in range(302)]
    finally:
        p.close(timeout=5)


def decode(img: dict) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(img["data"])))


def test_image_layouts_round_trip(panel):
    rng = np.random.default_rng(2)
    chw = rng.integers(0, 256, (3, 20, 30), dtype=np.uint8)
    panel.image(chw, win="img", caption="chw")
    hwc = chw.transpose(1, 2, 0)
    panel.image(hwc, win="img")
    panel.image(np.full((5, 6), 0.5), win="gray")  # HW float in [0, 1]
    panel.image(Image.fromarray(hwc), win="pil", format="jpeg")
    panel.image(hwc, win="webp", format="webp", quality=80)
    steps = panel.get("img")["steps"]
    assert len(steps) == 2 and steps[0]["images"][0]["caption"] == "chw"
    for s in steps:
        img = s["images"][0]
        assert (img["width"], img["height"], img["format"]) == (30, 20, "png")
        np.testing.assert_array_equal(decode(img), hwc)
    np.testing.assert_array_equal(decode(panel.get("gray")["steps"][0]["images"][0]), np.full((5, 6), 128))
    assert panel.get("pil")["steps"][0]["images"][0]["format"] == "jpeg"
    assert panel.get("webp")["steps"][0]["images"][0]["format"] == "webp"


def test_images_batch_round_trip(panel):
    batch = np.random.default_rng(3).random((6, 3, 8, 10)).astype(np.float32)
    panel.images(batch, win="grid", nrow=3, captions=[f"#{i}" for i in range(6)])
    state = panel.get("grid")
    imgs = state["steps"][0]["images"]
    assert len(imgs) == 6 and state["opts"]["nrow"] == 3 and imgs[5]["caption"] == "#5"
    expected = (batch[0].transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(decode(imgs[0]), expected)
    panel.images([np.zeros((4, 4)), Image.new("RGB", (4, 4))], win="list")
    assert len(panel.get("list")["steps"][0]["images"]) == 2


def test_value_is_taken_at_call(panel):
    a = np.zeros(4)
    panel.line(a, win="snap")
    a[:] = 9  # changed in place after the call: the logged value must not change
    img = np.zeros((4, 4), np.uint8)
    panel.image(img, win="snapimg")
    img[:] = 255
    np.testing.assert_array_equal(trace(panel.get("snap"))["y"], np.zeros(4))
    assert decode(panel.get("snapimg")["steps"][0]["images"][0]).max() == 0


def test_close_window_and_delete_env(panel):
    panel.line(1.0, win="gone")
    panel.line(1.0, win="kept")
    panel.close("gone")
    panel.flush(5)
    assert "gone" not in panel.windows() and "kept" in panel.windows()
    with pytest.raises(KeyError, match="gone"):
        panel.get("gone")
    panel.line(1.0, win="x", env="other")
    panel.delete_env("other")
    panel.flush(5)
    assert "other" not in panel.envs()


def test_context_manager_flushes(server, tmp_path):
    with livepanel.Panel(server.url, env="ctx", spool_dir=tmp_path / "s") as p:
        p.line(np.arange(1000), np.arange(1000), win="w")
    reader = livepanel.Panel(server.url, env="ctx", spool_dir=tmp_path / "s2")
    assert trace(reader.get("w"))["n"] == 1000
    with pytest.raises(RuntimeError, match="closed"):
        p.line(1.0, win="w")
    reader.close()
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").iterdir())  # nothing left in the spool


BAD_CALLS = [
    (lambda p: p.line("abc", win="w"), TypeError, "expected numbers"),
    (lambda p: p.line([1, 2], [1, 2, 3], win="w"), ValueError, "shape"),
    (lambda p: p.line(np.ones((2, 2, 2)), win="w"), ValueError, "1-D or 2-D"),
    (lambda p: p.line(1.0, win=""), ValueError, "window name"),
    (lambda p: p.line(1.0, win=["w"]), TypeError, "window name must be a string"),
    (lambda p: p.line(1.0, win="w", name=" x"), ValueError, "trace name"),
    (lambda p: p.line(1.0, win="w", update="insert"), ValueError, "update must be one of"),
    (lambda p: p.line(1.0, win="w", opts={"titel": "x"}), ValueError, "unknown option 'titel'"),
    (lambda p: p.line(1.0, win="w", opts={"title": 3}), TypeError, "option 'title' must be a string"),
    (lambda p: p.line(1.0, win="w", opts=["title"]), TypeError, "opts must be a dict"),
    (lambda p: p.line(np.array([1 + 2j]), win="w"), TypeError, "real numbers"),
    (lambda p: p.line(1.0, win="w", env="bad\n"), ValueError, "control characters"),
    (lambda p: p.scatter(np.ones((3, 3)), win="s"), ValueError, r"\(N, 2\)"),
    (lambda p: p.scatter([1, 2], [1, 2], win="s", labels=[1]), ValueError, "same length"),
    (lambda p: p.bar(np.ones((2, 2, 2)), win="b"), ValueError, "1-D or 2-D"),
    (lambda p: p.bar([1, 2], win="b", labels=["a"]), ValueError, "2 entries"),
    (lambda p: p.heatmap([1, 2, 3], win="h"), ValueError, "2-D"),
    (lambda p: p.histogram("x", win="h"), TypeError, "expected numbers"),
    (lambda p: p.histogram([1, 2], win="h", bins=0), ValueError, "bins"),
    (lambda p: p.histogram([1, 2], win="h", step=1.5), TypeError, "step must be an integer"),
    (lambda p: p.image(np.zeros((5, 5, 5)), win="i"), ValueError, "HW, HWC or CHW"),
    (lambda p: p.image(np.zeros(5), win="i"), ValueError, "HW, HWC or CHW"),
    (lambda p: p.image("cat.png", win="i"), TypeError, "PIL image"),
    (lambda p: p.image(np.zeros((4, 4)), win="i", format="gif"), ValueError, "format must be"),
    (lambda p: p.images(np.zeros((2, 4)), win="i"), ValueError, "NCHW"),
    (lambda p: p.images(np.zeros((2, 3, 4, 4)), win="i", captions=["a"]), ValueError, "2 entries"),
    (lambda p: p.images(np.zeros((2, 3, 4, 4)), win="i", nrow=0), ValueError, "nrow"),
    (lambda p: p.text(3, win="t"), TypeError, "text must be a string"),
    (lambda p: p.text("a\x00", win="t"), ValueError, "NUL character"),
    (lambda p: p.text("a" * (1 << 20 | 1), win="t"), ValueError, "the limit is 1048576"),
    (lambda p: p.log([1, 2]), TypeError, "dict"),
    (lambda p: p.log({"a": "x"}), TypeError, "expected a number"),
    (lambda p: p.log({"/a": 1.0}), ValueError, "window name"),
    (lambda p: p.log({3: 1.0}), TypeError, "keys must be strings"),
    (lambda p: p.close(env="main"), TypeError, "delete_env"),
]


@pytest.mark.parametrize("call,exc,match", BAD_CALLS, ids=[str(i) for i in range(len(BAD_CALLS))])
def test_bad_input_raises_at_call_site(offline, call, exc, match):
    with pytest.raises(exc, match=match):
        call(offline)
    assert len(offline._q) == 0  # nothing was queued by a failed call


def test_bad_constructor_arguments(tmp_path):
    with pytest.raises(ValueError, match="url"):
        livepanel.Panel("ftp://127.0.0.1", spool_dir=tmp_path)
    with pytest.raises(ValueError, match="env name"):
        livepanel.Panel("http://127.0.0.1:9", env="", spool_dir=tmp_path)
    with pytest.raises(TypeError, match="token"):
        livepanel.Panel("http://127.0.0.1:9", token=5, spool_dir=tmp_path)
    with pytest.raises(ValueError, match="send_interval must be a number of seconds"):
        livepanel.Panel("http://127.0.0.1:9", send_interval=-1, spool_dir=tmp_path)


def test_matplotlib_figure(panel):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1), dpi=50)
    fig.add_subplot().plot([1, 3, 2])
    panel.image(fig, win="fig")
    img = panel.get("fig")["steps"][0]["images"][0]
    assert (img["width"], img["height"]) == (100, 50) and img["format"] == "png"
