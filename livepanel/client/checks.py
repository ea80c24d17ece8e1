"""Argument checks for the Panel API: each raises at the call site, saying what was expected."""

from __future__ import annotations

from typing import Any

import numpy as np

from livepanel import protocol, trace_style
from livepanel.client.convert import DeviceArray, is_torch

_TYPE_NAMES = {
    str: "a string",
    bool: "a bool",
    list: "a list",
    int: "an integer",
    (int, float): "a number",
    (bool, str): "a bool or a string",
}
UPDATES = ("append", "replace", "remove")
FORMATS = {"png": "png", "jpeg": "jpeg", "jpg": "jpeg", "webp": "webp"}


def name(value: Any, what: str, allow_empty: bool = False) -> str:
    """An env, window or trace name (1..200 printable characters, no outer spaces)."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {type(value).__name__}")
    protocol.check_name(value, what, allow_empty)
    return value


def opts(value: Any) -> dict[str, Any] | None:
    """Window options: known keys with values of the right type (see docs/protocol.md)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TypeError(f"opts must be a dict such as {{'title': 'Loss'}}, got {type(value).__name__}")
    out = {}
    for key, v in value.items():
        expected = protocol.OPTION_KEYS.get(key)
        if expected is None and trace_style.is_key(key):  # "trace:<name>": one trace's style
            trace_style.check(key, v)
            out[key] = v
            continue
        if expected is None:
            raise ValueError(f"unknown option {key!r}; known options: {', '.join(sorted(protocol.OPTION_KEYS))}")
        if isinstance(v, tuple) or isinstance(v, np.ndarray):
            v = list(np.asarray(v).tolist()) if isinstance(v, np.ndarray) else list(v)
        if isinstance(v, np.generic):
            v = v.item()
        if expected is int and isinstance(v, bool) or (v is not None and not isinstance(v, expected)):
            raise TypeError(f"option {key!r} must be {_TYPE_NAMES.get(expected, expected)}, got {type(v).__name__}")
        if isinstance(v, list):
            if not all(isinstance(e, (str, int, float)) and not isinstance(e, bool) for e in v):
                raise TypeError(f"option {key!r} must be a list of strings or numbers")
            if len(v) > 10000:
                raise ValueError(f"option {key!r} has {len(v)} entries; the limit is 10000")
        if isinstance(v, str) and len(v) > 1000:
            raise ValueError(f"option {key!r} is longer than 1000 characters")
        out[key] = v
    try:
        protocol.check_opts(out)  # the server's limits (int ranges, finite sizes, entry lengths), raised here
    except protocol.ProtocolError as exc:
        raise ValueError(str(exc)) from None
    return out


def update(value: Any, allowed: tuple[str, ...] = UPDATES) -> str:
    if value not in allowed:
        raise ValueError(f"update must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def step(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, np.integer):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"step must be an integer, got {type(value).__name__}")
    if not protocol.INT64_MIN <= value <= protocol.MAX_STEP:  # the server keeps steps as int64
        raise ValueError(f"step must be from {protocol.INT64_MIN} to {protocol.MAX_STEP}, got {value}")
    return value


def image_format(value: Any) -> str:
    fmt = FORMATS.get(str(value).lower()) if isinstance(value, str) else None
    if fmt is None:
        raise ValueError(f"format must be 'png', 'jpeg' or 'webp', got {value!r}")
    return fmt


def quality(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100:
        raise ValueError(f"quality must be an integer from 1 to 100, got {value!r}")
    return value


def strings(value: Any, what: str, n: int) -> list[str]:
    """A list of `n` strings (labels, captions)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise TypeError(f"{what} must be a list of {n} strings, got {type(value).__name__}")
    items = [str(v) for v in value]
    if len(items) != n:
        raise ValueError(f"{what} must have {n} entries (one per row), got {len(items)}")
    if any(len(s) > protocol.MAX_NAME for s in items):
        raise ValueError(f"{what}: each entry must be at most {protocol.MAX_NAME} characters")
    return items


def scalar(value: Any, what: str) -> float | int | DeviceArray:
    """One number from a Python, numpy or torch scalar (a device tensor stays on its device)."""
    if type(value) in (int, float):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)):
        return value.item() if isinstance(value, np.generic) else (int(value) if isinstance(value, bool) else value)
    if is_torch(value) and hasattr(value, "numel"):
        if value.numel() != 1:
            raise ValueError(f"{what}: expected a scalar, got a tensor of shape {tuple(value.shape)}")
        if value.is_complex():
            raise TypeError(f"{what}: expected a real number, got a complex tensor")
        t = value.detach().reshape(1)
        if t.device.type != "cpu":
            return DeviceArray(t.clone().double())
        return t.item()
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "biuf":
        return value.item()
    raise TypeError(f"{what}: expected a number (int, float, numpy or torch scalar), got {type(value).__name__}")


def bins(value: Any) -> int | np.ndarray:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if not 1 <= value <= 100_000:
            raise ValueError(f"bins must be from 1 to 100000, got {value}")
        return int(value)
    try:
        edges = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"bins must be an integer or a list of increasing edges, got {type(value).__name__}") from None
    if edges.ndim != 1 or len(edges) < 2 or not np.all(np.diff(edges) > 0):
        raise ValueError("bins given as edges must be a 1-D increasing sequence of at least 2 numbers")
    return edges


def value_range(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"range must be a pair (low, high), got {value!r}") from None
    if not lo < hi:
        raise ValueError(f"range must have low < high, got {value!r}")
    return lo, hi
