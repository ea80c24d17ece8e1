"""The wire format: message schema, validation and the msgpack codec.

Shared by the client and the server, and imports neither. It is the only place
where bytes are made: arrays travel as raw little-endian bytes with their dtype
and shape beside them (``{"dtype": "f8", "shape": [n], "data": <bin>}``), and
are rebuilt with ``np.frombuffer`` without copying. See docs/protocol.md.
"""

from __future__ import annotations

import importlib
import math
import re
import reprlib
from collections.abc import Callable
from typing import Any

import msgpack
import numpy as np

from livepanel import trace_style

VERSION = 1
API = "/api/v1"

# Wire dtypes: numpy type codes without the byte-order prefix (always little-endian).
DTYPES = ("f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8")
MAX_NAME = 200
MAX_TEXT = 1 << 20  # one text window update, in characters
# Integers the store keeps are signed 64-bit: a number outside is refused before it reaches the store.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_STEP = INT64_MAX - 1  # a step sent without a number is the last one + 1, which must fit as well
MAX_DIM = 2**31 - 1  # one dimension of an array
MAX_ELEMENTS = 2**28  # the product of the dimensions, each counted as at least 1 (so [0, 2**62] counts)
MAX_EMPTY = 2**16  # the same product for an array without elements: [10**7, 0] is 10**7 empty rows to readers
MAX_DEPTH = 32  # nesting of maps and lists in one message; a batch needs 5
MAX_QUOTE = 200  # characters of a sent value that an error message quotes
MAX_STATS = 64  # entries in a histogram's stats
MAX_OPTION_TEXT = 1000  # characters of a string option, or of a string in a list option
MAX_OPTION_LIST = 10000  # entries of a list option
MAX_PIXELS = 100000  # integer options (width, height, nrow) and layout cells range from 0 to this
KINDS = ("line", "scatter", "bar", "histogram", "heatmap", "image", "text", "plotly")
KINDS += ("properties",)  # a properties pane (livepanel/properties.py): edited by viewers, read by the writer
KINDS += ("media",)  # audio, video, svg (livepanel/media.py)
KINDS += ("embedding",)  # N x D features, projected and drawn as a scatter (livepanel/embedding.py)
KINDS += ("audio", "video")  # a WAV or an MP4 per step (livepanel/audio.py, livepanel/video.py, livepanel/clips.py)
KINDS += ("graph",)  # a model's structure: nodes, edges, module hierarchy (livepanel/model_graph.py)
# Kinds of alert the server's diagnosis raises (livepanel.diagnosis.KINDS is this list): what a mute may name.
ALERT_KINDS = (
    "nonfinite",
    "divergence",
    "overfitting",
    "not_learning",
    "vanishing_gradients",
    "exploding_gradients",
    "lr_too_high",
)
# A run's record (the `run` op): config and summary are flat maps of names to scalar values.
RUN_STATUSES = ("running", "finished", "failed")
MAX_RUN_KEYS = 10000  # entries of a run's config, and of its summary
MAX_RUN_TEXT = 1000  # characters of a string value in them
MAX_COLOR = 50  # characters of a run's color
_LITTLE = {code: np.dtype("<" + code) for code in DTYPES}  # wire dtype codes as numpy dtypes
UPDATES = ("append", "replace", "remove")
IMAGE_FORMATS = ("png", "jpeg", "webp")
OPTION_KEYS = {
    "title": str,
    "xlabel": str,
    "ylabel": str,
    "xlog": bool,
    "ylog": bool,
    "legend": list,
    "colors": list,
    "width": int,
    "height": int,
    "colormap": str,
    "xticklabels": list,
    "yticklabels": list,
    "rownames": list,
    "stacked": bool,
    "markersize": (int, float),
    "mode": str,
    "diagnose": (bool, str),
    "role": str,
    "nrow": int,
    "mute": list,
    # Visdom's drawing options (livepanel/visdom_opts.py translates them; docs/client.md)
    "markers": bool,
    "markersymbol": str,
    "fillarea": bool,
    "showlegend": bool,
    "relabel": bool,  # legend names the traces by position (Visdom's update_window_opts)
    **{a + k: bool for a in "xy" for k in ("tick",)},
    **{a + k: (int, float) for a in "xy" for k in ("tickmin", "tickmax", "tickstep", "tickfont")},
    **{a + "tickvals": list for a in "xy"},
    **{"margin" + side: int for side in ("left", "right", "top", "bottom")},
}


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 3, MAX_QUOTE, MAX_QUOTE, MAX_QUOTE


