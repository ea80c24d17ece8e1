"""Keras bridge: `LivePanelCallback`, used where a Keras user passes `keras.callbacks.TensorBoard`.

    model.fit(x, y, validation_split=0.2, callbacks=[LivePanelCallback(panel)])

Every metric Keras reports becomes a live curve: `loss` and `val_loss` go to window `loss` as traces
`train` and `val` (likewise `accuracy`, `mae`, ...), so runs and the diagnosis engine read them by the
usual names; the optimizer's learning rate goes to window `lr`. Importing this module imports Keras
(Keras 3, any backend); nothing else in livepanel does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    import keras
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("livepanel.integrations.keras needs Keras 3: pip install 'livepanel[keras]'") from exc

from livepanel.client.convert import is_torch

if TYPE_CHECKING:
    from livepanel.client import Panel

__all__ = ["LivePanelCallback", "series_name"]


def series_name(metric: str) -> str:
    """`val_loss` -> `loss/val`, `loss` -> `loss/train`: the log key (window/trace) of a Keras metric."""
    if metric.startswith("val_"):
        return f"{metric[4:]}/val"
    return f"{metric}/train"


def _value(v: Any) -> Any:
    """A number for `Panel.log`; a torch tensor stays one (the client copies it without waiting for a GPU)."""
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, keras.Variable):
        v = v.value
    if is_torch(v):
        return v
    return float(keras.ops.convert_to_numpy(v))


class LivePanelCallback(keras.callbacks.Callback):
    """Log Keras' metrics and the learning rate to a livepanel `Panel` while `fit` runs.

    every="batch": training metrics after every batch at x = the global batch number (Keras reports the
    running mean over the epoch so far, as in its progress bar), validation metrics at each epoch's end
    at the same x. every="epoch": everything once per epoch at x = the epoch (0-based, as TensorBoard).
    `panel=None` opens a Panel from $LIVEPANEL_URL (default http://127.0.0.1:8097) into `env`.
    """

    def __init__(self, panel: Panel | None = None, every: str = "batch", env: str | None = None, lr: bool = True):
        super().__init__()
        if every not in ("batch", "epoch"):
            raise ValueError(f"every must be 'batch' or 'epoch', got {every!r}")
        if panel is None:
            import livepanel

            panel = livepanel.Panel(env=env or "keras")
        self.panel, self.every, self.env, self.log_lr = panel, every, env, lr
        self.step = 0  # batches seen across epochs
        self._titled: set[str] = set()

    def _log(self, logs: dict[str, Any] | None, x: int, keep: Any = None, lr: bool = True) -> None:
        values = {}
        for metric, v in (logs or {}).items():
            if keep is not None and not keep(metric):
                continue
            try:
                values[series_name(metric)] = _value(v)
            except (TypeError, ValueError):  # a non-scalar entry: not a curve
                continue
        rate = self._learning_rate() if lr and self.log_lr else None
        if rate is not None:
            values["lr"] = rate
        if values:
            self.panel.log(values, step=x, env=self.env)
            self._title(values, x)

    def _title(self, values: dict[str, Any], x: int) -> None:
        xlabel = "batch" if self.every == "batch" else "epoch"
        for key in values:
            win = key.partition("/")[0]
            if win not in self._titled:
                self._titled.add(win)
                self.panel.set_opts(win, {"xlabel": xlabel}, env=self.env)

    def _learning_rate(self) -> Any:
        opt = getattr(self.model, "optimizer", None)
        lr = getattr(opt, "learning_rate", None)
        if lr is None:
            return None
        try:
            return _value(lr)
        except (TypeError, ValueError):
            return None

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.every == "batch":
            self._log(logs, self.step, keep=lambda m: not m.startswith("val_"))
        self.step += 1

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.every == "batch":
            val = {k: v for k, v in (logs or {}).items() if k.startswith("val_")}
            self._log(val, self.step - 1, lr=False)  # at the x of the epoch's last batch
        else:
            self._log(logs, epoch)
