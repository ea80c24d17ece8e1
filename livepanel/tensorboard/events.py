"""TensorBoard events to livepanel operations: scalars, histograms, images, text, hparams; old and new style.

Old style (torch.utils.tensorboard, tensorboardX, tf.summary v1) puts values in `simple_value`,
`histo` and `image`; new style (tf.summary v2, Keras) writes tensors whose meaning is named by the
plugin in the value's metadata, which a writer puts only on the first value of each tag in a file,
so the plugin is remembered per tag.
"""

from __future__ import annotations

import hashlib
import io
import math
from typing import Any

import numpy as np

try:
    from tensorboard.compat.proto.event_pb2 import Event
except ImportError:  # tensorboardX ships the same messages
    from tensorboardX.proto.event_pb2 import Event  # type: ignore[no-redef]

from livepanel.protocol import MAX_NAME, MAX_RUN_KEYS, MAX_RUN_TEXT

_parse_event = Event.FromString
TEXT_SUFFIX = "/text_summary"  # what torch and tensorboardX add to text tags
_HUGE = 1e300  # TF's outer histogram limits are +-DBL_MAX

# TensorProto dtypes: numpy type and the repeated field that holds values when tensor_content is empty
_DTYPES: dict[int, tuple[str, str]] = {
    1: ("<f4", "float_val"),
    2: ("<f8", "double_val"),
    3: ("<i4", "int_val"),
    4: ("u1", "int_val"),
    5: ("<i2", "int_val"),
    6: ("i1", "int_val"),
    9: ("<i8", "int64_val"),
    10: ("?", "bool_val"),
    14: ("<u2", "half_val"),  # bfloat16: converted below
    17: ("<u2", "int_val"),
    19: ("<f2", "half_val"),
    22: ("<u4", "uint32_val"),
    23: ("<u8", "uint64_val"),
}
DT_STRING = 7


def clean_name(text: str) -> str:
    """A valid livepanel name (printable, trimmed, at most 200 characters) that stays unique when cut."""
    out = "".join(c if c.isprintable() else "?" for c in text).strip() or "_"
    if len(out) > MAX_NAME:
        digest = hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()[:8]
        out = out[: MAX_NAME - 9].rstrip() + "~" + digest
    return out


def tensor_array(t: Any) -> np.ndarray | None:
    """A TensorProto as numpy (strings as an object array of bytes); None for types we do not show."""
    shape = [d.size for d in t.tensor_shape.dim]
    size = math.prod(shape)
    if t.dtype == DT_STRING:
        arr = np.empty(len(t.string_val), dtype=object)
        arr[:] = list(t.string_val)
    else:
        spec = _DTYPES.get(t.dtype)
        if spec is None:
            return None
        code, field = spec
        if t.tensor_content:
            arr = np.frombuffer(t.tensor_content, dtype=code)
        elif field == "half_val":
            arr = np.array(t.half_val, dtype=np.uint16)
        else:
            arr = np.array(getattr(t, field), dtype=code)
        if t.dtype == 19:
            arr = arr.view(np.float16)
        elif t.dtype == 14:  # bfloat16: the high half of a float32
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
    if arr.size == size:
        return arr.reshape(shape)
    if arr.size == 1 and size > 1:  # TF stores a constant fill as one value
        return np.full(shape, arr[0], dtype=arr.dtype)
    if arr.size == 0 and size == 0:
        return arr.reshape(shape)
    return None


