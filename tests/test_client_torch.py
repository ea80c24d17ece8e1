"""torch tensors as inputs (skipped where torch is absent; torch is never a dependency)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import livepanel

torch = pytest.importorskip("torch")


def trace(state: dict, name: str = "") -> dict:
    return next(t for t in state["traces"] if t["name"] == name)


@pytest.fixture
def panel(server, tmp_path):
    p = livepanel.Panel(server.url, env="torch", spool_dir=tmp_path / "spool")
    yield p
    p.close(timeout=5)


def test_tensors_round_trip(panel):
    loss = torch.tensor(0.25, requires_grad=True) * 2
    panel.line(torch.tensor(3), loss, win="loss")  # 0-d tensors, one with grad
    panel.log({"acc/val": torch.tensor([0.75])}, step=torch.tensor(3))
    w = torch.randn(1000, dtype=torch.float16)
    panel.histogram(w, win="w")
    panel.line(torch.arange(4), torch.ones(4, dtype=torch.bfloat16), win="bf")
    panel.heatmap(torch.eye(3, dtype=torch.int64), win="hm")
    panel.bar(torch.tensor([True, False]), win="bar")
    assert trace(panel.get("loss"))["y"].tolist() == [0.5]
    assert trace(panel.get("acc"), "val")["x"].tolist() == [3.0]
    assert panel.get("w")["steps"][0]["stats"]["n"] == 1000
    assert trace(panel.get("bf"))["y"].tolist() == [1.0] * 4
    np.testing.assert_array_equal(panel.get("hm")["z"], np.eye(3))
    np.testing.assert_array_equal(panel.get("bar")["y"], [1, 0])


def test_tensor_value_is_taken_at_call(panel):
    t = torch.zeros(3)
    panel.line(t, win="snap")
    t.add_(5)  # in place after the call
    img = torch.zeros(3, 4, 4)
    panel.image(img, win="img")
    img.fill_(1.0)
    assert trace(panel.get("snap"))["y"].tolist() == [0.0, 0.0, 0.0]
    data = panel.get("img")["steps"][0]["images"][0]["data"]
    assert np.asarray(Image.open(io.BytesIO(data))).max() == 0


def test_tensor_images(panel):
    batch = torch.rand(4, 3, 6, 5)
    panel.images(batch, win="batch", nrow=2)
    panel.image(batch[0], win="one")
    imgs = panel.get("batch")["steps"][0]["images"]
    assert len(imgs) == 4 and (imgs[0]["width"], imgs[0]["height"]) == (5, 6)
    expected = (batch[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    got = np.asarray(Image.open(io.BytesIO(panel.get("one")["steps"][0]["images"][0]["data"])))
    np.testing.assert_array_equal(got, expected)


def test_bad_tensor_inputs(panel):
    with pytest.raises(TypeError, match="complex"):
        panel.line(torch.ones(2, dtype=torch.complex64), win="c")
    with pytest.raises(ValueError, match="scalar"):
        panel.log({"a": torch.ones(3)})
    with pytest.raises(ValueError, match="HW, HWC or CHW"):
        panel.image(torch.zeros(2, 3, 4, 4), win="i")
