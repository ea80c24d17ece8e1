"""matplotlib figures for `Panel.matplot`: snapshot in the call, render on the sender thread.

Why not render in the call (as `image(fig)` does): `savefig` takes tens of milliseconds, which a
training loop should not pay. Why not hand the live figure to the sender: the caller goes on changing
it (`ax.clear()`, new lines) while the sender would draw it. So the call pickles the figure, a copy
about ten times cheaper than a render; the sender unpickles that copy, detached from pyplot, renders it
to PNG with Agg and hands it to the usual image path (`convert.Encoded`). A figure that cannot be
pickled (e.g. a lambda formatter) is rendered in the call instead. matplotlib is imported only when a
figure (or pyplot) is passed.
"""

from __future__ import annotations

import io
import pickle
import sys
from typing import Any

from livepanel.client import convert


class _Snapshot:
    """A pickled figure (bytes) waiting for the sender."""

    __slots__ = ("data",)

    def __init__(self, data: bytes):
        self.data = data


def figure_of(fig: Any) -> Any:
    """The figure to send: a Figure, or pyplot's current one for None or the pyplot module."""
    if fig is None or (getattr(fig, "__name__", "") == "matplotlib.pyplot"):
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is None:
            raise TypeError("matplot(): pass a matplotlib figure (pyplot is not in use, so there is no current one)")
        fig = plt.gcf()
    if not convert.is_figure(fig):
        raise TypeError(f"matplot(): expected a matplotlib figure, got {type(fig).__module__}.{type(fig).__name__}")
    return fig


def snapshot(fig: Any) -> _Snapshot | convert.Encoded:
    """Called in `matplot`: a private copy of the figure as it is now."""
    try:
        return _Snapshot(pickle.dumps(fig, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:  # noqa: BLE001 - unpicklable artists: fall back to rendering now, which always works
        return convert.image_input(fig)


class _Unpickler(pickle.Unpickler):
    """Restores figures without registering them with pyplot (no GUI manager on the sender thread)."""

    def find_class(self, module: str, name: str) -> Any:
        cls = super().find_class(module, name)
        if module == "matplotlib.figure" and name == "Figure":
            return _detached(cls)
        return cls


_DETACHED: dict[type, type] = {}


def _detached(cls: type) -> type:
    sub = _DETACHED.get(cls)
    if sub is None:

        def __setstate__(self: Any, state: dict) -> None:
            state.pop("_restore_to_pylab", None)
            cls.__setstate__(self, state)

        sub = _DETACHED[cls] = type("DetachedFigure", (cls,), {"__setstate__": __setstate__})
    return sub


def render(snap: _Snapshot | convert.Encoded) -> convert.Encoded:
    """On the sender thread: the snapshot drawn to PNG bytes (Agg, whatever the interactive backend)."""
    if isinstance(snap, convert.Encoded):
        return snap
    fig = _Unpickler(io.BytesIO(snap.data)).load()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return convert.Encoded(buf.getvalue(), "png")


def matplot(
    panel: Any, fig: Any, win: str | None, env: str | None, opts: dict | None, caption: str, step: int | None
) -> str:
    """`Panel.matplot`: check, snapshot, queue; the sender renders and encodes."""
    from livepanel.client import checks

    env_, win_, opts_ = panel._env(env), panel._win(win, "matplot"), checks.opts(opts)
    step_ = checks.step(step)
    if not isinstance(caption, str) or len(caption) > 1000:
        raise TypeError("caption must be a string of at most 1000 characters")
    snap = snapshot(figure_of(fig))

    def finish(op: dict) -> None:
        op["images"] = [convert.encode_image(render(op.pop("raw")), "png", 90, caption)]

    op = {"op": "image", "env": env_, "win": win_, "raw": snap}
    if step_ is not None:
        op["step"] = step_
    panel._push(panel._with_opts(op, opts_), finish)
    return win_
