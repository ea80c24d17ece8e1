"""Small helpers shared by the browser tests (imported as a sibling module)."""

from __future__ import annotations

import io
import itertools

import numpy as np

_seq = itertools.count(1)


def next_frames(page) -> None:
    """Return once the page has painted twice: what a hover or click set off (handlers, redraws) has run."""
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def next_seq() -> int:
    return next(_seq)


def png_bytes(h: int = 8, w: int = 8, seed: int = 0) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray((rng.random((h, w, 3)) * 255).astype("uint8")).save(buf, "PNG")
    return buf.getvalue()


def every_kind(env: str) -> list[dict]:
    """One window of each kind, with a title each."""
    rng = np.random.default_rng(1)
    x = np.arange(300.0)
    ops: list[dict] = [
        {
            "op": "line",
            "env": env,
            "win": "loss",
            "name": "train",
            "x": x,
            "y": np.exp(-x / 80) + 0.05 * rng.random(300),
        },
        {"op": "line", "env": env, "win": "loss", "name": "val", "x": x[::20], "y": np.exp(-x[::20] / 80) + 0.1},
        {"op": "opts", "env": env, "win": "loss", "opts": {"title": "Loss", "xlabel": "step", "ylabel": "loss"}},
        {
            "op": "scatter",
            "env": env,
            "win": "embedding",
            "name": "a",
            "x": rng.standard_normal(200),
            "y": rng.standard_normal(200),
        },
        {
            "op": "scatter",
            "env": env,
            "win": "embedding",
            "name": "b",
            "x": rng.standard_normal(200) + 2,
            "y": rng.standard_normal(200),
        },
        {
            "op": "bar",
            "env": env,
            "win": "classes",
            "y": rng.random((5, 2)),
            "labels": ["cat", "dog", "car", "ship", "frog"],
            "opts": {"legend": ["train", "val"]},
        },
        {"op": "heatmap", "env": env, "win": "confusion", "z": rng.random((6, 6)), "opts": {"colormap": "viridis"}},
        {
            "op": "text",
            "env": env,
            "win": "notes",
            "text": "# Notes\n**epoch 3** done\n\n- lr `0.1`\n- [link](https://example.org)",
        },
        {
            "op": "image",
            "env": env,
            "win": "input",
            "step": 0,
            "images": [{"format": "png", "data": png_bytes(8, 8, 0), "width": 8, "height": 8, "caption": "sample"}],
        },
        {
            "op": "image",
            "env": env,
            "win": "batch",
            "step": 0,
            "images": [{"format": "png", "data": png_bytes(8, 8, i), "width": 8, "height": 8} for i in range(6)],
            "opts": {"nrow": 3},
        },
    ]
    for s in range(6):
        v = rng.standard_normal(2000) * (1 + s * 0.3)
        counts, edges = np.histogram(v, bins=40)
        ops.append(
            {"op": "histogram", "env": env, "win": "grads", "step": s, "counts": counts.astype("<f8"), "edges": edges}
        )
    return ops