def histogram_op(histo: Any) -> dict[str, Any] | None:
    """A HistogramProto as counts, edges and stats; empty outer buckets dropped, +-DBL_MAX limits clamped."""
    counts = np.asarray(histo.bucket, dtype=np.float64)
    limits = np.asarray(histo.bucket_limit, dtype=np.float64)
    if len(counts) == 0 or len(counts) != len(limits):
        return None
    nonzero = np.flatnonzero(counts)
    if len(nonzero) == 0:
        return None
    first, last = int(nonzero[0]), int(nonzero[-1])
    left = limits[first - 1] if first > 0 else min(histo.min, limits[0])
    edges = np.concatenate([[left], limits[first : last + 1]])
    if abs(edges[0]) >= _HUGE:
        edges[0] = min(histo.min, edges[1])
    if abs(edges[-1]) >= _HUGE:
        edges[-1] = max(histo.max, edges[-2])
    num = float(histo.num)
    stats = {"min": float(histo.min), "max": float(histo.max), "n": num}
    if num > 0:
        mean = histo.sum / num
        stats["mean"] = float(mean)
        stats["std"] = float(math.sqrt(max(0.0, histo.sum_squares / num - mean * mean)))
    return {"counts": _counts(counts[first : last + 1]), "edges": edges, "stats": stats}


def histogram_tensor_op(arr: np.ndarray) -> dict[str, Any] | None:
    """A new-style histogram tensor of shape [k, 3] (left, right, count)."""
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] == 0 or arr.dtype == object:
        return None
    arr = arr.astype(np.float64)
    edges = np.concatenate([arr[:, 0], arr[-1:, 1]])
    counts = arr[:, 2]
    return {"counts": _counts(counts), "edges": edges, "stats": {"n": float(counts.sum())}}


def _counts(counts: np.ndarray) -> np.ndarray:
    return counts.astype(np.int64) if np.all(counts == np.round(counts)) else counts


def image_entry(data: bytes, width: int = 0, height: int = 0) -> dict[str, Any] | None:
    """An encoded image for the wire: PNG, JPEG and WebP as they are, anything else (GIF...) made PNG."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        fmt = "png"
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    else:
        try:
            from PIL import Image

            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                fmt = {"JPEG": "jpeg", "WEBP": "webp"}.get(img.format or "")
                if fmt is None:
                    out = io.BytesIO()
                    img.convert("RGBA").save(out, format="PNG")
                    data, fmt = out.getvalue(), "png"
        except Exception:  # not an image PIL knows: nothing to show
            return None
    if not (0 < width <= 32768 and 0 < height <= 32768):
        return None
    return {"format": fmt, "data": data, "width": width, "height": height, "caption": ""}


def hparams_config(content: bytes) -> dict[str, Any] | None:
    """The hparams of an hparams plugin summary's session_start_info as a run config; None for any other
    hparams content (experiment, session end). Names are made valid, long strings cut, lists as text."""
    try:
        from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData
    except ImportError:
        from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData  # type: ignore[no-redef]
    data = HParamsPluginData.FromString(content)
    if not data.HasField("session_start_info"):
        return None
    config: dict[str, Any] = {}
    for name, value in sorted(data.session_start_info.hparams.items())[:MAX_RUN_KEYS]:
        config[clean_name(name)] = _hparam_value(value)
    return config


def _hparam_value(value: Any) -> Any:
    """A google.protobuf.Value as a run config value: numbers as floats (NaN and infinities too)."""
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        return float(value.number_value)
    if kind == "bool_value":
        return bool(value.bool_value)
    if kind == "string_value":
        return value.string_value[:MAX_RUN_TEXT]
    if kind == "list_value":
        return repr([_hparam_value(v) for v in value.list_value.values])[:MAX_RUN_TEXT]
    if kind == "struct_value":
        return repr({k: _hparam_value(v) for k, v in value.struct_value.fields.items()})[:MAX_RUN_TEXT]
    return None


def text_markdown(arr: np.ndarray) -> str:
    """A text tensor as markdown: one string as it is, a vector as paragraphs, a matrix as a table."""
    cells = [
        [(b if isinstance(b, bytes) else str(b).encode()).decode("utf-8", "replace") for b in row]
        for row in (arr.reshape(1, -1) if arr.ndim < 2 else arr.reshape(arr.shape[0], -1))
    ]
    if arr.ndim < 2:
        return "\n\n".join(cells[0])
    width = max(len(r) for r in cells)

    def row(r: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in r) + " |"

    return "\n".join([row(cells[0]), "|" + "---|" * width, *(row(r) for r in cells[1:])])
