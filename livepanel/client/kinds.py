"""Window kinds other than line and scatter: bar, histogram, heatmap, image(s), text, options.

A mixin of `Panel`: each method checks its arguments and copies the data in the call; the work that
takes time (binning, image encoding, device-to-host copies) is a `finish` run on the sender thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from livepanel import protocol
from livepanel.client import checks, convert
from livepanel.client.buffers import BufferPool


def _finish_wire(field: str):
    def finish(op: dict) -> None:
        op[field] = convert.wire_dtype(np.asarray(convert.finish_array(op[field])))

    return finish


def _finish_float(field: str):
    def finish(op: dict) -> None:
        op[field] = convert.as_float(np.asarray(convert.finish_array(op[field])))

    return finish


class WindowKinds:
    """Plotting calls for the non-trace window kinds (mixed into Panel)."""

    image_format: str
    _buffers: BufferPool

    def _env(self, env: Any) -> str:
        raise NotImplementedError

    def _win(self, win: Any, default: str) -> str:
        raise NotImplementedError

    def _push(self, op: dict, finish: Any = None, key: tuple | None = None) -> None:
        raise NotImplementedError

    @staticmethod
    def _with_opts(op: dict, opts: dict | None) -> dict:
        if opts:
            op["opts"] = opts
        return op

    def bar(
        self, y: Any, win: str | None = None, env: str | None = None, opts: dict | None = None, labels: Any = None
    ) -> str:
        """Bars: y 1-D, or 2-D with one column per series; `labels` names the rows."""
        env, win, opts = self._env(env), self._win(win, "bar"), checks.opts(opts)
        ys = convert.numeric(y, "bar y", (1, 2))
        labels = None if labels is None else checks.strings(labels, "bar labels", ys.shape[0])
        self._push(
            self._with_opts({"op": "bar", "env": env, "win": win, "y": ys, "labels": labels}, opts), _finish_float("y")
        )
        return win

    def histogram(
        self,
        values: Any,
        win: str | None = None,
        env: str | None = None,
        opts: dict | None = None,
        bins: int | Any = 30,
        range: tuple[float, float] | None = None,
        step: int | None = None,
    ) -> str:
        """A histogram step of `values` (any shape); binned on the sender thread; the call only copies."""
        env, win, opts = self._env(env), self._win(win, "histogram"), checks.opts(opts)
        b, r, s = checks.bins(bins), checks.value_range(range), checks.step(step)
        data = convert.snapshot(values, "histogram values", self._buffers)

        def finish(op: dict) -> None:
            values = op.pop("values")
            op.update(convert.bin_histogram(values, b, r))
            self._buffers.give(values)

        op = {"op": "histogram", "env": env, "win": win, "values": data}
        if s is not None:
            op["step"] = s
        self._push(self._with_opts(op, opts), finish)
        return win

    def _histogram_binned_here(self, values: np.ndarray, win: str, env: str | None, step: int) -> None:
        """A histogram of 30 bins binned in the calling thread, for `watch` (docs/workflow.md, "What watch
        costs"): for a small array that is cheaper in all than the sender's binning, each numpy call of
        which waits for the GIL behind the training loop and then holds the loop up."""
        op = {"op": "histogram", "env": self._env(env), "win": self._win(win, "histogram"), "step": step}
        op.update(convert.bin_histogram(values, 30, None))
        self._push(op)

    def heatmap(self, z: Any, win: str | None = None, env: str | None = None, opts: dict | None = None) -> str:
        """A matrix shown as colors (replaces the window's matrix)."""
        env, win, opts = self._env(env), self._win(win, "heatmap"), checks.opts(opts)
        zs = convert.numeric(z, "heatmap z", (2,))
        self._push(self._with_opts({"op": "heatmap", "env": env, "win": win, "z": zs}, opts), _finish_wire("z"))
        return win

    def image(
        self,
        img: Any,
        win: str | None = None,
        env: str | None = None,
        opts: dict | None = None,
        caption: str = "",
        step: int | None = None,
        format: str | None = None,
        quality: int = 90,
    ) -> str:
        """One image (HW, HWC, CHW array or tensor, float in [0, 1] or uint8; PIL image; matplotlib figure)."""
        return self._images([convert.image_input(img)], win, env, opts, [caption], step, format, quality, "image")

    def images(
        self,
        batch: Any,
        win: str | None = None,
        env: str | None = None,
        opts: dict | None = None,
        nrow: int | None = None,
        captions: Any = None,
        step: int | None = None,
        format: str | None = None,
        quality: int = 90,
    ) -> str:
        """A grid of images: an NCHW/NHWC batch or a list of images; `nrow` images per row."""
        imgs = convert.split_batch(batch)
        caps = [""] * len(imgs) if captions is None else checks.strings(captions, "captions", len(imgs))
        if nrow is not None:
            if not isinstance(nrow, int) or isinstance(nrow, bool) or nrow < 1:
                raise ValueError(f"nrow must be a positive integer, got {nrow!r}")
            opts = {**(opts or {}), "nrow": nrow}
        return self._images(imgs, win, env, opts, caps, step, format, quality, "images")

    def _images(
        self, imgs: list, win: Any, env: Any, opts: Any, captions: list, step: Any, fmt: Any, quality: int, default: str
    ) -> str:
        env, win, opts = self._env(env), self._win(win, default), checks.opts(opts)
        fmt = self.image_format if fmt is None else checks.image_format(fmt)
        quality, step = checks.quality(quality), checks.step(step)
        for c in captions:
            if not isinstance(c, str) or len(c) > 1000:
                raise TypeError("caption must be a string of at most 1000 characters")

        def finish(op: dict) -> None:
            raw = op.pop("raw")
            op["images"] = [convert.encode_image(i, fmt, quality, c) for i, c in zip(raw, captions, strict=True)]

        op = {"op": "image", "env": env, "win": win, "raw": imgs}
        if step is not None:
            op["step"] = step
        self._push(self._with_opts(op, opts), finish)
        return win

    def text(
        self, text: str, win: str | None = None, env: str | None = None, opts: dict | None = None, append: bool = False
    ) -> str:
        """Markdown text (rendered safely by the browser); `append=True` extends it."""
        env, win, opts = self._env(env), self._win(win, "text"), checks.opts(opts)
        if not isinstance(text, str):
            raise TypeError(f"text must be a string, got {type(text).__name__}")
        protocol.check_text(text)  # the server's limits, raised here
        op = {"op": "text", "env": env, "win": win, "text": text, "update": "append" if append else "replace"}
        self._push(self._with_opts(op, opts))
        return win

    def set_opts(self, win: str, opts: dict, env: str | None = None) -> str:
        """Merge options into a window's options (a None value removes the key)."""
        env, win, opts = self._env(env), self._win(win, win), checks.opts(opts)
        self._push({"op": "opts", "env": env, "win": win, "opts": opts or {}})
        return win