def quote(value: Any, limit: int = MAX_QUOTE) -> str:
    """The repr of a value a sender sent, cut to at most `limit` characters (ending in "...") when longer:
    for error messages, which must not echo a 10 MiB name back. Cheap and safe on any decoded value."""
    if isinstance(value, (str, bytes, bytearray)):
        text = repr(value[: limit + 1])
    elif value is None or isinstance(value, (bool, float)):
        text = repr(value)
    elif isinstance(value, int):
        text = repr(value) if value.bit_length() <= 4 * limit else f"<an integer of {value.bit_length()} bits>"
    else:
        try:
            text = _REPR.repr(value)  # bounded in depth and in items
        except Exception:  # a type whose repr fails: its name is enough
            text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: max(limit - 3, 0)] + "..."


def _names(names: Any) -> str:
    """Unknown field names for an error message: quoted, sorted, at most 10 of them."""
    listed = sorted(n if isinstance(n, str) and len(n) <= 50 and n.isprintable() else quote(n, 50) for n in names)
    return ", ".join(listed[:10]) + (f" and {len(listed) - 10} more" if len(listed) > 10 else "")


class ProtocolError(ValueError):
    """A message that does not follow the schema; the text says what is wrong.

    `op` is the index of the refused operation in its batch (None when the batch as a whole is wrong),
    so that a client can drop that one operation and send the rest again."""

    def __init__(self, message: str, op: int | None = None):
        super().__init__(message)
        self.op = op


# ---------------------------------------------------------------- arrays and codec


def encode_array(arr: np.ndarray) -> dict[str, Any]:
    """Wrap an array as raw little-endian bytes with dtype and shape (no copy when possible)."""
    arr = np.asarray(arr)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    code = arr.dtype.str[1:]
    if code not in DTYPES:
        raise ProtocolError(f"arrays of dtype {arr.dtype} cannot travel; use one of {', '.join(DTYPES)}")
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    arr = np.ascontiguousarray(arr)
    data = memoryview(arr).cast("B") if arr.size else b""
    return {"dtype": code, "shape": list(arr.shape), "data": data}


def _is_array(obj: dict) -> bool:
    return len(obj) == 3 and "dtype" in obj and "shape" in obj and "data" in obj


