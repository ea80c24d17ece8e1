"""`panel.embedding(features, labels, metadata, images)`: checked and copied in the call, sent as float32.

The call checks everything the server would refuse (shape, limits, non-finite values, lengths of labels,
metadata and images) and raises at once with nothing queued; it copies the data (a device tensor is
cloned on its device), and the sender thread converts the features to float32 and makes the thumbnails
(at most THUMB pixels a side, PNG). float32 rather than float16: model features are float32 already
(exact, so neighbours and PCA see what the model saw), and float16 overflows past 65,504.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from livepanel import embedding as spec
from livepanel.client import checks, convert

THUMB = 48  # pixels a side, at most


def _finite(features: Any) -> None:
    """Every value finite (and within float32's range), raising EmbeddingError naming the first bad one."""
    if isinstance(features, convert.DeviceArray):
        t = features.tensor
        if not bool(t.isfinite().all()) or bool((t.abs() > np.finfo(np.float32).max).any()):
            spec.check_features(t.double().cpu().numpy())  # names the first bad value
            raise spec.EmbeddingError("embedding features hold values beyond float32's range")
        return
    spec.check_features(features)
    if features.dtype == np.float64 and features.size and np.abs(features).max() > np.finfo(np.float32).max:
        raise spec.EmbeddingError("embedding features hold values beyond float32's range (3.4e38)")


def _strings(values: Any, n: int, what: str) -> list[str]:
    if convert.is_torch(values):
        values = values.detach().cpu().numpy()
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise ValueError(f"{what} must be 1-D (one per point), got shape {tuple(values.shape)}")
        values = values.tolist()
    items = checks.strings(values, what, n)
    return items


def _column(name: Any, values: Any, n: int) -> Any:
    """A metadata column: N numbers (float64 array) or N strings."""
    if convert.is_torch(values):
        values = values.detach().cpu().numpy()
    arr = np.asarray(values) if not isinstance(values, (str, bytes, dict)) else None
    if arr is None or arr.ndim != 1:
        shape = None if arr is None else tuple(arr.shape)
        raise ValueError(
            f"embedding metadata {name!r} must be a 1-D sequence of {n} values, got {shape or values!r:.80}"
        )
    if len(arr) != n:
        raise ValueError(f"embedding metadata {name!r} has {len(arr)} values for {n} points; give one per point")
    if arr.dtype.kind in "biuf":
        return arr.astype(np.float64)
    return _strings(arr, n, f"embedding metadata {name!r}")


def _images(images: Any, n: int) -> list[Any]:
    if n > spec.MAX_THUMB_POINTS:
        raise ValueError(f"embedding images are taken for up to {spec.MAX_THUMB_POINTS} points, got {n} points")
    if isinstance(images, (list, tuple)):
        items = list(images)
    elif convert.is_torch(images) or isinstance(images, np.ndarray):
        if images.ndim not in (3, 4):
            raise ValueError(
                f"embedding images must be N x H x W, N x H x W x C or N x C x H x W, got shape {tuple(images.shape)}"
            )
        items = list(images)
    else:
        raise TypeError(f"embedding images must be an array of N images or a list of them, got {type(images).__name__}")
    if len(items) != n:
        raise ValueError(f"embedding has {n} points but {len(items)} images; give one image per point")
    return [convert.image_input(img, f"embedding images[{i}]") for i, img in enumerate(items)]


def thumbnail(img: Any) -> bytes:
    """Sender side: one image as a PNG of at most THUMB pixels a side."""
    from PIL import Image

    encoded = convert.encode_image(img, "png")
    if max(encoded["width"], encoded["height"]) <= THUMB and len(encoded["data"]) <= spec.MAX_THUMB_BYTES:
        return encoded["data"]
    import io

    with Image.open(io.BytesIO(encoded["data"])) as im:
        im.thumbnail((THUMB, THUMB))
        buf = io.BytesIO()
        im.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def embedding(
    panel: Any,
    features: Any,
    labels: Any = None,
    metadata: dict | None = None,
    images: Any = None,
    win: str | None = None,
    step: int | None = None,
    env: str | None = None,
    opts: dict | None = None,
) -> str:
    env, win, opts = panel._env(env), panel._win(win, "embedding"), checks.opts(opts)
    s = checks.step(step)
    try:
        x = convert.numeric(features, "embedding features", (2,))
        n = x.shape[0]
        spec.check_shape(tuple(x.shape))
        _finite(x)
    except spec.EmbeddingError as exc:
        raise ValueError(str(exc)) from None
    lab = None if labels is None else _strings(labels, n, "embedding labels")
    md: dict[str, Any] = {}
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise TypeError(
                f"embedding metadata must be a dict of column names to values, got {type(metadata).__name__}"
            )
        if len(metadata) > spec.MAX_COLUMNS:
            raise ValueError(f"embedding metadata has {len(metadata)} columns; the limit is {spec.MAX_COLUMNS}")
        for name, values in metadata.items():
            checks.name(name, "embedding metadata column name")
            md[name] = _column(name, values, n)
    raw = None if images is None else _images(images, n)

    def finish(op: dict) -> None:
        op["features"] = np.ascontiguousarray(convert.finish_array(op["features"]), dtype=np.float32)
        imgs = op.pop("raw", None)
        if imgs is not None:
            op["thumbs"] = [thumbnail(img) for img in imgs]

    op: dict[str, Any] = {"op": "embedding", "env": env, "win": win, "features": x, "labels": lab, "metadata": md}
    if raw is not None:
        op["raw"] = raw
    if s is not None:
        op["step"] = s
    panel._push(panel._with_opts(op, opts), finish)
    return win
