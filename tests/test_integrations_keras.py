"""Keras 3 on the torch backend: LivePanelCallback in model.fit logs every metric and the learning rate."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import livepanel

if "keras" not in sys.modules:  # the backend is chosen when Keras is first imported
    os.environ["KERAS_BACKEND"] = "torch"
pytest.importorskip("torch")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":
    pytest.skip("Keras was imported with another backend", allow_module_level=True)

from livepanel.integrations.keras import LivePanelCallback, series_name  # noqa: E402


def tiny_fit(callback, epochs: int = 2, lr=0.01):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 4), dtype=np.float32), rng.integers(0, 3, 64)
    # 48 training samples in batches of 16: 3 batches per epoch; 16 for validation
    return model.fit(x, y, batch_size=16, epochs=epochs, validation_split=0.25, verbose=0, callbacks=[callback])


def traces(panel, win, env=None):
    return {t["name"]: t for t in panel.get(win, env)["traces"]}


def test_series_names():
    assert series_name("loss") == "loss/train"
    assert series_name("val_loss") == "loss/val"
    assert series_name("val_sparse_categorical_accuracy") == "sparse_categorical_accuracy/val"


def test_every_batch(server, tmp_path):
    with livepanel.Panel(server.url, env="keras/batch", spool_dir=tmp_path) as panel:
        history = tiny_fit(LivePanelCallback(panel))
        assert sorted(panel.windows()) == ["accuracy", "loss", "lr"]
        loss = traces(panel, "loss")
        assert list(loss["train"]["x"]) == [0, 1, 2, 3, 4, 5]
        assert list(loss["val"]["x"]) == [2, 5]  # at the last batch of each epoch
        np.testing.assert_allclose(loss["val"]["y"], history.history["val_loss"], rtol=1e-5)
        np.testing.assert_allclose(loss["train"]["y"][[2, 5]], history.history["loss"], rtol=1e-5)
        assert set(traces(panel, "accuracy")) == {"train", "val"}
        lr = traces(panel, "lr")[""]
        assert list(lr["x"]) == [0, 1, 2, 3, 4, 5]
        np.testing.assert_allclose(lr["y"], 0.01, rtol=1e-6)
        assert panel.get("loss")["opts"]["xlabel"] == "batch"


def test_every_epoch_with_schedule(server, tmp_path):
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    with livepanel.Panel(server.url, env="keras/epoch", spool_dir=tmp_path) as panel:
        history = tiny_fit(LivePanelCallback(panel, every="epoch"), epochs=3, lr=schedule)
        loss = traces(panel, "loss")
        assert list(loss["train"]["x"]) == list(loss["val"]["x"]) == [0, 1, 2]
        np.testing.assert_allclose(loss["train"]["y"], history.history["loss"], rtol=1e-5)
        lr = traces(panel, "lr")[""]["y"]
        assert np.all(np.diff(lr) < 0)  # the schedule's current value, not its initial one
        np.testing.assert_allclose(lr[0], 0.1 * 0.5**3, rtol=1e-5)  # after the 3 steps of epoch 0
        assert panel.get("accuracy")["opts"]["xlabel"] == "epoch"


def test_bad_every():
    with pytest.raises(ValueError, match="every must be"):
        LivePanelCallback(panel=object(), every="step")  # type: ignore[arg-type]