def decode_array(obj: Any, what: str = "array") -> np.ndarray:
    """Rebuild an array from its wire form, checking dtype, shape and byte count."""
    if not isinstance(obj, dict) or not _is_array(obj):
        raise ProtocolError(f"{what}: expected an array {{dtype, shape, data}}, got {type(obj).__name__}")
    dtype, shape, data = obj["dtype"], obj["shape"], obj["data"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise ProtocolError(f"{what}: unknown dtype {quote(dtype)}; expected one of {', '.join(DTYPES)}")
    if (
        not isinstance(shape, list)
        or len(shape) > 4
        or not all(type(s) is int and 0 <= s <= MAX_DIM for s in shape)  # type(): True is no dimension
    ):
        raise ProtocolError(f"{what}: shape must be a list of up to 4 integers from 0 to {MAX_DIM}, got {quote(shape)}")
    size = math.prod(max(s, 1) for s in shape)  # an empty array may not claim a huge shape
    limit = MAX_EMPTY if 0 in shape else MAX_ELEMENTS
    if size > limit:
        raise ProtocolError(f"{what}: shape {shape} is larger than {limit} elements (a 0 counts as 1)")
    if not isinstance(data, bytes):
        raise ProtocolError(f"{what}: data must be binary, got {type(data).__name__}")
    dt = _LITTLE[dtype]
    expected = math.prod(shape) * dt.itemsize
    if len(data) != expected:
        raise ProtocolError(f"{what}: shape {shape} of {dtype} needs {expected} bytes, got {len(data)}")
    return np.frombuffer(data, dtype=dt).reshape(shape)


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return encode_array(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot encode {type(obj).__name__}")


def packb(obj: Any) -> bytes:
    """Encode a message; numpy arrays anywhere in it become wire arrays."""
    return msgpack.packb(obj, default=_default, use_bin_type=True)


def unpackb(data: bytes, max_size: int | None = None, max_depth: int = MAX_DEPTH) -> Any:
    """Decode a message without turning arrays into numpy (validation does that); maps and lists may
    nest at most `max_depth` deep (deeper would break readers that recurse: repr, JSON, packb)."""
    if max_size is not None and len(data) > max_size:
        raise ProtocolError(f"message of {len(data)} bytes is larger than the limit of {max_size}")
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, TypeError) as exc:
        raise ProtocolError(f"body is not valid msgpack: {exc}") from None
    if _depth_over(obj, max_depth):
        raise ProtocolError(f"message nests maps and lists more than {max_depth} deep")
    return obj


def _depth_over(obj: Any, limit: int) -> bool:
    """Whether maps and lists nest deeper than `limit`: level by level, without recursion (plain loops:
    about 1 us per operation of a batch, a tenth of its validation)."""
    level = [obj] if type(obj) is dict or type(obj) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        inner: list = []
        append = inner.append
        for c in level:
            for v in c.values() if type(c) is dict else c:
                t = type(v)
                if t is dict or t is list:
                    append(v)
        level = inner
    return False


def decode_arrays(obj: Any) -> Any:
    """Turn every wire array inside a decoded message into numpy (for readers, not validation)."""
    if isinstance(obj, dict):
        if _is_array(obj):
            return decode_array(obj)
        return {k: decode_arrays(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode_arrays(v) for v in obj]
    return obj


# ---------------------------------------------------------------- validation helpers


def check_int(value: Any, what: str, lo: int = INT64_MIN, hi: int = INT64_MAX) -> int:
    """An integer from `lo` to `hi` (a bool is no integer here); by default one that fits int64."""
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ProtocolError(f"{what} must be an integer from {lo} to {hi}, got {quote(value)}")
    return value


def check_choice(value: Any, what: str, choices: tuple[str, ...]) -> str:
    """One of a few strings (any other value, hashable or not, is refused by name)."""
    if not isinstance(value, str) or value not in choices:
        raise ProtocolError(f"{what} must be one of {', '.join(choices)}, got {quote(value)}")
    return value


def check_text(text: Any) -> str:
    """A text window's markdown: at most MAX_TEXT characters, and no NUL (PostgreSQL cannot keep one: refused
    by every store alike)."""
    if not isinstance(text, str):
        raise ProtocolError(f"text must be a string, got {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise ProtocolError(f"text is {len(text)} characters; the limit is {MAX_TEXT}")
    if "\x00" in text:
        raise ProtocolError(f"text holds the NUL character (\\x00) at index {text.index(chr(0))}; no store keeps it")
    return text


def check_name(value: Any, what: str, allow_empty: bool = False) -> str:
    """Env, window and trace names: printable text, at most MAX_NAME characters."""
    if not isinstance(value, str):
        raise ProtocolError(f"{what} must be a string, got {type(value).__name__}")
    if not value and not allow_empty:
        raise ProtocolError(f"{what} must not be empty")
    if len(value) > MAX_NAME:
        raise ProtocolError(f"{what} is {len(value)} characters long; the limit is {MAX_NAME}")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ProtocolError(f"{what} {quote(value)} contains control characters")
    if value != value.strip():
        raise ProtocolError(f"{what} {quote(value)} has leading or trailing spaces")
    return value


def check_opts(opts: Any) -> dict[str, Any]:
    """Window options: known keys, each value of its type and within its limits (None removes a key)."""
    if opts is None:
        return {}
    if not isinstance(opts, dict):
        raise ProtocolError(f"opts must be a map, got {type(opts).__name__}")
    try:
        trace_style.count_keys(opts)
    except ValueError as exc:
        raise ProtocolError(str(exc)) from None
    for key, value in opts.items():
        expected = OPTION_KEYS.get(key)
        if expected is None and trace_style.is_key(key):  # "trace:<name>": one trace's style
            try:
                trace_style.check(key, value)
            except ValueError as exc:
                raise ProtocolError(str(exc)) from None
            continue
        if expected is None:
            raise ProtocolError(f"unknown option {quote(key, 50)}; the options are listed in docs/protocol.md")
        if value is None:
            continue
        if not isinstance(value, expected) or (isinstance(value, bool) and bool not in _as_tuple(expected)):
            raise ProtocolError(f"option {key!r} has the wrong type {type(value).__name__}")
        if isinstance(value, str):
            if len(value) > MAX_OPTION_TEXT:
                raise ProtocolError(f"option {key!r} is longer than {MAX_OPTION_TEXT} characters")
        elif key == "mute":
            check_mute_list(value, "option 'mute'")
        elif isinstance(value, list):
            _check_option_list(key, value)
        elif expected is int:
            check_int(value, f"option {key!r}", 0, MAX_PIXELS)
        elif isinstance(value, float) and not math.isfinite(value):
            raise ProtocolError(f"option {key!r} must be a finite number, got {value!r}")
        elif not isinstance(value, bool) and isinstance(value, int):
            check_int(value, f"option {key!r}")
    return opts


def check_mute_list(value: Any, what: str) -> list[str]:
    """Alert kinds muted (a window's `mute` option): a list of distinct known kinds."""
    if not isinstance(value, list) or len(value) > len(ALERT_KINDS):
        raise ProtocolError(f"{what} must be a list of alert kinds ({', '.join(ALERT_KINDS)}), got {quote(value)}")
    for v in value:
        check_choice(v, f"{what}: an entry", ALERT_KINDS)
    if len(set(value)) != len(value):
        raise ProtocolError(f"{what} names a kind twice: {quote(value)}")
    return value


def _as_tuple(expected: type | tuple) -> tuple:
    return expected if isinstance(expected, tuple) else (expected,)


def _check_option_list(key: str, value: list) -> None:
    """Entries of a list option: strings of at most MAX_OPTION_TEXT characters, int64 integers, floats."""
    if len(value) > MAX_OPTION_LIST:
        raise ProtocolError(f"option {key!r} has {len(value)} entries; the limit is {MAX_OPTION_LIST}")
    for v in value:
        if isinstance(v, str):
            if len(v) > MAX_OPTION_TEXT:
                raise ProtocolError(f"option {key!r}: an entry is longer than {MAX_OPTION_TEXT} characters")
        elif isinstance(v, int) and not isinstance(v, bool):
            check_int(v, f"option {key!r}: an entry")
        elif not isinstance(v, float):  # a bool is no label, legend or color
            raise ProtocolError(f"option {key!r} must be a list of strings or numbers, got a {type(v).__name__} in it")


def _numeric(obj: Any, what: str, ndim: int | tuple[int, ...]) -> np.ndarray:
    arr = decode_array(obj, what)
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in dims:
        raise ProtocolError(f"{what} must have {' or '.join(map(str, dims))} dimension(s), got shape {list(arr.shape)}")
    return arr


def _time(op: dict) -> float | None:
    """A step's wall time (seconds since the epoch), when the client knows it."""
    t = op.get("t")
    if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t)):
        raise ProtocolError(f"t must be a finite number of seconds since the epoch, got {quote(t)}")
    return None if t is None else float(t)


def _step(op: dict) -> int | None:
    step = op.get("step")
    return None if step is None else check_int(step, "step", INT64_MIN, MAX_STEP)


def _require(op: dict, key: str) -> Any:
    if key not in op:
        raise ProtocolError(f"{op.get('op')} needs the field {key!r}")
    return op[key]


# ---------------------------------------------------------------- operations

_COMMON = {"op", "env", "win", "opts"}
_CODED = {"coded_width", "coded_height"}  # a video's size in its file (livepanel/video.py)
_FIELDS = {
    "line": _COMMON | {"name", "update", "x", "y", "t"},
    "scatter": _COMMON | {"name", "update", "x", "y", "t"},
    "bar": _COMMON | {"y", "labels"},
    "histogram": _COMMON | {"counts", "edges", "step", "stats", "t"},
    "heatmap": _COMMON | {"z", "update", "labels"},  # update, labels: livepanel/heatmap_update.py
    "media": _COMMON | {"format", "data"},  # livepanel/media.py
    "audio": _COMMON | {"format", "data", "peaks", "step", "t"},  # livepanel/audio.py
    "video": _COMMON | {"format", "data", "fps", "frames", "width", "height", "step", "t"} | _CODED,  # video.py
    "embedding": _COMMON | {"features", "labels", "metadata", "thumbs", "step", "t"},  # livepanel/embedding.py
    "fork": {"op", "env", "source"},  # env: the new env, a copy of source (livepanel/server/store/fork.py)
    "image": _COMMON | {"images", "step", "t"},
    "text": _COMMON | {"text", "update"},
    "plotly": _COMMON | {"figure", "update"},  # livepanel/plotly_figure.py
    "graph": _COMMON | {"graph"},  # livepanel/model_graph.py
    "properties": _COMMON | {"items", "pane"},  # livepanel/properties.py
    "property": {"op", "env", "win", "id", "value"},  # a viewer's edit of one item of a properties pane
    "opts": _COMMON,
    "close": {"op", "env", "win"},
    "delete_env": {"op", "env"},
    "layout": {"op", "env", "layout"},
    "dismiss": {"op", "env", "id"},
    "mute": {"op", "env", "win", "kind", "muted"},
    "run": {"op", "env", "config", "summary", "merge", "status", "color"},
}
OPS = tuple(_FIELDS)


def validate_op(op: Any) -> dict[str, Any]:
    """Check one operation and return it with arrays as numpy; raise ProtocolError naming the fault."""
    if not isinstance(op, dict):
        raise ProtocolError(f"an operation must be a map, got {type(op).__name__}")
    kind = op.get("op")
    if not isinstance(kind, str) or kind not in _FIELDS:  # an unhashable kind fails the lookup cleanly too
        raise ProtocolError(f"unknown operation {quote(kind)}; expected one of {', '.join(OPS)}")
    extra = set(op) - _FIELDS[kind]
    if extra:
        raise ProtocolError(f"{kind}: unknown field(s) {_names(extra)}")
    out: dict[str, Any] = {"op": kind, "env": check_name(_require(op, "env"), "env name")}
    if kind in _ENV_OPS:
        _ENV_OPS[kind](op, out)
        return out
    out["win"] = check_name(_require(op, "win"), "window name")
    if kind in _WINDOW_OPS:
        _WINDOW_OPS[kind](op, out)
        return out
    out["opts"] = check_opts(op.get("opts"))
    _KIND_CHECKS[kind](op, out)
    return out


def _fork(op: dict, out: dict) -> None:
    out["source"] = check_name(_require(op, "source"), "fork source (an env name)")
    if out["source"] == out["env"]:
        raise ProtocolError(f"fork: an env cannot be forked into itself ({quote(out['env'])})")


def _mute(op: dict, out: dict) -> None:
    if op.get("win") is not None:
        out["win"] = check_name(op["win"], "window name")
    out["kind"] = check_choice(_require(op, "kind"), "mute kind", ALERT_KINDS)
    muted = op.get("muted", True)
    if not isinstance(muted, bool):
        raise ProtocolError(f"mute muted must be true or false, got {quote(muted)}")
    out["muted"] = muted


def _bar(op: dict, out: dict) -> None:
    y = _numeric(_require(op, "y"), "bar y", (1, 2))
    labels = op.get("labels")
    if labels is not None:
        if not isinstance(labels, list) or not all(isinstance(s, str) and len(s) <= MAX_NAME for s in labels):
            raise ProtocolError("bar labels must be a list of strings")
        if len(labels) != y.shape[0]:
            raise ProtocolError(f"bar has {y.shape[0]} values but {len(labels)} labels")
    out["y"], out["labels"] = y, labels


def _histogram(op: dict, out: dict) -> None:
    counts = _numeric(_require(op, "counts"), "histogram counts", 1)
    edges = _numeric(_require(op, "edges"), "histogram edges", 1)
    if len(edges) != len(counts) + 1:
        raise ProtocolError(
            f"histogram has {len(counts)} counts, so it needs {len(counts) + 1} edges, got {len(edges)}"
        )
    out.update(counts=counts, edges=edges, stats=_check_stats(op.get("stats")), step=_step(op), t=_time(op))


def _heatmap(op: dict, out: dict) -> None:
    out["z"] = _numeric(_require(op, "z"), "heatmap z", 2)
    importlib.import_module("livepanel.heatmap_update").check_op(op, out)  # it builds on this module


def _image(op: dict, out: dict) -> None:
    out["images"] = _check_images(_require(op, "images"))
    out["step"], out["t"] = _step(op), _time(op)


def _text(op: dict, out: dict) -> None:
    out["text"] = check_text(_require(op, "text"))
    out["update"] = check_choice(op.get("update", "replace"), "text update", ("append", "replace"))


def _elsewhere(module: str, stepped: bool = False) -> Callable[[dict, dict], None]:
    """A kind checked by its own module (which builds on this one, so it is imported when first used);
    `stepped`: the kind keeps one entry per step."""

    def check(op: dict, out: dict) -> None:
        importlib.import_module(f"livepanel.{module}").check_op(op, out)
        if stepped:
            out["step"], out["t"] = _step(op), _time(op)

    return check


def _check_properties(op: dict, out: dict) -> dict[str, Any]:
    """A pane (`properties`: its items and the id of the pane its writer made) or a viewer's edit of one
    item (`property`: checked against the pane by the store, which has it)."""
    from livepanel import properties  # it builds on this module's errors only

    try:
        if op["op"] == "property":
            out["id"] = check_int(_require(op, "id"), "property id (the index of an item)", 0, properties.MAX_ITEMS)
            value = out["value"] = op.get("value")
            if isinstance(value, (dict, list, bytes)):
                raise ProtocolError(f"property value must be a number, text, true, false or nil, got {quote(value)}")
            return out
        out["opts"] = check_opts(op.get("opts"))
        out["items"] = properties.check_items(_require(op, "items"))
        out["pane"] = properties.check_pane(op.get("pane", ""))
    except properties.PropertyError as exc:
        raise ProtocolError(str(exc)) from None
    return out


def _check_run(op: dict, out: dict) -> dict[str, Any]:
    """A run op: config and summary (flat maps), merge (true: into what the env has), status, color."""
    for field in ("config", "summary"):
        if op.get(field) is not None:
            out[field] = check_run_values(op[field], f"run {field}")
    merge = op.get("merge", True)
    if not isinstance(merge, bool):
        raise ProtocolError(f"run merge must be true or false, got {quote(merge)}")
    out["merge"] = merge
    if op.get("status") is not None:
        out["status"] = check_choice(op["status"], "run status", RUN_STATUSES)
    if "color" in op:
        out["color"] = check_color(op["color"])
    return out


# CSS colours a run may have: #rgb, #rgba, #rrggbb, #rrggbbaa; a CSS colour name; rgb(), rgba(), hsl(), hsla()
# of three or four numbers (a percent sign allowed) separated by commas or spaces, at most 40 characters
# between the parentheses. A subset of what the page draws (frontend/src/runs/colors.ts, SAFE), so a colour
# never carries anything else into a style.
_NUM = r"(?:\d{1,6}(?:\.\d{0,6})?|\.\d{1,6})%?"
_SEP = r"(?: ?, ?| +)"
_COLOR = re.compile(
    rf"#(?:[0-9a-f]{{3,4}}|[0-9a-f]{{6}}|[0-9a-f]{{8}})|(?:rgba?|hsla?)\((?P<args>{_NUM}{_SEP}{_NUM}{_SEP}{_NUM}(?:{_SEP}{_NUM})?)\)",
    re.IGNORECASE,
)
CSS_COLOR_NAMES = frozenset(
    """aliceblue antiquewhite aqua aquamarine azure beige bisque black blanchedalmond blue blueviolet brown
    burlywood cadetblue chartreuse chocolate coral cornflowerblue cornsilk crimson cyan darkblue darkcyan
    darkgoldenrod darkgray darkgreen darkgrey darkkhaki darkmagenta darkolivegreen darkorange darkorchid darkred
    darksalmon darkseagreen darkslateblue darkslategray darkslategrey darkturquoise darkviolet deeppink deepskyblue
    dimgray dimgrey dodgerblue firebrick floralwhite forestgreen fuchsia gainsboro ghostwhite gold goldenrod gray
    green greenyellow grey honeydew hotpink indianred indigo ivory khaki lavender lavenderblush lawngreen
    lemonchiffon lightblue lightcoral lightcyan lightgoldenrodyellow lightgray lightgreen lightgrey lightpink
    lightsalmon lightseagreen lightskyblue lightslategray lightslategrey lightsteelblue lightyellow lime limegreen
    linen magenta maroon mediumaquamarine mediumblue mediumorchid mediumpurple mediumseagreen mediumslateblue
    mediumspringgreen mediumturquoise mediumvioletred midnightblue mintcream mistyrose moccasin navajowhite navy
    oldlace olive olivedrab orange orangered orchid palegoldenrod palegreen paleturquoise palevioletred papayawhip
    peachpuff peru pink plum powderblue purple rebeccapurple red rosybrown royalblue saddlebrown salmon
    sandybrown seagreen seashell sienna silver skyblue slateblue slategray slategrey snow springgreen steelblue
    tan teal thistle tomato turquoise violet wheat white whitesmoke yellow yellowgreen""".split()
)


def check_color(color: Any) -> str | None:
    """A run's colour: a CSS colour as _COLOR and CSS_COLOR_NAMES allow, of at most MAX_COLOR characters, or
    None (the default colour, derived from the env's name)."""
    if color is None:
        return None
    if not isinstance(color, str) or not 0 < len(color) <= MAX_COLOR:
        raise ProtocolError(f"run color must be a string of 1 to {MAX_COLOR} characters or nil, got {quote(color)}")
    match = None if color.lower() in CSS_COLOR_NAMES else _COLOR.fullmatch(color)
    if match is not None and len(match.group("args") or "") > 40:
        match = None
    if color.lower() not in CSS_COLOR_NAMES and match is None:
        raise ProtocolError(
            f"run color {quote(color)} is not a colour: give #rgb, #rrggbb (or with alpha), a CSS colour name, "
            "or rgb(), rgba(), hsl(), hsla() of numbers, or nil for the default"
        )
    return color


def check_run_values(values: Any, what: str) -> dict[str, Any]:
    """A run's config or summary: at most MAX_RUN_KEYS names (non-empty printable strings of at most MAX_NAME
    characters), each an int64, a float, a string of at most MAX_RUN_TEXT characters, a bool or nil."""
    if not isinstance(values, dict):
        raise ProtocolError(f"{what} must be a map of names to values, got {type(values).__name__}")
    if len(values) > MAX_RUN_KEYS:
        raise ProtocolError(f"{what} has {len(values)} keys; the limit is {MAX_RUN_KEYS}")
    for key, value in values.items():
        if not isinstance(key, str) or not key or len(key) > MAX_NAME or not key.isprintable():
            raise ProtocolError(
                f"{what}: a key must be a printable string of 1 to {MAX_NAME} characters, got {quote(key, 50)}"
            )
        if value is None or isinstance(value, (bool, float)):
            continue
        if isinstance(value, int):
            check_int(value, f"{what} {quote(key, 50)}")
        elif isinstance(value, str):
            if len(value) > MAX_RUN_TEXT:
                raise ProtocolError(f"{what} {quote(key, 50)} is {len(value)} characters; the limit is {MAX_RUN_TEXT}")
        else:
            raise ProtocolError(
                f"{what} {quote(key, 50)} must be a number, a string, true, false or nil, got {quote(value)}"
            )
    return values


def _check_stats(stats: Any) -> dict[str, int | float]:
    """A histogram's stats: up to MAX_STATS string keys (names), each an int64 or any float (NaN too)."""
    if stats is None:
        return {}
    if not isinstance(stats, dict) or len(stats) > MAX_STATS:
        raise ProtocolError(f"histogram stats must be a map of up to {MAX_STATS} names to numbers")
    for key, value in stats.items():
        check_name(key, "histogram stats key")  # a binary key would break every JSON reader of the window
        if isinstance(value, int) and not isinstance(value, bool):
            check_int(value, f"histogram stats {key!r}")
        elif not isinstance(value, float):
            raise ProtocolError(f"histogram stats {key!r} must be a number, got {type(value).__name__}")
    return stats


def _trace(op: dict, out: dict) -> None:
    kind = op["op"]
    out["name"] = check_name(op.get("name", ""), "trace name", allow_empty=True)
    update = out["update"] = check_choice(op.get("update", "append"), f"{kind} update", UPDATES)
    if update == "remove":
        return
    y = _numeric(_require(op, "y"), f"{kind} y", 1)
    x = _numeric(_require(op, "x"), f"{kind} x", 1)
    if len(x) != len(y):
        raise ProtocolError(f"{kind} x and y have different lengths ({len(x)} and {len(y)})")
    t = op.get("t")
    if t is not None:
        t = _numeric(t, f"{kind} t", 1)
        if len(t) not in (1, len(y)):
            raise ProtocolError(f"{kind} t must hold one time or one per point; got {len(t)} for {len(y)} points")
    out["x"], out["y"], out["t"] = x, y, t


def read_line(op: dict[str, Any]) -> tuple[str, str, np.ndarray | None, np.ndarray | None]:
    """A line op as decoded from a body that validate_op already passed (the diagnosis worker reads what
    the server accepted): (trace name, update, x, y), with validate_op's defaults and no checks again;
    x and y are None for a remove."""
    update = op.get("update", "append")
    if update == "remove":
        return op.get("name", ""), update, None, None
    x, y = op["x"], op["y"]
    return op.get("name", ""), update, _frombuffer(x), _frombuffer(y)


def read_joined(parts: list[tuple], at: int = 0) -> np.ndarray:
    """Wire arrays of ops validate_op already passed, end to end as one array (the diagnosis worker's
    appends to one trace): each part holds an array's dtype code at `at` and its data bytes after it.
    Joined as bytes when they share a dtype (as usual), not checked again."""
    first = parts[0]
    dtype = first[at]
    if len(parts) == 1:
        return np.frombuffer(first[at + 1], dtype=_LITTLE[dtype])
    if all(p[at] == dtype for p in parts):
        return np.frombuffer(b"".join([p[at + 1] for p in parts]), dtype=_LITTLE[dtype])
    return np.concatenate([np.frombuffer(p[at + 1], dtype=_LITTLE[p[at]]) for p in parts])


def _frombuffer(obj: dict[str, Any]) -> np.ndarray:
    return np.frombuffer(obj["data"], dtype=_LITTLE[obj["dtype"]])


_IMAGE_FIELDS = {"format", "data", "width", "height", "caption"}


def _check_images(images: Any) -> list[dict[str, Any]]:
    if not isinstance(images, list) or not images:
        raise ProtocolError("image needs a non-empty list of images")
    if len(images) > 1024:
        raise ProtocolError(f"image holds {len(images)} images; the limit is 1024")
    out = []
    for i, img in enumerate(images):
        if not isinstance(img, dict):
            raise ProtocolError(f"image {i} must be a map")
        extra = set(img) - _IMAGE_FIELDS
        if extra:
            raise ProtocolError(f"image {i}: unknown field(s) {_names(extra)}")
        fmt, data = check_choice(img.get("format"), f"image {i}: format", IMAGE_FORMATS), img.get("data")
        if not isinstance(data, bytes) or not data:
            raise ProtocolError(f"image {i}: data must be non-empty binary")
        w = check_int(img.get("width"), f"image {i}: width", 1, 32768)
        h = check_int(img.get("height"), f"image {i}: height", 1, 32768)
        caption = img.get("caption", "")
        if not isinstance(caption, str) or len(caption) > 1000:
            raise ProtocolError(f"image {i}: caption must be a string of at most 1000 characters")
        out.append({"format": fmt, "data": data, "width": w, "height": h, "caption": caption})
    return out


# What each operation checks besides its env (and its window): a table, not a switch (DESIGN.md §7)
_ENV_OPS: dict[str, Callable[[dict, dict], Any]] = {
    "delete_env": lambda op, out: None,
    "layout": lambda op, out: out.update(layout=_check_layout(_require(op, "layout"))),
    "dismiss": lambda op, out: out.update(id=check_int(_require(op, "id"), "dismiss id (an alert's id)", 1)),
    "run": _check_run,
    "fork": _fork,
    "mute": _mute,
}
_WINDOW_OPS: dict[str, Callable[[dict, dict], Any]] = {  # no opts of their own to check first
    "close": lambda op, out: None,
    "properties": _check_properties,
    "property": _check_properties,
}
_KIND_CHECKS: dict[str, Callable[[dict, dict], Any]] = {
    "opts": lambda op, out: None,  # a change of the window's options alone
    "line": _trace,
    "scatter": _trace,
    "bar": _bar,
    "histogram": _histogram,
    "heatmap": _heatmap,
    "image": _image,
    "text": _text,
    "media": _elsewhere("media"),
    "audio": _elsewhere("audio", stepped=True),
    "video": _elsewhere("video", stepped=True),
    "embedding": _elsewhere("embedding", stepped=True),
    "plotly": _elsewhere("plotly_figure"),
    "graph": _elsewhere("model_graph"),
}


def _check_layout(layout: Any) -> dict[str, Any]:
    if not isinstance(layout, dict) or len(layout) > 10000:
        raise ProtocolError("layout must be a map from window name to {order, w, h}")
    for win, cell in layout.items():
        check_name(win, "window name")
        if not isinstance(cell, dict) or not all(
            k in ("order", "w", "h") and type(v) is int and 0 <= v <= MAX_PIXELS for k, v in cell.items()
        ):
            raise ProtocolError(f"layout of {quote(win)} must be a map of integers order, w, h from 0 to {MAX_PIXELS}")
    return layout


def validate_batch(batch: Any) -> tuple[str, int, list[dict[str, Any]]]:
    """Check an ingest batch {client, seq, ops}; return (client, seq, validated ops)."""
    if not isinstance(batch, dict):
        raise ProtocolError(f"a batch must be a map {{client, seq, ops}}, got {type(batch).__name__}")
    extra = set(batch) - {"client", "seq", "ops"}
    if extra:
        raise ProtocolError(f"batch: unknown field(s) {_names(extra)}")
    client, seq, ops = batch.get("client"), batch.get("seq"), batch.get("ops")
    if not isinstance(client, str) or not 8 <= len(client) <= 64 or not client.isprintable():
        raise ProtocolError("batch client must be a string id of 8 to 64 printable characters")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq < 2**63:
        raise ProtocolError(f"batch seq must be a positive integer, got {quote(seq)}")
    if not isinstance(ops, list) or not ops:
        raise ProtocolError("batch ops must be a non-empty list")
    checked = []
    for i, op in enumerate(ops):
        try:
            checked.append(validate_op(op))
        except ProtocolError as exc:
            raise ProtocolError(f"operation {i}: {exc}", op=i) from None
    return client, seq, checked
