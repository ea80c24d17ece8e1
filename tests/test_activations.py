"""Per-layer weight norms and update ratios from `watch`, and layer outputs (`watch(activations=True)`,
`panel.activations`), against a real server and client."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from serverproc import ServerProcess

import livepanel

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import livepanel.integrations.torch as bridge  # noqa: E402
from livepanel.integrations import activations as acts  # noqa: E402
from livepanel.integrations.torch import unwatch, watch  # noqa: E402


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = ServerProcess(tmp_path_factory.mktemp("activations") / "data", store="memory").start()
    yield s
    s.stop()


@pytest.fixture
def panel(srv, tmp_path, request):
    env = request.node.name.replace("[", "-").replace("]", "")
    with livepanel.Panel(srv.url, env=env, spool_dir=tmp_path) as p:
        yield p


def traces(panel, win: str) -> dict[str, tuple[list, list]]:
    return {t["name"]: (list(t["x"]), list(t["y"])) for t in panel.get(win)["traces"]}


def no_hooks(model: nn.Module) -> bool:
    return not any(m._forward_hooks for m in model.modules()) and not any(
        p._post_accumulate_grad_hooks for p in model.parameters()
    )


def flat(module: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1).clone() for p in module.parameters()])


@pytest.mark.parametrize(
    "bin_here,histograms,updates",
    [(1 << 16, True, True), (0, True, True), (0, False, True), (0, False, False), (1 << 16, False, True)],
)  # host buffers or clones; with and without histograms; update ratios off
def test_weight_norm_and_update_ratio(panel, monkeypatch, bin_here, histograms, updates):
    monkeypatch.setattr(bridge, "BIN_HERE", bin_here)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    watch(panel, model, every=4, histograms=histograms, updates=updates)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(32, 4, generator=gen), torch.randint(0, 3, (32,), generator=gen)
    norms: dict[str, list[float]] = {"0": [], "2": []}
    ratios: dict[str, list[float]] = {"0": [], "2": []}
    for step in range(10):  # logs 0, 4, 8; the ratio of 8 at the forward of 9
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        before = {name: flat(model[int(name)]) for name in norms}
        opt.step()
        if step % 4 == 0:
            for name, w in before.items():
                norms[name].append(float(w.norm()))
                ratios[name].append(float((flat(model[int(name)]) - w).norm() / w.norm()))
    got = traces(panel, "weight_norm")
    assert list(got) == ["0", "2"]
    for name, (xs, ys) in got.items():
        assert xs == [0, 4, 8]
        np.testing.assert_allclose(ys, norms[name], rtol=1e-5)
    if not updates:
        assert "update_ratio" not in panel.windows()
        return
    got = traces(panel, "update_ratio")
    assert list(got) == ["0", "2"]
    for name, (xs, ys) in got.items():
        assert xs == [0, 4, 8]
        np.testing.assert_allclose(ys, ratios[name], rtol=1e-4)
        assert all(0 < r < 1 for r in ys)


def convnet() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))


@pytest.mark.parametrize("bin_here", [0, 1 << 16])  # every histogram binned on the sender; all in the hook
def test_watch_logs_layer_outputs_on_logging_steps_only(panel, monkeypatch, bin_here):
    monkeypatch.setattr(acts, "BIN_HERE", bin_here)
    recorded = []
    record = acts.Recorder._record
    monkeypatch.setattr(
        acts.Recorder, "_record", lambda self, name, out: (recorded.append(name), record(self, name, out))
    )
    model = convnet()
    w = watch(panel, model, every=5, activations=True)
    assert [name for name, _ in w.recorder.layers] == ["0", "1", "3"]  # leaves with parameters, and the ReLU
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(16, 1, 8, 8, generator=gen), torch.randint(0, 3, (16,), generator=gen)
    truth = {}
    for step in range(12):
        if step % 5 == 0:  # the outputs the logging step's forward will see (direct calls: no hooks armed)
            with torch.no_grad():
                conv = model[0](x)
                truth[step] = {"0": conv, "1": conv.relu(), "3": model[3](conv.relu().flatten(1))}
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        assert no_hooks(model), f"hooks left after step {step}"
        assert len(recorded) == 3 * (step // 5 + 1)  # one record per layer per logging step, none between
    kinds = {name: panel.get(name)["kind"] for name in panel.windows()}
    assert {
        name: kind for name, kind in kinds.items() if "/" in name and name.split("/")[0] in ("activations", "features")
    } == {
        "activations/0": "histogram",
        "activations/1": "histogram",
        "activations/3": "histogram",
        "features/0": "image",
    }
    for win in ("act_mean", "act_std"):
        assert kinds[win] == "line" and list(traces(panel, win)) == ["0", "1", "3"]
    for name in "013":
        mean_x, mean_y = traces(panel, "act_mean")[name]
        std_y = traces(panel, "act_std")[name][1]
        assert mean_x == [0, 5, 10]
        np.testing.assert_allclose(mean_y, [float(truth[s][name].mean()) for s in (0, 5, 10)], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(std_y, [float(truth[s][name].std(correction=0)) for s in (0, 5, 10)], rtol=1e-5)
        hist = panel.get(f"activations/{name}")["steps"]
        assert [s["step"] for s in hist] == [0, 5, 10]
        for s in hist:
            counts, _ = np.histogram(truth[s["step"]][name].numpy(), bins=30)
            np.testing.assert_array_equal(s["counts"], counts)
    ((dead_x, dead_y),) = traces(panel, "dead_frac").values()  # the ReLU only
    assert list(traces(panel, "dead_frac")) == ["1"] and dead_x == [0, 5, 10]
    expected = [float(1 - (truth[s]["1"].reshape(16, -1) > 0).any(0).float().mean()) for s in (0, 5, 10)]
    np.testing.assert_allclose(dead_y, expected, atol=1e-7)
    feats = panel.get("features/0")["steps"]
    assert [s["step"] for s in feats] == [0, 5, 10]  # the image window's slider steps
    img = feats[1]["images"][0]
    assert (img["width"], img["height"]) == (13, 13) and "channels 0-3 of 4" in img["caption"]
    pixels = np.asarray(Image.open(io.BytesIO(img["data"])))
    maps = truth[5]["0"][0].numpy()  # sample 0, 4 maps of 6 x 6 in a 2 x 2 grid
    for c in range(4):
        r, q = divmod(c, 2)
        m = maps[c]
        want = (m - m.min()) / (m.max() - m.min()) * 255
        np.testing.assert_allclose(pixels[7 * r : 7 * r + 6, 7 * q : 7 * q + 6, 0], want, atol=1)
    assert tuple(pixels[6, 0]) == (40, 80, 160)  # the separator
    assert unwatch(model) and no_hooks(model) and "forward" not in model.__dict__


def dead_net() -> nn.Sequential:
    """A Linear + ReLU with 4 of 6 units dead on the batch below, and a LeakyReLU with 1 of 2 negative."""
    lin, out = nn.Linear(2, 6), nn.Linear(6, 2)
    with torch.no_grad():
        lin.weight.zero_()
        lin.bias.copy_(torch.tensor([-1.0, -2.0, -0.5, 0.0, 0.0, 1.0]))  # units 0-2 negative, 3 exactly 0
        lin.weight[4, 0] = 1.0  # unit 4 = x0: positive for one sample only (alive)
        out.weight.zero_()
        out.bias.copy_(torch.tensor([-1.0, 1.0]))
    return nn.Sequential(lin, nn.ReLU(), out, nn.LeakyReLU(0.1))


@pytest.mark.parametrize("sampled", [False, True])  # the whole output copied; or its statistics taken in the hook
def test_dead_frac_of_a_constructed_relu(panel, monkeypatch, sampled):
    if sampled:  # a larger output: statistics of all of it in the hook, a histogram of its first 2 samples
        monkeypatch.setattr(acts, "MAX_HIST_VALUES", 12)
    model = dead_net()
    x = torch.tensor([[1.0, 3.0], [-1.0, 0.5], [-2.0, -1.0]])
    assert panel.activations(model, x, step=7) == ["0", "1", "2", "3"]
    dead = traces(panel, "dead_frac")
    assert dead == {"1": ([7], [pytest.approx(4 / 6)]), "3": ([7], [pytest.approx(0.5)])}
    relu = model[1](model[0](x)).detach()
    assert traces(panel, "act_mean")["1"][1] == [pytest.approx(float(relu.mean()))]
    assert traces(panel, "act_std")["1"][1] == [pytest.approx(float(relu.std(correction=0)), rel=1e-5)]
    (hist,) = panel.get("activations/1")["steps"]
    shown = relu[:2] if sampled else relu
    assert hist["step"] == 7 and hist["stats"]["n"] == shown.numel()
    np.testing.assert_array_equal(hist["counts"], np.histogram(shown.numpy(), bins=30)[0])
    assert "features/0" not in panel.windows()  # no convolution


def test_conv1d_maps_and_a_bounded_grid(panel, monkeypatch):
    monkeypatch.setattr(acts, "MAX_CHANNELS", 8)
    monkeypatch.setattr(acts, "MAX_SIDE", 5)
    torch.manual_seed(0)
    panel.activations(nn.Conv1d(1, 3, 3), (torch.randn(2, 1, 10),))  # arguments as a tuple; no step: the next
    (one,) = panel.get("features/Conv1d")["steps"]  # a model that is one layer: named by its class
    img = one["images"][0]
    assert (img["height"], img["width"], one["step"]) == (3, 8, 0)  # one row per channel of sample 0
    panel.activations(nn.Conv2d(1, 10, 1), torch.randn(2, 1, 8, 4), step=3)
    (two,) = panel.get("features/Conv2d")["steps"]
    img = two["images"][0]
    assert "channels 0-7 of 10" in img["caption"]  # 8 of 10 maps, 8 x 4 shown with a stride of 2: 4 x 2
    assert (img["height"], img["width"], two["step"]) == (3 * 5 - 1, 3 * 3 - 1, 3)  # a 3 x 3 grid


def test_feature_grid_scales_each_map():
    maps = np.stack([np.full((2, 2), 7.0), np.array([[0.0, 1.0], [2.0, np.nan]])])
    grid = acts.feature_grid(maps)
    assert grid.shape == (2, 5, 3)
    assert (grid[:, :2] == 0).all()  # a constant map is black
    np.testing.assert_array_equal(grid[:, 3:, 0], [[0, 128], [255, 0]])  # NaN shows as 0, then scaled


def test_bad_input_is_refused_and_nothing_is_half_logged(panel, monkeypatch):
    model = dead_net()
    x = torch.randn(3, 2)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        panel.activations(object(), x)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        panel.activations(model, "abc")
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        panel.activations(model, [1.0, 2.0])
    with pytest.raises(ValueError, match="no module named 'nope'"):
        panel.activations(model, x, layers=["0", "nope"])
    with pytest.raises(TypeError, match="list of module names"):
        panel.activations(model, x, layers="0")
    with pytest.raises(TypeError, match="step must be an integer"):
        panel.activations(model, x, step=1.5)
    with pytest.raises(TypeError, match="activations must be True, False or a list"):
        watch(panel, model, activations="yes")
    with pytest.raises(ValueError, match="no module named"):
        watch(panel, model, activations=["fc9"])
    broken = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(4, 1))  # the last layer's shape is wrong
    with pytest.raises(RuntimeError, match="forward failed on x .*nothing logged"):
        panel.activations(broken, x)
    assert no_hooks(broken)

    def fails(*args):
        raise ValueError("a bug of ours")

    monkeypatch.setattr(acts.convert, "snapshot", fails)
    with pytest.raises(RuntimeError, match="recording a layer's output failed.*a bug of ours"):
        panel.activations(model, x)
    assert no_hooks(model)
    panel.flush()
    assert panel.windows() == []  # the first layers had recorded: none of it was sent


def test_tuple_and_other_outputs(panel):
    class DictOut(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(3))

        def forward(self, x):
            return {"a": x * self.scale}

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.d, self.lstm = DictOut(), nn.LSTM(3, 4, batch_first=True)

        def forward(self, x):
            return self.lstm(self.d(x)["a"])

    torch.manual_seed(0)
    model, x = Net(), torch.randn(2, 5, 3)
    assert panel.activations(model, x, step=1) == ["lstm"]  # the dict output is skipped
    out = model(x)[0].detach()  # an LSTM returns (output, (h, c)): the output is recorded
    assert traces(panel, "act_mean") == {"lstm": ([1], [pytest.approx(float(out.mean()), rel=1e-5)])}


def test_a_failed_forward_on_a_logging_step_logs_nothing_of_it(panel):
    class Flaky(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin, self.act, self.unused, self.fail = nn.Linear(3, 3), nn.ReLU(), nn.Tanh(), False

        def forward(self, x):
            h = self.act(self.lin(x))
            if self.fail:
                raise ValueError("boom")
            return h

    model, x = Flaky(), torch.randn(4, 3)
    w = watch(panel, model, every=2, activations=True)
    assert [name for name, _ in w.recorder.layers] == ["lin", "act", "unused"]
    model.fail = True
    with pytest.raises(ValueError, match="boom"):
        model(x)  # step 0: lin and act recorded, then the forward failed
    model.fail = False
    for _ in range(4):  # steps 1-4: 2 and 4 log
        model.zero_grad()
        model(x).sum().backward()
    assert {name: xs for name, (xs, _) in traces(panel, "act_mean").items()} == {"lin": [2, 4], "act": [2, 4]}
    assert traces(panel, "grad_norm")["lin"][0] == [2, 4]
    model(x)  # step 5, no logging: nothing armed
    model(x)  # step 6 logs: its forward arms the hooks; "unused" never runs, so its hook stays on
    assert model.unused._forward_hooks and not model.lin._forward_hooks
    unwatch(model)  # takes them all off
    assert no_hooks(model) and "forward" not in model.__dict__
    model(x).sum().backward()
    model(x)
    assert traces(panel, "act_mean")["lin"][0] == [2, 4]


def test_a_failure_recording_outputs_switches_the_watch_off_not_the_training(panel, monkeypatch, caplog):
    def fails(*args):
        raise ValueError("a bug of ours")

    monkeypatch.setattr(acts.convert, "snapshot", fails)
    model = dead_net()
    w = watch(panel, model, every=1, activations=True)
    x = torch.randn(3, 2)
    with caplog.at_level("ERROR", logger="livepanel"):
        for _ in range(3):  # the backward whose hooks find the failure goes through; then no more watching
            model.zero_grad()
            model(x).sum().backward()
    assert "watch failed and is switched off" in caplog.text and "a bug of ours" in caplog.text
    assert w.step == 1 and no_hooks(model) and "forward" not in model.__dict__
    panel.flush()
    assert panel.windows() == []


def test_the_default_layers_are_bounded(monkeypatch, caplog):
    monkeypatch.setattr(acts, "MAX_LAYERS", 3)
    model = nn.Sequential(nn.Linear(2, 2), nn.GELU(), nn.Dropout(), nn.Sequential(nn.Linear(2, 2), nn.Sigmoid()))
    assert [name for name, _ in acts.select_layers(model, ["3.1", "0"])] == ["0", "3.1"]  # model order
    with caplog.at_level("WARNING", logger="livepanel"):
        chosen = acts.select_layers(model)
    assert [name for name, _ in chosen] == ["0", "1", "3.0"]  # no Dropout, no container; the first 3 of 4
    assert "records the first 3 of 4 layers" in caplog.text
