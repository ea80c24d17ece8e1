"""PyTorch bridge: `watch(panel, model)` logs per-layer gradient norms, weight norms, update ratios,
weight/gradient histograms and, with `activations=True`, layer outputs, from hooks.

Why hooks: the training loop stays as it is. The cost between logging steps is one call of a wrapper
of the model's `forward` per training step (a counter; a forward pre-hook would do the same, but any
hook sends every call of the module down nn.Module's slower path, which cost 1.5% of a digits step);
only on a logging step are per-parameter post-accumulate-grad hooks armed, which copy the tensors
once, then disarm themselves. torch is imported only when `watch` is called.

Small layers (up to BIN_HERE values, float32/float64 on the CPU) are copied straight into flat host
buffers, one per layer and kind, reused from one logging step to the next, and binned right away on
the training thread: no clone, no torch.cat, a numpy dot for the norm. This matters more than it
looks: the logging step's work is cold code run once per `every` steps, and each of its calls shows
in the training step (docs/workflow.md). Other layers are cloned, and binned on the Panel's sender
thread, where the sort of a large layer runs beside the loop; their copies live only until sent.

The update ratio of a layer, ||w at the next training forward - w at the logging step's backward|| /
||w at the backward||, is taken at the next forward call (after the optimizer step): the weights copied
by the hooks are kept until then (host buffers for small layers, clones for the others, `updates=False`
keeps none). That work and the logging step's rides on one flag the wrapper already reads, so the
steps between logging steps pay what they did. Layer outputs: livepanel/integrations/activations.py.
"""

from __future__ import annotations

import functools
import logging
import math
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from livepanel.integrations.activations import Recorder, select_layers
from livepanel.sumsq import sum_of_squares

if TYPE_CHECKING:
    import torch

    from livepanel.client import Panel

__all__ = ["Watch", "watch", "unwatch"]

# Layers of up to this many values have host buffers and are binned on the training thread, larger ones
# on the sender: for small arrays the numpy calls' overhead dominates, and on the sender each call also
# waits for the GIL behind the training loop; for large ones the sort dominates, and runs beside the
# loop on the sender. It also bounds the memory the buffers keep (two per small layer).
BIN_HERE = 1 << 16

log = logging.getLogger("livepanel")

_WATCHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> its Watch (one per model)


def _layers(model: torch.nn.Module) -> list[tuple[str, list[torch.nn.Parameter]]]:
    """(layer name, direct trainable parameters) for every module that owns some."""
    out = []
    for name, module in model.named_modules():
        params = [p for _, p in module.named_parameters(recurse=False) if p.requires_grad]
        if params:
            out.append((name or type(model).__name__, params))
    return out


