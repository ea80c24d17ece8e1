"""Layer outputs: per-layer activation statistics, histograms and convolutional feature maps.

Used two ways: `watch(panel, model, activations=True)` records the first training forward of each
logging step, and `panel.activations(model, x)` (or `activations(panel, model, x)`) records one batch
now. Forward hooks are put on the recorded layers just before that forward and each takes itself off at
its first call (the rest go at the end of the step), so the layers run nn.Module's plain path between
logging steps.

In the hook, on the training thread, only what must be: a copy of the output (of at most
MAX_HIST_VALUES values; for a larger output, also its mean, std and dead fraction as a few tensor
reductions on its device, no host sync) and, for a convolution, a copy of sample 0's first MAX_CHANNELS
maps. Binning, the statistics of a copied output, tiling the maps and encoding the PNG run on the
Panel's sender thread. Nothing is queued until the whole forward is done, so a forward that fails
logs nothing.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from livepanel.client import convert

if TYPE_CHECKING:
    import torch

    from livepanel.client import Panel

__all__ = ["activations", "Recorder", "select_layers"]

log = logging.getLogger("livepanel")

# Outputs of up to this many values (float32/float64 on the CPU) are binned in the hook; others on the
# sender. 0: all on the sender. Unlike watch's weights and gradients (torch.py, BIN_HERE), binning a
# digits step's 5 outputs in the hooks cost the training thread ~1 ms more per logging step and saved
# nothing in the step's total (paired runs, benchmarks/bench_watch.py): the sender's copy wins.
BIN_HERE = 0
MAX_LAYERS = 64  # layers recorded by default (the first ones in model order); name others with `layers=`
# A histogram of a larger output covers its first samples (at most this many values; its statistics
# still cover the whole output): 30 bins need no more, and the sender's sort of a small CNN's four
# conv/ReLU outputs (400,000 values) cost 12 ms of CPU per logging step (16,384 each: 1.5 ms).
MAX_HIST_VALUES = 1 << 14
MAX_CHANNELS = 64  # feature maps shown per convolution (sample 0's first channels)
MAX_SIDE = 128  # a larger map is shown with a stride, so a grid stays about 1,000 pixels wide (1-D: 8 times)

# Parameterless modules whose outputs are worth recording (leaf modules with parameters always are).
ACTIVATIONS = frozenset(
    "ReLU ReLU6 LeakyReLU PReLU RReLU ELU CELU SELU GELU SiLU Mish Hardswish Sigmoid Tanh Hardtanh "
    "Hardsigmoid Softplus Softsign LogSigmoid Tanhshrink Softmax LogSoftmax GLU".split()
)
# dead_frac is logged for these: a unit is dead when its output is <= 0 for every sample of the batch
# (exactly 0 for ReLU and ReLU6; the negative side, where the unit never turns on, for the others).
RELU_LIKE = frozenset("ReLU ReLU6 LeakyReLU PReLU RReLU ELU CELU SELU GELU SiLU Mish Hardswish".split())
CONVS = {"Conv1d": 1, "Conv2d": 2, "ConvTranspose1d": 1, "ConvTranspose2d": 2}  # -> spatial dims of a map


def _kind(module: Any) -> str:
    """The torch.nn class a module is (or derives from), among those named above; "" for others."""
    for cls in type(module).__mro__:
        if cls.__module__.startswith("torch.nn") and (cls.__name__ in ACTIVATIONS or cls.__name__ in CONVS):
            return cls.__name__
    return ""


def select_layers(model: torch.nn.Module, names: Any = None) -> list[tuple[str, torch.nn.Module]]:
    """The (name, module) pairs to record, in model order.

    By default: leaf modules that own parameters, and activation modules (ReLU, GELU, Sigmoid, Tanh...),
    the first MAX_LAYERS of them. `names`: an explicit list of module names from `model.named_modules()`.
    """
    from livepanel.client import checks

    modules = {name or type(model).__name__: m for name, m in model.named_modules()}
    if names is not None:
        if isinstance(names, str) or not isinstance(names, (list, tuple)):
            raise TypeError(f"activations layers must be a list of module names, got {type(names).__name__}")
        unknown = [n for n in names if n not in modules]
        if unknown:
            raise ValueError(f"activations: no module named {unknown[0]!r} in the model (names as in named_modules())")
        wanted = set(names)
        out = [(n, m) for n, m in modules.items() if n in wanted]
        if not out:
            raise ValueError("activations: the list of layers to record is empty")
        for name, _ in out:  # at the call, not at the first logging step
            checks.name(f"activations/{name}", "window name for a layer's activations")
        return out
    out = []
    for name, m in modules.items():
        if next(m.children(), None) is not None:
            continue  # containers: their leaves are recorded
        if _kind(m) or next(m.parameters(recurse=False), None) is not None:
            out.append((name, m))
    if len(out) > MAX_LAYERS:
        log.warning(
            "livepanel: activations records the first %d of %d layers (up to %r); pass layers=[...] to choose",
            MAX_LAYERS,
            len(out),
            out[MAX_LAYERS - 1][0],
        )
        out = out[:MAX_LAYERS]
    for name, _ in out:  # at the call, not at the first logging step
        checks.name(f"activations/{name}", "window name for a layer's activations")
    return out


def first_tensor(output: Any, torch: Any) -> Any:
    """The output as one tensor: itself, or the first tensor of a tuple or list (an LSTM's output, an
    attention's output before its weights); None for anything else (the layer is skipped)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        for item in output:
            if isinstance(item, torch.Tensor):
                return item
    return None


class Record:
    """What one layer's hook took from its output (see the module docstring)."""

    __slots__ = ("stats", "binned", "values", "samples", "relu", "maps", "channels")

    def __init__(self, samples: int, relu: bool) -> None:
        self.samples, self.relu = samples, relu  # batch size (1 for a 1-D output); dead_frac logged?
        self.stats: Any = None  # [mean, std(, dead_frac)]: floats or a device tensor; None: from `values`
        self.binned: dict | None = None  # histogram binned in the hook
        self.values: Any = None  # or the values to bin on the sender (numpy copy or DeviceArray)
        self.maps: Any = None  # feature maps of sample 0 (C x H x W or C x L), copied
        self.channels = 0  # the layer's channel count (maps shows the first ones)


class Recorder:
    """Forward hooks on the chosen layers, armed for one forward; `emit` queues what they recorded."""

    def __init__(self, torch: Any, layers: list[tuple[str, torch.nn.Module]]):
        self._torch = torch
        self.layers = layers
        self.bin_here = BIN_HERE
        self.records: dict[str, Record] = {}
        self.skipped: list[str] = []  # layers whose output was not a usable tensor
        self.failure: BaseException | None = None
        self._handles: dict[str, Any] = {}
        self._kinds = {name: _kind(m) for name, m in layers}

    def arm(self) -> None:
        self.disarm()
        self.records, self.skipped, self.failure = {}, [], None
        self._handles = {name: m.register_forward_hook(functools.partial(self._hook, name)) for name, m in self.layers}

    def disarm(self) -> None:
        for handle in self._handles.values():
            handle.remove()
        self._handles = {}

    def _hook(self, name: str, module: Any, args: Any, output: Any) -> None:
        handle = self._handles.pop(name, None)
        if handle is not None:
            handle.remove()  # the first call only: a module used twice (a shared ReLU) counts once
        if name in self.records or self.failure is not None:
            return
        try:
            self._record(name, output)
        except Exception as exc:  # never break the user's forward: the caller reports it after
            self.failure = exc
            self.disarm()

    def _record(self, name: str, output: Any) -> None:
        torch = self._torch
        t = first_tensor(output, torch)
        if t is None or t.is_complex() or t.numel() == 0:
            self.skipped.append(name)
            return
        t = t.detach()
        kind = self._kinds[name]
        r = Record(t.shape[0] if t.ndim >= 2 else 1, kind in RELU_LIKE)  # a 1-D output: one sample
        f = t if t.dtype in (torch.float32, torch.float64) else t.float()
        if f.numel() > MAX_HIST_VALUES:  # statistics of the whole output here; the histogram of a part
            v = f.reshape(-1)  # E[x^2] - E[x]^2 with a dot product, no temporary the size of the output:
            mean = v.mean()  # torch.std_mean took 60 times as long (722 against 12 us, 131,072 values)
            parts = [mean, torch.sqrt(torch.clamp(torch.dot(v, v) / v.numel() - mean * mean, min=0))]
            if r.relu:  # alive: > 0 in some sample
                parts.append(1.0 - (f.reshape(r.samples, -1).amax(0) > 0).float().mean())
            stats = torch.stack([p.to(f.dtype) for p in parts])
            r.stats = stats.tolist() if stats.device.type == "cpu" else stats  # a device tensor: no sync here
            r.values = convert.snapshot(_bounded(f), f"activations of {name}")
        elif f.device.type == "cpu" and f.numel() <= self.bin_here:
            a = f.numpy()
            r.binned = convert.bin_histogram(a, 30, None)
            r.stats = _stats(r.binned, a, r.samples, r.relu)
        else:  # a copy: binned, and its statistics taken, on the sender
            r.values = convert.snapshot(f, f"activations of {name}")
        dims = CONVS.get(kind)
        if dims is not None and t.ndim >= dims + 1:
            maps = t[0] if t.ndim == dims + 2 else t  # sample 0 (or an unbatched output)
            r.channels = maps.shape[0]
            maps = maps[:MAX_CHANNELS]
            side = MAX_SIDE if dims == 2 else 8 * MAX_SIDE  # a 1-D map is one row of the image
            stride = max(1, math.ceil(max(maps.shape[1:]) / side))
            if stride > 1:
                maps = maps[:, ::stride] if dims == 1 else maps[:, ::stride, ::stride]
            r.maps = convert.snapshot(maps, f"feature maps of {name}")
        self.records[name] = r

    def emit(self, panel: Panel, env: str | None, step: int | None) -> None:
        """Queue what was recorded (call inside `panel.batch()`), in model order; then forget it."""
        records, self.records = self.records, {}
        env = panel._env(env)
        order = [name for name, _ in self.layers if name in records]
        x = None if step is None else np.array([step], np.float64)
        t = np.array([time.time()])
        for name in order:
            r = records[name]
            box = {"stats": r.stats}  # or filled by the histogram's finish, on the sender
            win = panel._win(f"activations/{name}", "histogram")
            op: dict[str, Any] = {"op": "histogram", "env": env, "win": win}
            if step is not None:
                op["step"] = step
            if r.binned is not None:
                op.update(r.binned)
                panel._push(op)
            else:
                op["values"] = r.values
                panel._push(
                    op, functools.partial(_finish_histogram, box if r.stats is None else None, r.samples, r.relu)
                )
            trace = panel._trace_name(name)
            for i, key in enumerate(("act_mean", "act_std", "dead_frac")[: 3 if r.relu else 2]):
                line = {"op": "line", "env": env, "win": panel._win(key, key), "name": trace, "update": "append"}
                line.update(x=x, y=None, t=t)
                panel._push(line, functools.partial(_finish_stat, box, i), (env, key, trace))
        for name in order:
            r = records[name]
            if r.maps is None:
                continue
            shown = r.maps.shape[0]
            caption = f"sample 0, channels 0-{shown - 1} of {r.channels}, each scaled to its own min..max"
            op = {"op": "image", "env": env, "win": panel._win(f"features/{name}", "image"), "raw": r.maps}
            if step is not None:
                op["step"] = step
            panel._push(op, functools.partial(_finish_grid, panel.image_format, caption))


def _bounded(t: Any) -> Any:
    """At most MAX_HIST_VALUES of a batch's values: its first samples, or a stride through the first."""
    if t.numel() <= MAX_HIST_VALUES:
        return t
    if t.ndim >= 2:
        per = t[0].numel()
        t = t[: max(1, MAX_HIST_VALUES // per)]
        if t.numel() <= MAX_HIST_VALUES:
            return t
    flat = t.reshape(-1)
    return flat[:: math.ceil(flat.numel() / MAX_HIST_VALUES)]


def _stats(binned: dict, values: np.ndarray, samples: int, relu: bool) -> list[float]:
    """[mean, std(, dead_frac)] of a whole output from its histogram's statistics: NaN when some
    values are not finite (as a tensor's mean would be); dead: the fraction of units (values of one
    sample) that are <= 0 in every sample."""
    s = binned["stats"]
    out = [s["mean"], s["std"]] if not s["nan"] else [math.nan, math.nan]
    if relu:
        alive = np.logical_or.reduce(values.reshape(samples, -1) > 0, axis=0)
        out.append(1.0 - np.count_nonzero(alive) / alive.size)
    return out


def _finish_histogram(box: dict | None, samples: int, relu: bool, op: dict) -> None:
    values = np.asarray(convert.finish_array(op.pop("values")))
    op.update(convert.bin_histogram(values, 30, None))
    if box is not None:
        box["stats"] = _stats(op, values, samples, relu)


def _finish_stat(box: dict, i: int, op: dict) -> bool | None:
    """A point of act_mean, act_std or dead_frac; its value from the layer's box (see Recorder.emit)."""
    stats = box["stats"]
    if stats is None:
        return False  # its histogram failed on the sender (said there): no point either
    v = stats[i]
    op["y"] = np.array([v if isinstance(v, float) else float(v)], np.float64)  # a device tensor: copied here
    return None


def feature_grid(maps: np.ndarray) -> np.ndarray:
    """Feature maps (C x H x W, or C x L) as one RGB image: each map scaled to its own min..max, in a
    near-square grid with 1-pixel blue separators (C x L: one row per channel, no separators)."""
    m = np.nan_to_num(maps.astype(np.float32, copy=False), nan=0.0, posinf=0.0, neginf=0.0)
    axes = tuple(range(1, m.ndim))
    lo, hi = m.min(axis=axes, keepdims=True), m.max(axis=axes, keepdims=True)
    span = hi - lo
    scaled = (m - lo) / np.where(span > 0, span, 1.0)  # a constant map is black
    gray = (scaled * 255.0 + 0.5).astype(np.uint8)
    if gray.ndim == 2:
        return np.repeat(gray[:, :, None], 3, axis=2)
    c, h, w = gray.shape
    cols = math.ceil(math.sqrt(c))
    rows = math.ceil(c / cols)
    grid = np.empty((rows * (h + 1) - 1, cols * (w + 1) - 1, 3), np.uint8)
    grid[:] = (40, 80, 160)
    for i in range(c):
        y, x = divmod(i, cols)
        grid[y * (h + 1) : y * (h + 1) + h, x * (w + 1) : x * (w + 1) + w] = gray[i, :, :, None]
    return grid


def _finish_grid(fmt: str, caption: str, op: dict) -> None:
    maps = np.asarray(convert.finish_array(op.pop("raw")))
    op["images"] = [convert.encode_image(feature_grid(maps), fmt, 90, caption)]


def activations(
    panel: Panel,
    model: torch.nn.Module,
    x: Any,
    *,
    layers: list[str] | None = None,
    step: int | None = None,
    env: str | None = None,
) -> list[str]:
    """Run `model` on the batch `x` once (under `torch.no_grad()`, in the model's current mode) and log
    each recorded layer's output: windows `act_mean`, `act_std`, `dead_frac` (one trace per layer),
    `activations/LAYER` (histogram at `step`) and `features/LAYER` (convolutions: an image at `step`).

    `x`: a tensor, or a tuple/list of the forward's positional arguments. Returns the recorded layer
    names. A forward that fails raises RuntimeError and logs nothing.
    """
    if not hasattr(model, "named_modules") or not hasattr(model, "register_forward_hook"):
        raise TypeError(f"activations expects a torch.nn.Module, got {type(model).__name__}")
    import torch

    from livepanel.client import checks

    if isinstance(x, torch.Tensor):
        args: tuple = (x,)
    elif isinstance(x, (tuple, list)) and any(isinstance(a, torch.Tensor) for a in x):
        args = tuple(x)
    else:
        raise TypeError(
            f"activations: x must be a torch.Tensor (or a tuple of the forward's arguments), got {type(x).__name__}"
        )
    step = checks.step(step)
    env = panel._env(env)
    chosen = select_layers(model, layers)
    if not chosen:
        raise ValueError("activations: the model has no layer to record (no leaf with parameters, no activation)")
    rec = Recorder(torch, chosen)
    rec.arm()
    try:
        with torch.no_grad():
            model(*args)
    except Exception as exc:
        msg = f"activations: the model's forward failed on x ({type(exc).__name__}: {exc}); nothing logged"
        raise RuntimeError(msg) from exc
    finally:
        rec.disarm()
    if rec.failure is not None:
        msg = f"activations: recording a layer's output failed ({rec.failure!r}); nothing logged"
        raise RuntimeError(msg) from rec.failure
    names = [name for name, _ in chosen if name in rec.records]
    with panel.batch():
        rec.emit(panel, env, step)
    return names
