"""Conversion of user inputs (numbers, lists, numpy, torch, PIL, matplotlib) and sender-side encoding.

Two halves. The *call* half (`numeric`, `image_input`, `snapshot`) runs in the user's call: it checks
shapes and types, raising at the call site, and copies the data so that the value logged is the value
at the call. The *sender* half (`finish_array`, `encode_image`, `bin_histogram`) runs on the sender
thread: the slow work (PNG encoding, binning, device-to-host copies) never runs in the training loop.
torch is never imported here: a tensor is recognised by its type's module.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

from livepanel.client.buffers import BufferPool
from livepanel.sumsq import sum_of_squares

NUMBER_KINDS = "biuf"


def is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def is_pil(x: Any) -> bool:
    return type(x).__module__.startswith("PIL.") and hasattr(x, "mode") and hasattr(x, "size")


def is_figure(x: Any) -> bool:
    return type(x).__module__.startswith("matplotlib") and hasattr(x, "savefig")


class DeviceArray:
    """A clone of a tensor on an accelerator, made in the call (asynchronous); copied to the host later."""

    __slots__ = ("tensor", "shape", "ndim")

    def __init__(self, tensor: Any):
        self.tensor = tensor
        self.shape = tuple(tensor.shape)
        self.ndim = len(self.shape)


def _tensor(x: Any, what: str) -> np.ndarray | DeviceArray:
    if not hasattr(x, "detach"):
        raise TypeError(f"{what}: expected a torch tensor, got {type(x).__module__}.{type(x).__name__}")
    t = x.detach()
    if t.is_complex():
        raise TypeError(f"{what}: expected real numbers, got a complex tensor")
    if t.dtype.is_floating_point and t.element_size() < 4:  # float16, bfloat16: numpy lacks bfloat16
        t = t.float()
    elif str(t.dtype) == "torch.bool":
        t = t.to(dtype=__import__("torch").uint8)  # torch is loaded already: the input is a tensor
    if t.device.type != "cpu":
        return DeviceArray(t.clone())
    return t.numpy().copy()


def snapshot(x: Any, what: str, pool: BufferPool | None = None) -> np.ndarray | DeviceArray:
    """The value of `x` now, as an array we own (a copy); raises TypeError for non-numbers.

    With a pool, a large numpy array is copied into a reused buffer (give it back when done)."""
    if pool is not None and isinstance(x, np.ndarray) and x.dtype.kind in "iuf" and x.dtype != np.float16:
        return pool.copy(x)
    if is_torch(x):
        return _tensor(x, what)
    if isinstance(x, (str, bytes, dict, set)) or x is None:
        raise TypeError(f"{what}: expected numbers (a scalar, list, numpy array or tensor), got {type(x).__name__}")
    if isinstance(x, (list, tuple)) and any(is_torch(v) for v in x[:1]):
        x = [v.item() if getattr(v, "ndim", 1) == 0 else np.asarray(_tensor(v, what)) for v in x]
    try:
        arr = np.array(x, copy=True)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"{what}: expected numbers of a regular shape, got {type(x).__name__} ({exc})") from None
    if arr.dtype.kind not in NUMBER_KINDS:
        raise TypeError(f"{what}: expected real numbers, got an array of dtype {arr.dtype}")
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    return arr


def finish_array(a: np.ndarray | DeviceArray) -> np.ndarray:
    """Sender side: a host numpy array (copies a device tensor to the host)."""
    if isinstance(a, DeviceArray):
        return a.tensor.cpu().numpy()
    return a


def numeric(x: Any, what: str, ndims: tuple[int, ...]) -> np.ndarray | DeviceArray:
    """A snapshot with a dimension check: scalars are 1-D when 1 is allowed."""
    arr = snapshot(x, what)
    if arr.ndim == 0 and 1 in ndims:
        arr = arr.reshape(1) if isinstance(arr, np.ndarray) else _reshape_device(arr, (1,))
    if arr.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{what}: expected a {want} array, got shape {tuple(arr.shape)}")
    return arr


def _reshape_device(a: DeviceArray, shape: tuple[int, ...]) -> DeviceArray:
    return DeviceArray(a.tensor.reshape(shape))


def as_float(a: np.ndarray, keep_f4: bool = True) -> np.ndarray:
    """Float array for the wire: float32 stays float32 (when allowed), everything else becomes float64."""
    if keep_f4 and a.dtype == np.float32:
        return a
    return a.astype(np.float64, copy=False)


def wire_dtype(a: np.ndarray) -> np.ndarray:
    """An array in a dtype the protocol carries (bool -> u1, float16 -> f4)."""
    if a.dtype == np.bool_:
        return a.astype(np.uint8)
    if a.dtype == np.float16:
        return a.astype(np.float32)
    return a


# ---------------------------------------------------------------- images

CHANNELS = (1, 3, 4)


class Encoded:
    """An image already encoded (a rendered matplotlib figure)."""

    __slots__ = ("data", "format")

    def __init__(self, data: bytes, fmt: str):
        self.data, self.format = data, fmt


def image_input(img: Any, what: str = "image") -> Any:
    """Check one image and copy it: returns an HWC/HW numpy array, a DeviceArray, a PIL copy or Encoded."""
    if is_pil(img):
        return img.copy()
    if is_figure(img):
        buf = io.BytesIO()
        img.savefig(buf, format="png")  # rendered now: a figure may change after the call
        return Encoded(buf.getvalue(), "png")
    if isinstance(img, (str, bytes)) or img is None or isinstance(img, dict):
        raise TypeError(
            f"{what}: expected an array (HW, HWC or CHW), a tensor, a PIL image or a figure, got {type(img).__name__}"
        )
    arr = snapshot(img, what)
    shape = tuple(arr.shape)
    if len(shape) == 3 and shape[0] in CHANNELS and shape[-1] not in CHANNELS:
        layout = "CHW"
    elif len(shape) == 3 and shape[-1] in CHANNELS:
        layout = "HWC"
    elif len(shape) == 3 and shape[0] in CHANNELS:
        layout = "CHW"
    elif len(shape) == 2:
        layout = "HW"
    else:
        raise ValueError(
            f"{what}: expected an image of shape HW, HWC or CHW with 1, 3 or 4 channels, got shape {shape}"
        )
    h, w = (shape[1], shape[2]) if layout == "CHW" else (shape[0], shape[1])
    if not (0 < h <= 32768 and 0 < w <= 32768):
        raise ValueError(f"{what}: width and height must be 1 to 32768 pixels, got {w}x{h}")
    if layout == "CHW":
        arr = arr.transpose(1, 2, 0) if isinstance(arr, np.ndarray) else DeviceArray(arr.tensor.permute(1, 2, 0))
    return arr


def split_batch(batch: Any, what: str = "images") -> list[Any]:
    """A batch NCHW/NHWC (array or tensor) or a list of images, as a list of single images."""
    if isinstance(batch, (list, tuple)):
        items = list(batch)
    elif is_torch(batch) or isinstance(batch, np.ndarray):
        if batch.ndim == 3:  # N single-channel HW images, or one CHW image
            items = [batch] if batch.shape[0] in CHANNELS and batch.shape[-1] not in CHANNELS else list(batch)
        elif batch.ndim == 4:
            items = list(batch)
        else:
            raise ValueError(f"{what}: expected a batch of shape NCHW, NHWC or NHW, got shape {tuple(batch.shape)}")
    else:
        raise TypeError(
            f"{what}: expected a batch array (NCHW), a tensor or a list of images, got {type(batch).__name__}"
        )
    if not items:
        raise ValueError(f"{what}: the batch is empty")
    if len(items) > 1024:
        raise ValueError(f"{what}: {len(items)} images in one call; the limit is 1024")
    return [image_input(img, f"{what}[{i}]") for i, img in enumerate(items)]


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype.kind == "f":
        return (np.nan_to_num(arr, nan=0.0).clip(0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return arr.clip(0, 255).astype(np.uint8)


def encode_image(img: Any, fmt: str = "png", quality: int = 90, caption: str = "") -> dict[str, Any]:
    """Sender side: one image (from `image_input`) encoded for the wire."""
    from PIL import Image

    if isinstance(img, Encoded):
        with Image.open(io.BytesIO(img.data)) as probe:
            w, h = probe.size
        return {"format": img.format, "data": img.data, "width": w, "height": h, "caption": caption}
    if not is_pil(img):
        arr = _to_uint8(np.ascontiguousarray(finish_array(img)))
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        img = Image.fromarray(arr)
    if fmt == "jpeg" and img.mode not in ("L", "RGB"):
        img = img.convert("RGB")
    elif img.mode not in ("L", "RGB", "RGBA", "LA", "P", "1"):
        img = img.convert("RGBA" if "A" in img.mode else "RGB")
    buf = io.BytesIO()
    if fmt == "png":
        img.save(buf, format="PNG", compress_level=1)
    elif fmt == "jpeg":
        img.save(buf, format="JPEG", quality=quality)
    else:
        img.save(buf, format="WEBP", quality=quality)
    w, h = img.size
    return {"format": fmt, "data": buf.getvalue(), "width": w, "height": h, "caption": caption}


# ---------------------------------------------------------------- histograms


def bin_histogram(values: np.ndarray | DeviceArray, bins: int | np.ndarray, value_range: tuple | None) -> dict:
    """Counts, edges and stats {min, max, mean, std, n, nan} of the finite values (on the sender thread;
    for watch's small layers, on the training thread).

    Few numpy calls on purpose: on the sender thread each one waits for the GIL behind the training
    loop (docs/workflow.md, "What watch costs"); an all-finite array is checked by its two ends."""
    v = np.asarray(finish_array(values)).ravel()
    if v.dtype.kind != "f":
        v = v.astype(np.float64)
    # Sorting releases the GIL, so the training thread runs on while the sender bins; counting is
    # then a search of the edges (the same counts as np.histogram, which holds the GIL longer).
    s = np.sort(v)  # NaN sorts last and ±inf sit at the ends: two looks tell whether all are finite
    nonfinite = 0
    if s.size and not (math.isfinite(s[0]) and math.isfinite(s[-1])):
        finite = np.isfinite(s)
        nonfinite = int(s.size - np.count_nonzero(finite))
        s = s[finite]  # still sorted
    if s.size:
        vmin, vmax = float(s[0]), float(s[-1])
        if isinstance(bins, int):
            lo, hi = value_range if value_range is not None else (s[0], s[-1])  # as np.histogram, types too
            lo, hi = (lo - 0.5, hi + 0.5) if lo == hi else (lo, hi)
            edges = np.linspace(lo, hi, bins + 1, dtype=np.result_type(lo, hi, v))
        else:
            edges = np.asarray(bins)
        idx = np.searchsorted(s, edges, "left")
        idx[-1] = np.searchsorted(s, edges[-1], "right")  # the last bin includes its right edge
        counts = np.diff(idx)
        mean = float(np.add.reduce(s, dtype=np.float64)) / s.size
        deviations = np.subtract(s, mean, dtype=np.float64)
        std = math.sqrt(sum_of_squares(deviations) / s.size)
    else:
        counts, edges = np.histogram(s, bins=bins, range=value_range or (0.0, 1.0))
        vmin = vmax = mean = std = 0.0
    stats = {"min": vmin, "max": vmax, "mean": mean, "std": std, "n": int(s.size), "nan": nonfinite}
    return {"counts": counts.astype(np.int64), "edges": edges.astype(np.float64), "stats": stats}