class Watch:
    """The hooks `watch` put on one model. `remove()` takes them off (same as `unwatch(model)`).

    `step` counts training steps as forward calls made in training mode with gradients enabled
    (evaluation passes under `torch.no_grad()` or `model.eval()` are not counted). With gradient
    accumulation each micro-batch counts as a step.
    """

    def __init__(
        self,
        panel: Panel,
        model: torch.nn.Module,
        every: int,
        win: str,
        histograms: bool,
        env: str | None,
        activations: list[tuple[str, torch.nn.Module]] | None = None,
        updates: bool = True,
    ):
        import torch

        self._torch = torch
        self._pooled = (torch.float32, torch.float64)  # CPU clones of these go as numpy, into the Panel's buffer pool
        self.panel, self.every, self.win, self.histograms, self.env = panel, every, win, histograms, env
        self.updates = updates
        self.step = 0
        self._active = True
        self.layers = _layers(model)
        self._owner: dict[int, str] = {id(p): name for name, ps in self.layers for p in ps}
        self._params = [p for _, ps in self.layers for p in ps]
        self._model = weakref.ref(model)
        self._armed: list[Any] = []  # grad hook handles of the step being logged
        self._logged_step = -1
        self._sq: dict[str, Any] = {}
        self._grads: dict[str, list] = {}
        self._weights: dict[str, list] = {}
        self._left = 0
        self._slots: dict[int, tuple] = {}  # param id -> (grads view, weights view, span), for small layers
        self._slot_key: tuple = ()
        self._flat: dict[str, dict[str, np.ndarray]] = {}  # layer -> {"grads"/"weights": its host buffer}
        self._arrived: dict[str, list[tuple[int, int]]] = {}  # layer -> spans of its buffers filled this step
        self._wparams: dict[str, list] = {}  # layer -> the parameters whose clones are in _weights, in that order
        self._wsq: dict[str, Any] = {}  # layer -> its weights' sum of squares (large layers, nothing cloned)
        self._before: tuple[int, dict[str, tuple]] | None = None  # the logging step's weights, for update_ratio
        self._due = False  # work for the next forward: a step whose gradients did not all come, an update ratio
        self.recorder: Recorder | None = None
        if activations:  # (name, module) pairs from select_layers
            self.recorder = Recorder(torch, activations)
        self._own_forward = model.__dict__.get("forward")  # an instance forward set before us, if any
        inner, on_forward = model.forward, self._on_forward

        def forward(*args: Any, **kwargs: Any) -> Any:
            on_forward(model)
            return inner(*args, **kwargs)

        self._forward = functools.update_wrapper(forward, inner)
        model.forward = self._forward  # not a forward pre-hook: any hook sends every call down nn.Module's slow path

    # ---------------------------------------------------------------- hooks

    def _on_forward(self, module: torch.nn.Module) -> None:
        if not self._active or not module.training or not self._torch.is_grad_enabled():
            return
        if self._due:  # the update ratio of the last logging step; or some of its gradients never came
            self._guarded(self._catch_up)
            if not self._active:
                return
        step = self.step
        self.step = step + 1
        if step % self.every == 0:
            self._arm(step)

    def _arm(self, step: int) -> None:
        self._logged_step, self._left = step, len(self._params)
        self._sq, self._grads, self._weights, self._arrived = {}, {}, {}, {}
        self._wparams, self._wsq, self._due = {}, {}, True
        key = tuple((p.device.type, p.dtype, p.numel()) for p in self._params)
        if key != self._slot_key:  # first time, or the model moved or changed
            self._slot_key, self._slots = key, self._host_slots()
        self._armed = [p.register_post_accumulate_grad_hook(self._on_grad_guarded) for p in self._params]
        if self.recorder is not None:  # forward hooks for this forward only (each goes at its first call)
            self.recorder.arm()

    def _catch_up(self) -> None:
        self._due = False
        if self._armed:
            if self._left == len(self._params):  # no gradient at all: no backward (a failed forward, a skip)
                self._drop()
            else:  # some parameters got no gradient: log what came
                self._emit()
        if self._before is not None:
            self._emit_updates()

    def _drop(self) -> None:
        """Forget a logging step: its hooks, and anything its forward recorded."""
        for handle in self._armed:
            handle.remove()
        self._armed = []
        if self.recorder is not None:
            self.recorder.disarm()
            self.recorder.records = {}
        self._sq, self._grads, self._weights, self._arrived = {}, {}, {}, {}
        self._wparams, self._wsq = {}, {}

    def _guarded(self, work: Any, *args: Any) -> None:
        """Run hook work; a failure of ours must never stop the training: log it and stop watching."""
        try:
            work(*args)
        except Exception:
            log.exception("livepanel: watch failed and is switched off (the training goes on)")
            self.remove()

    def _on_grad_guarded(self, p: torch.nn.Parameter) -> None:
        self._guarded(self._on_grad, p)

    def _host_slots(self) -> dict[int, tuple]:
        """Flat host buffers for each small layer on the CPU, and each of its parameters' views of them."""
        torch = self._torch
        slots, self._flat = {}, {}
        for name, params in self.layers:
            size = sum(p.numel() for p in params)
            if size > BIN_HERE or any(
                p.device.type != "cpu" or p.dtype not in (torch.float32, torch.float64) for p in params
            ):
                continue
            dtype = np.float64 if any(p.dtype == torch.float64 for p in params) else np.float32
            bufs = {kind: np.empty(size, dtype) for kind in ("grads", "weights")}
            views = {kind: torch.from_numpy(buf) for kind, buf in bufs.items()}
            start = 0
            for p in params:
                end = start + p.numel()
                slots[id(p)] = (views["grads"][start:end], views["weights"][start:end], (start, end))
                start = end
            self._flat[name] = bufs
        return slots

    def _on_grad(self, p: torch.nn.Parameter) -> None:
        layer = self._owner.get(id(p))
        g = p.grad
        if layer is None or g is None:
            return
        g = g.detach()
        slot = self._slots.get(id(p))
        if slot is not None:  # copies now: the optimizer changes both right after backward
            grads, weights, span = slot
            grads.copy_(g.reshape(-1))
            weights.copy_(p.detach().reshape(-1))
            self._arrived.setdefault(layer, []).append(span)
        elif self.histograms or self.updates:  # the same, as new tensors (norms: in _emit)
            if self.histograms:
                self._grads.setdefault(layer, []).append(g.reshape(-1).clone())
            else:
                sq = self._torch.linalg.vector_norm(g).square()
                self._sq[layer] = self._sq[layer] + sq if layer in self._sq else sq
            self._weights.setdefault(layer, []).append(p.detach().reshape(-1).clone())
            self._wparams.setdefault(layer, []).append(p)
        else:
            vector_norm = self._torch.linalg.vector_norm
            sq, wsq = vector_norm(g).square(), vector_norm(p.detach()).square()
            self._sq[layer] = self._sq[layer] + sq if layer in self._sq else sq
            self._wsq[layer] = self._wsq[layer] + wsq if layer in self._wsq else wsq
        self._left -= 1
        if self._left <= 0:
            self._emit()

    def _emit(self) -> None:
        for handle in self._armed:
            handle.remove()
        self._armed = []
        recorder = self.recorder
        if recorder is not None:
            recorder.disarm()
            if recorder.failure is not None:
                raise RuntimeError("recording the layer outputs failed") from recorder.failure
        step, torch, panel = self._logged_step, self._torch, self.panel
        order = [name for name, _ in self.layers]  # model order, not the backward order the hooks fired in
        flat = self._filled()  # small layers: numpy views of the host buffers
        for kind, stash in (("weights", self._weights), ("grads", self._grads)):  # the others: clones
            for name, parts in stash.items():
                flat[kind][name] = parts[0] if len(parts) == 1 else torch.cat(parts)
        norm: dict[str, Any] = {name: sq.sqrt() for name, sq in self._sq.items()}
        for name, g in flat["grads"].items():  # one norm per layer, of its gradients laid end to end
            norm[name] = math.sqrt(sum_of_squares(g)) if isinstance(g, np.ndarray) else torch.linalg.vector_norm(g)
        wnorm: dict[str, Any] = {name: sq.sqrt() for name, sq in self._wsq.items()}
        for name, w in flat["weights"].items():
            wnorm[name] = math.sqrt(sum_of_squares(w)) if isinstance(w, np.ndarray) else _norm(torch, w)
        if self.updates:  # what the next forward compares with (see _emit_updates)
            before = {name: (wnorm[name], self._arrived[name]) for name in self._arrived}
            for name, params in self._wparams.items():
                before[name] = (wnorm[name], (flat["weights"][name], params))
            self._before, self._due = (step, before), True
        with panel.batch():  # one request for the whole step
            if norm:
                values = {f"{self.win}/{name}": norm[name] for name in order if name in norm}
                values.update({f"weight_norm/{name}": wnorm[name] for name in order if name in wnorm})
                panel.log(values, step=step, env=self.env)
            for kind in ("weights", "grads") if self.histograms else ():
                for name in order:
                    values = flat[kind].get(name)
                    if isinstance(values, np.ndarray):  # a host buffer: binned now, here
                        panel._histogram_binned_here(values, f"{kind}/{name}", self.env, step)
                    elif values is not None:  # a clone: the Panel bins it on the sender (and converts bfloat16)
                        if values.device.type == "cpu" and values.dtype in self._pooled:
                            values = values.numpy()
                        panel.histogram(values, win=f"{kind}/{name}", env=self.env, step=step)
            if recorder is not None:
                recorder.emit(panel, self.env, step)
        self._sq, self._grads, self._weights, self._arrived = {}, {}, {}, {}
        self._wparams, self._wsq = {}, {}

    def _emit_updates(self) -> None:
        """Log update_ratio for the last logging step: the weights now (after the optimizer step) against
        those its hooks copied. Small layers: the now idle gradient host buffer takes the new weights."""
        (step, before), self._before = self._before, None
        torch, ratios = self._torch, {}
        for name, params in self.layers:
            entry = before.get(name)
            if entry is None:
                continue
            wnorm, kept = entry
            if isinstance(kept, list):  # spans of the host buffers
                bufs, spans = self._flat[name], kept
                for p in params:
                    slot = self._slots.get(id(p))
                    if slot is not None and slot[2] in spans:
                        slot[0].copy_(p.detach().reshape(-1))
                new, old = bufs["grads"], bufs["weights"]
                sq = 0.0
                for a, b in spans:
                    sq += sum_of_squares(np.subtract(new[a:b], old[a:b], out=new[a:b]))
                if wnorm > 0:
                    ratios[name] = math.sqrt(sq) / wnorm
            else:
                old, kept_params = kept
                parts = [p.detach().reshape(-1) for p in kept_params]
                new = parts[0] if len(parts) == 1 else torch.cat(parts)
                ratios[name] = _norm(torch, new - old) / wnorm
        if ratios:  # queued without waking the sender: it goes with the next request, not in one of its own
            panel = self.panel
            with panel._hold_lock:
                panel._hold += 1
            try:
                panel.log({f"update_ratio/{name}": r for name, r in ratios.items()}, step=step, env=self.env)
            finally:
                with panel._hold_lock:
                    panel._hold -= 1

    def _filled(self) -> dict[str, dict[str, np.ndarray]]:
        """Per kind and layer, the part of its host buffer filled at this step (all of it, unless some
        of the layer's parameters got no gradient)."""
        out: dict[str, dict[str, np.ndarray]] = {"grads": {}, "weights": {}}
        for name, spans in self._arrived.items():
            bufs = self._flat[name]
            whole = sum(end - start for start, end in spans) == len(bufs["grads"])
            for kind, buf in bufs.items():
                out[kind][name] = buf if whole else np.concatenate([buf[a:b] for a, b in sorted(spans)])
        return out

    # ---------------------------------------------------------------- lifecycle

    def remove(self) -> None:
        """Take the hooks off the model (anything collected for an unfinished step is dropped)."""
        self._active = False
        for handle in self._armed:
            handle.remove()
        self._armed, self._before = [], None
        if self.recorder is not None:
            self.recorder.disarm()
        model = self._model()
        if model is not None and model.__dict__.get("forward") is self._forward:
            if self._own_forward is None:
                del model.forward
            else:
                model.forward = self._own_forward
        # (wrapped again by someone else since: our wrapper stays in their chain, inactive)
        if model is not None and _WATCHES.get(model) is self:
            del _WATCHES[model]

    def __repr__(self) -> str:
        return f"<Watch every={self.every} layers={[name for name, _ in self.layers]} step={self.step}>"


