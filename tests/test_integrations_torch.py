"""`livepanel.integrations.torch.watch`: gradient norms and histograms from hooks, against a real server."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import livepanel

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from livepanel.integrations.torch import unwatch, watch  # noqa: E402


def mlp(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def train(
    model: nn.Module, steps: int, record: set[int] = frozenset(), grads: dict | None = None
) -> dict[int, dict[str, float]]:
    """SGD steps on fixed random data; returns the true per-layer gradient norms at the steps in `record`
    (and puts each layer's gradients, laid end to end, into `grads[step][layer]`)."""
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(32, 4, generator=gen), torch.randint(0, 3, (32,), generator=gen)
    norms = {}
    for step in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        if step in record:
            norms[step] = {
                name: float(torch.sqrt(sum(p.grad.pow(2).sum() for p in m.parameters())))
                for name, m in model.named_children()
                if any(True for _ in m.parameters())
            }
            if grads is not None:
                grads[step] = {
                    name: torch.cat([p.grad.reshape(-1) for p in m.parameters()]).numpy().copy()
                    for name, m in model.named_children()
                    if any(True for _ in m.parameters())
                }
        with torch.no_grad():
            model.eval()
            model(x)  # an evaluation pass: not a training step
            model.train()
        opt.step()
    return norms


@pytest.mark.parametrize("bin_here", [0, 1 << 16])  # every layer binned on the sender; all on the training thread
def test_grad_norms_and_histograms(server, tmp_path, monkeypatch, bin_here):
    import livepanel.integrations.torch as bridge

    monkeypatch.setattr(bridge, "BIN_HERE", bin_here)
    model = mlp()
    with livepanel.Panel(server.url, env="watch", spool_dir=tmp_path) as panel:
        w = watch(panel, model, every=10)
        true_grads: dict = {}
        expected = train(model, 25, record={0, 10, 20}, grads=true_grads)
        assert w.step == 25  # the no_grad evaluation passes were not counted
        traces = panel.get("grad_norm")["traces"]
        assert [t["name"] for t in traces] == ["0", "2"]  # model order (hooks fire in backward order)
        for t in traces:
            assert list(t["x"]) == [0, 10, 20]
            np.testing.assert_allclose(t["y"], [expected[s][t["name"]] for s in (0, 10, 20)], rtol=1e-5)
        grads = panel.get("grads/0")["steps"]
        assert [s["step"] for s in grads] == [0, 10, 20] and grads[0]["stats"]["n"] == 4 * 8 + 8
        for s in grads:  # the histogram of the gradients as they were at that step, as numpy bins them
            counts, edges = np.histogram(true_grads[s["step"]]["0"], bins=30)
            np.testing.assert_array_equal(s["counts"], counts)
            np.testing.assert_allclose(s["edges"], edges, rtol=1e-6)
        weights = panel.get("weights/2")["steps"]
        assert [s["step"] for s in weights] == [0, 10, 20] and weights[0]["stats"]["n"] == 8 * 3 + 3
        assert unwatch(model) is True and unwatch(model) is False
        assert "forward" not in model.__dict__ and not model._forward_pre_hooks  # the model is as it was
        train(model, 15)
        assert list(panel.get("grad_norm")["traces"][0]["x"]) == [0, 10, 20]  # nothing after unwatch


def test_options_unused_layer_and_rewatch(server, tmp_path):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.unused = nn.Linear(4, 3), nn.Linear(3, 3)

        def forward(self, x):
            return self.body(x)

    model = Net()
    with livepanel.Panel(server.url, env="watch2", spool_dir=tmp_path) as panel:
        watch(panel, model, every=5, win="gnorm", histograms=False, env="elsewhere")
        w = watch(panel, model, every=2, win="gnorm", histograms=False, env="elsewhere")  # replaces the first
        assert model.forward.__wrapped__.__self__ is model  # one wrapper: the first watch's was taken off
        train(model, 6)
        assert panel.windows("watch2") == []
        assert sorted(panel.windows("elsewhere")) == ["gnorm", "update_ratio", "weight_norm"]  # no histograms
        assert [t["name"] for t in panel.get("weight_norm", "elsewhere")["traces"]] == ["body"]  # not "unused"
        (trace,) = panel.get("gnorm", "elsewhere")["traces"]
        assert trace["name"] == "body" and list(trace["x"]) == [0, 2, 4]
        w.remove()
        assert "forward" not in model.__dict__
        with pytest.raises(ValueError, match="every"):
            watch(panel, model, every=0)
        with pytest.raises(TypeError, match="torch.nn.Module"):
            watch(panel, object())  # type: ignore[arg-type]


@pytest.mark.parametrize("dtype", ["float64", "float16", "bfloat16"])  # flat float64 buffers; the clone path
def test_other_dtypes(server, tmp_path, dtype):
    model = mlp().to(getattr(torch, dtype))
    with livepanel.Panel(server.url, env=f"watch-{dtype}", spool_dir=tmp_path) as panel:
        watch(panel, model, every=10)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        x = torch.randn(32, 4, generator=torch.Generator().manual_seed(1)).to(model[0].weight.dtype)
        expected = []
        for step in range(11):
            opt.zero_grad()
            model(x).square().mean().backward()
            if step % 10 == 0:
                expected.append(float(torch.cat([p.grad.reshape(-1).double() for p in model[0].parameters()]).norm()))
            opt.step()
        (first, _) = panel.get("grad_norm")["traces"]
        assert list(first["x"]) == [0, 10]
        np.testing.assert_allclose(first["y"], expected, rtol=1e-5 if dtype == "float64" else 1e-2)
        assert panel.get("grads/0")["steps"][1]["stats"]["n"] == 4 * 8 + 8


def test_a_large_layer_beside_small_ones(server, tmp_path):
    torch.manual_seed(0)  # 300x300 + 300 values: over BIN_HERE, so cloned and binned on the sender
    model = nn.Sequential(nn.Linear(300, 300), nn.Tanh(), nn.Linear(300, 2))
    with livepanel.Panel(server.url, env="watch-large", spool_dir=tmp_path) as panel:
        watch(panel, model, every=1)
        x = torch.randn(16, 300, generator=torch.Generator().manual_seed(1))
        model(x).square().mean().backward()
        grads = {name: torch.cat([p.grad.reshape(-1) for p in model[int(name)].parameters()]) for name in "02"}
        model(x)  # the next step logs what came (no optimizer: the weights stay)
        norms = {t["name"]: t["y"][0] for t in panel.get("grad_norm")["traces"]}
        for name in "02":
            np.testing.assert_allclose(norms[name], float(grads[name].norm()), rtol=1e-5)
            (step,) = panel.get(f"grads/{name}")["steps"]
            np.testing.assert_array_equal(step["counts"], np.histogram(grads[name].numpy(), bins=30)[0])
        assert panel.get("weights/0")["steps"][0]["stats"]["n"] == 300 * 300 + 300


def test_a_parameter_without_gradient_leaves_its_layer_partial(server, tmp_path):
    class Half(nn.Module):  # one module, two parameters; only `used` takes part
        def __init__(self):
            super().__init__()
            self.used, self.idle = nn.Parameter(torch.randn(5)), nn.Parameter(torch.randn(7))

        def forward(self, x):
            return x * self.used

    model = Half()
    with livepanel.Panel(server.url, env="watch-partial", spool_dir=tmp_path) as panel:
        watch(panel, model, every=1)
        for _ in range(2):
            model.zero_grad()
            model(torch.ones(5)).sum().backward()
        model(torch.ones(5))  # the next step logs what came of the last one
        (trace,) = panel.get("grad_norm")["traces"]
        np.testing.assert_allclose(trace["y"], [np.sqrt(5.0)] * 2, rtol=1e-6)  # d(sum(x*used))/d used = 1
        steps = panel.get("weights/Half")["steps"]
        assert [s["stats"]["n"] for s in steps] == [5, 5]
        assert steps[0]["stats"]["min"] == float(model.used.detach().min())  # only the used parameter's values


def test_a_forward_set_on_the_instance_before_watch_comes_back(server, tmp_path):
    model = mlp()
    calls = []
    plain = model.forward

    def mine(x):
        calls.append(1)
        return plain(x)

    model.forward = mine
    with livepanel.Panel(server.url, env="watch3", spool_dir=tmp_path) as panel:
        w = watch(panel, model, every=1)
        train(model, 3)
        assert w.step == 3 and len(calls) == 6  # 3 training and 3 evaluation passes, through both
        unwatch(model)
        assert model.__dict__["forward"] is mine
        train(model, 1)
        assert w.step == 3 and len(calls) == 8


def test_tensors_everywhere(server, tmp_path):
    with livepanel.Panel(server.url, env="tensors", spool_dir=tmp_path) as panel:
        panel.line(torch.arange(5), torch.linspace(0, 1, 5), win="line")
        panel.scatter(torch.rand(10, 2), win="scatter", labels=torch.tensor([0, 1] * 5))
        panel.bar(torch.tensor([1.0, 2.0]), win="bar")
        panel.heatmap(torch.eye(3), win="heat")
        panel.histogram(torch.randn(100, dtype=torch.float16), win="hist")
        panel.images(torch.rand(4, 1, 8, 8), win="grid", nrow=2)
        panel.log({"loss/train": torch.tensor(0.5)}, step=torch.tensor(3))
        assert panel.get("loss")["traces"][0]["x"][0] == 3
        assert sorted(panel.windows()) == ["bar", "grid", "heat", "hist", "line", "loss", "scatter"]


def test_livepanel_never_imports_the_frameworks(tmp_path):
    code = (
        "import sys, livepanel, livepanel.integrations, livepanel.integrations.jupyter, livepanel.integrations.torch\n"
        "p = livepanel.Panel('http://127.0.0.1:9', replay_spool=False, exit_timeout=0)\n"
        "p._repr_html_\n"
        "print(sorted(m for m in ('torch', 'keras', 'IPython', 'matplotlib', 'sklearn') if m in sys.modules))"
    )
    env = {**os.environ, "LIVEPANEL_SPOOL": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True, env=env)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_a_failure_inside_watch_never_stops_the_training(server, tmp_path, monkeypatch, caplog):
    model = mlp()
    with livepanel.Panel(server.url, env="watch-fails", spool_dir=tmp_path) as panel:

        def broken(*args, **kwargs):
            raise RuntimeError("a bug of ours")

        monkeypatch.setattr(panel, "log", broken)  # the first thing the logging step sends
        w = watch(panel, model, every=1)
        with caplog.at_level("ERROR", logger="livepanel"):
            train(model, 3)  # the backward that runs the hooks goes through
        assert "watch failed and is switched off" in caplog.text and "a bug of ours" in caplog.text
        assert w.step == 1 and "forward" not in model.__dict__  # off after the first logging step
