"""PyTorch bridge: `watch(panel, model)` logs gradient norms and weight/gradient histograms from hooks.

Why hooks: the training loop stays as it is. The cost between logging steps is one call of a wrapper
of the model's `forward` per training step (a counter; a forward pre-hook would do the same, but any
hook sends every call of the module down nn.Module's slower path, which cost 1.5% of a digits step);
only on a logging step are per-parameter post-accumulate-grad hooks armed, which copy the tensors
once, then disarm themselves. Binning and sending happen on the Panel's sender thread. torch is
imported only when `watch` is called.
"""

from __future__ import annotations

import functools
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from livepanel.client import Panel

__all__ = ["Watch", "watch", "unwatch"]

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
    ):
        import torch

        self._torch = torch
        self.panel, self.every, self.win, self.histograms, self.env = panel, every, win, histograms, env
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
        if self._armed:  # some parameters got no gradient last time: log what came
            self._emit()
        step = self.step
        self.step = step + 1
        if step % self.every == 0:
            self._arm(step)

    def _arm(self, step: int) -> None:
        self._logged_step, self._left = step, len(self._params)
        self._sq, self._grads, self._weights = {}, {}, {}
        self._armed = [p.register_post_accumulate_grad_hook(self._on_grad) for p in self._params]

    def _on_grad(self, p: torch.nn.Parameter) -> None:
        layer = self._owner.get(id(p))
        g = p.grad
        if layer is None or g is None:
            return
        g = g.detach()
        if self.histograms:  # copies now: the optimizer changes both right after backward (norms: in _emit)
            self._grads.setdefault(layer, []).append(g.reshape(-1).clone())
            self._weights.setdefault(layer, []).append(p.detach().reshape(-1).clone())
        else:
            sq = self._torch.linalg.vector_norm(g).square()
            self._sq[layer] = self._sq[layer] + sq if layer in self._sq else sq
        self._left -= 1
        if self._left <= 0:
            self._emit()

    def _emit(self) -> None:
        for handle in self._armed:
            handle.remove()
        self._armed = []
        step, torch, panel = self._logged_step, self._torch, self.panel
        order = [name for name, _ in self.layers]  # model order, not the backward order the hooks fired in
        flat = {
            kind: {name: parts[0] if len(parts) == 1 else torch.cat(parts) for name, parts in stash.items()}
            for kind, stash in (("weights", self._weights), ("grads", self._grads))
        }
        if self.histograms:  # one norm per layer, of its gradients laid end to end
            norm = {name: torch.linalg.vector_norm(g) for name, g in flat["grads"].items()}
        else:
            norm = {name: sq.sqrt() for name, sq in self._sq.items()}
        with panel.batch():  # one request for the whole step
            if norm:
                panel.log({f"{self.win}/{name}": norm[name] for name in order if name in norm}, step=step, env=self.env)
            for kind in ("weights", "grads"):
                for name in order:
                    values = flat[kind].get(name)
                    if values is not None:  # our own copy: on the CPU it goes as numpy (binned on the sender)
                        arr = values.numpy() if values.device.type == "cpu" else values
                        panel.histogram(arr, win=f"{kind}/{name}", env=self.env, step=step)
        self._sq, self._grads, self._weights = {}, {}, {}

    # ---------------------------------------------------------------- lifecycle

    def remove(self) -> None:
        """Take the hooks off the model (anything collected for an unfinished step is dropped)."""
        self._active = False
        for handle in self._armed:
            handle.remove()
        self._armed = []
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


def watch(
    panel: Panel,
    model: torch.nn.Module,
    every: int = 100,
    *,
    win: str = "grad_norm",
    histograms: bool = True,
    env: str | None = None,
) -> Watch:
    """Log per-layer gradient norms (window `win`, one trace per layer) and, when `histograms`, weight and
    gradient histograms (windows `weights/LAYER`, `grads/LAYER`) every `every` training steps.

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
    unwatch(model)
    w = Watch(panel, model, every, win, bool(histograms), env)
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