def _norm(torch: Any, t: Any) -> Any:
    """L2 norm of a flat tensor, summed in float32 at least (a bfloat16 sum of 1e6 squares is coarse)."""
    return torch.linalg.vector_norm(t, dtype=torch.float64 if t.dtype == torch.float64 else torch.float32)


def watch(
    panel: Panel,
    model: torch.nn.Module,
    every: int = 100,
    *,
    win: str = "grad_norm",
    histograms: bool = True,
    env: str | None = None,
    activations: bool | list[str] = False,
    updates: bool = True,
) -> Watch:
    """Every `every` training steps, log per layer (one trace per layer): the gradient norm (window
    `win`), the weight norm (`weight_norm`) and, when `updates`, the update ratio (`update_ratio`: the
    norm of the change the optimizer made to the weights over the norm of the weights); when
    `histograms`, weight and gradient histograms (`weights/LAYER`, `grads/LAYER`); when `activations`
    (True, or a list of module names), the layer outputs of the step's forward (see
    livepanel/integrations/activations.py: `act_mean`, `act_std`, `dead_frac`, `activations/LAYER`,
    `features/LAYER`).

    A layer is a module that owns trainable parameters (its name in `model.named_modules()`); its norm is
    the L2 norm of all its parameters' gradients. Watching a model again replaces the earlier watch.
    """
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise ValueError(f"every must be a positive integer, got {every!r}")
    if not hasattr(model, "register_forward_pre_hook") or not hasattr(model, "named_modules"):
        raise TypeError(f"watch expects a torch.nn.Module, got {type(model).__name__}")
    from livepanel.client import checks

    checks.name(win, "window name")
    if env is not None:
        checks.name(env, "env name")
    if not isinstance(activations, (bool, list, tuple)):
        raise TypeError(f"activations must be True, False or a list of module names, got {type(activations).__name__}")
    chosen = None if activations is False else select_layers(model, None if activations is True else activations)
    unwatch(model)
    w = Watch(panel, model, every, win, bool(histograms), env, chosen, bool(updates))
    if not w.layers:
        w.remove()
        raise ValueError("watch: the model has no trainable parameters")
    _WATCHES[model] = w
    return w


def unwatch(model: torch.nn.Module | Watch) -> bool:
    """Remove the hooks `watch` put on a model (or remove that Watch); False when it was not watched."""
    if isinstance(model, Watch):
        model.remove()
        return True
    w = _WATCHES.get(model)
    if w is None:
        return False
    w.remove()
    return True
