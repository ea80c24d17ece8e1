"""The parts of Visdom's client that need more than a translation of options (livepanel/visdom.py calls them).

svg, audio and video become a `media` window (livepanel/media.py); heatmap updates travel as a heatmap op
with `update` (livepanel/heatmap_update.py); `get_window_data`/`set_window_data` read and write a window in
Visdom's JSON shape; `fork_env` is the server's `fork` op. Each function checks its input and raises
ValueError or TypeError saying what was expected, as the rest of the client does.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import wave
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from livepanel import media
from livepanel.client import checks, convert
from livepanel.client.transport import HTTPError

if TYPE_CHECKING:
    from livepanel.client import Panel

AUDIO_FILES = {"wav": "wav", "mp3": "mp3", "ogg": "ogg", "flac": "flac"}
VIDEO_FILES = {"mp4": "mp4", "ogv": "ogv", "webm": "webm"}
HEATMAP_UPDATES = ("appendRow", "appendColumn", "prependRow", "prependColumn")
log = logging.getLogger("livepanel.visdom")
_SVG = re.compile(r"<svg[\s>].*</svg>", re.DOTALL | re.IGNORECASE)


# ---------------------------------------------------------------- pushing the new op kinds


def push_media(panel: Panel, data: bytes, fmt: str, win: str, env: str | None, opts: dict | None) -> str:
    """A media window (audio, video or svg) holding `data` in format `fmt`."""
    env, win, opts = panel._env(env), panel._win(win, "media"), checks.opts(opts)
    if fmt not in media.FORMATS:
        raise ValueError(f"media format must be one of {', '.join(media.FORMATS)}, got {fmt!r}")
    if not data:
        raise ValueError("media data is empty")
    if len(data) > media.MAX_BYTES:
        raise ValueError(f"{fmt} data is {len(data)} bytes; the limit is {media.MAX_BYTES}")
    op: dict[str, Any] = {"op": "media", "env": env, "win": win, "format": fmt, "data": bytes(data)}
    if opts:
        op["opts"] = opts
    panel._push(op)
    return win


def push_heatmap(
    panel: Panel, z: Any, win: str, env: str | None, opts: dict | None, update: str, labels: list[str] | None
) -> str:
    """A heatmap op whose rows or columns the server joins to the window's matrix (update one of
    HEATMAP_UPDATES); `labels` names the rows or columns added."""
    env, win, opts = panel._env(env), panel._win(win, "heatmap"), checks.opts(opts)
    zs = np.asarray(convert.finish_array(convert.numeric(z, "heatmap X", (2,))))
    if update not in HEATMAP_UPDATES:
        raise ValueError(f"heatmap update must be one of {', '.join(HEATMAP_UPDATES)}, got {update!r}")
    n = zs.shape[0 if update.endswith("Row") else 1]
    if labels is not None:
        labels = checks.strings(labels, f"heatmap {update} names", n)
    op: dict[str, Any] = {"op": "heatmap", "env": env, "win": win, "z": convert.wire_dtype(zs), "update": update}
    if labels is not None:
        op["labels"] = labels
    if opts:
        op["opts"] = opts
    panel._push(op)
    return win


# ---------------------------------------------------------------- svg, audio, video input


def svg_text(svgstr: Any, svgfile: Any) -> bytes:
    """The <svg>...</svg> element of a string or a file, as Visdom takes it (the page sanitizes it)."""
    if svgfile is not None:
        svgstr = Path(svgfile).read_text(encoding="utf-8")
    if svgstr is None:
        raise ValueError("visdom svg: give svgstr (an SVG string) or svgfile (a file name)")
    if not isinstance(svgstr, str):
        raise TypeError(f"visdom svg: svgstr must be a string, got {type(svgstr).__name__}")
    found = _SVG.search(svgstr)
    if found is None:
        raise ValueError("visdom svg: no <svg ...>...</svg> element in the string")
    return found.group(0).encode("utf-8")


def wav_bytes(tensor: Any, rate: Any) -> bytes:
    """A WAV file of a waveform: N samples (mono) or N x 2 (stereo), scaled to 16 bits as Visdom does."""
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or not 0 < int(rate) <= 2**31 - 1:
        raise ValueError(f"visdom audio: opts sample_frequency must be a positive integer, got {rate!r}")
    x = np.asarray(convert.finish_array(convert.numeric(tensor, "visdom audio tensor", (1, 2))), dtype=np.float64)
    if x.ndim == 2 and x.shape[1] != 2:
        raise ValueError(f"visdom audio: tensor must be 1-D or N x 2 (stereo), got shape {x.shape}")
    if not x.size or not np.isfinite(x).all():
        raise ValueError("visdom audio: tensor must hold at least one sample, all finite")
    peak = np.max(np.abs(x))
    samples = np.int16(x / peak * 32767) if peak > 0 else np.zeros(x.shape, np.int16)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1 if x.ndim == 1 else 2)
        w.setsampwidth(2)
        w.setframerate(int(rate))
        w.writeframes(samples.astype("<i2").tobytes())
    return out.getvalue()


def media_file(path: Any, kinds: dict[str, str], what: str) -> tuple[bytes, str]:
    """A media file's bytes and format, by its extension."""
    ext = Path(str(path)).suffix.lower().lstrip(".")
    fmt = kinds.get(ext)
    if fmt is None:
        raise ValueError(f"visdom {what}: unknown {what} type {ext!r}; use one of {', '.join(kinds)}")
    data = Path(path).read_bytes()
    return data, fmt


def video_bytes(tensor: Any, dim: str, fps: Any) -> bytes:
    """An MP4 (H.264) of L frames, as Visdom encodes it: with PyAV, which is optional there too."""
    if dim not in ("LxHxWxC", "LxCxHxW"):
        raise ValueError(f"visdom video: dim must be 'LxHxWxC' or 'LxCxHxW', got {dim!r}")
    x = np.asarray(convert.finish_array(convert.numeric(tensor, "visdom video tensor", (4,))))
    if dim == "LxCxHxW":
        x = x.transpose(0, 2, 3, 1)
    if x.shape[3] not in (1, 3):
        raise ValueError(f"visdom video: frames must have 1 or 3 channels, got shape {x.shape}")
    try:
        import av  # type: ignore[import-not-found]
    except ImportError:
        raise ImportError(
            "visdom video from a tensor encodes with PyAV: pip install 'livepanel[video]' (or pass videofile=)"
        ) from None
    if np.issubdtype(x.dtype, np.floating):
        x = 255 * x
    x = x.clip(0, 255).astype(np.uint8)
    out = io.BytesIO()
    container = av.open(out, "w", "mp4")
    stream = container.add_stream("h264", rate=int(fps))
    stream.height, stream.width, stream.pix_fmt = x.shape[1], x.shape[2], "yuv420p"
    for frame in x:
        container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="gray" if x.shape[3] == 1 else "bgr24")))
    container.mux(stream.encode())
    container.close()
    return out.getvalue()


# ---------------------------------------------------------------- window data in Visdom's shape


def _list(a: Any) -> list:
    return [None if isinstance(v, float) and not np.isfinite(v) else v for v in np.asarray(a).tolist()]


def window_json(state: dict[str, Any], panel: Panel | None = None, env: str = "") -> dict[str, Any]:
    """A window as Visdom's server keeps it ({command, id, title, type, content, ...}); `kind` and `opts`
    are livepanel's, so that set_window_data can write it back as the same kind."""
    kind, opts = state["kind"], state.get("opts") or {}
    out: dict[str, Any] = {
        "command": "window",
        "id": state["win"],
        "title": opts.get("title", ""),
        "width": opts.get("width"),
        "height": opts.get("height"),
        "type": "plot",
        "kind": kind,
        "opts": opts,
    }
    layout = {"title": opts.get("title", ""), "xaxis": {"title": opts.get("xlabel", "")},
              "yaxis": {"title": opts.get("ylabel", "")}}  # fmt: skip
    if kind == "text":
        out.update(type="text", content=state.get("text", ""))
    elif kind in ("line", "scatter"):
        mode = "lines" if kind == "line" else "markers"
        data = [{"x": _list(t["x"]), "y": _list(t["y"]), "name": t["name"], "type": "scatter", "mode": mode}
                for t in state["traces"]]  # fmt: skip
        out["content"] = {"data": data, "layout": layout}
    elif kind == "bar":
        y = np.asarray(state["y"])
        cols = y.reshape(len(y), -1)
        legend = list(opts.get("legend") or [])
        data = [{"x": state.get("labels") or list(range(1, len(y) + 1)), "y": _list(cols[:, j]), "type": "bar",
                 "name": str(legend[j]) if j < len(legend) else str(j + 1)} for j in range(cols.shape[1])]  # fmt: skip
        out["content"] = {"data": data, "layout": layout}
    elif kind == "heatmap":
        z = np.asarray(state["z"])
        data = [{"z": [_list(r) for r in z], "x": opts.get("xticklabels"), "y": opts.get("yticklabels"),
                 "type": "heatmap", "colorscale": opts.get("colormap")}]  # fmt: skip
        out["content"] = {"data": data, "layout": layout}
    elif kind == "histogram":
        steps = state.get("steps") or []
        data = []
        if steps:
            s = steps[-1]
            edges = np.asarray(s["edges"])
            data = [{"x": _list((edges[:-1] + edges[1:]) / 2), "y": _list(s["counts"]), "type": "bar"}]
        out["content"] = {"data": data, "layout": layout}
    elif kind == "image":
        steps = state.get("steps") or []
        imgs = steps[-1]["images"] if steps else []
        content = [{"src": f"data:image/{i['format']};base64,{base64.b64encode(i['data']).decode()}"
                    if "data" in i else "", "caption": i.get("caption", "")} for i in imgs]  # fmt: skip
        out.update(type="image", content=content[0] if len(content) == 1 else content)
    elif kind == "plotly":  # Visdom's own plots are Plotly figures
        out["content"] = _jsonable(state.get("figure") or {"data": [], "layout": {}})
    elif kind == "properties":
        out.update(type="properties", content=_jsonable(state.get("items") or []))
    elif kind == "embedding":
        out.update(type="embeddings", content={"data": embedding_points(state)})
    else:  # media and kinds to come: their stored content as it is
        content = {k: v for k, v in state.items() if k not in ("win", "kind", "opts", "seq")}
        if "data" in content and isinstance(content["data"], bytes):
            content["data"] = base64.b64encode(content["data"]).decode()
        out.update(type=kind, content=_jsonable(content))
    return out


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _list(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, bytes):
        return base64.b64encode(obj).decode()
    return obj


def get_window_data(panel: Panel, win: str | None, env: str | None) -> str:
    """Visdom's get_window_data: one window's JSON, or (win None) a JSON map of every window of the env."""
    env = panel.env if env is None else checks.name(env, "env name")
    if win is not None:
        return json.dumps(window_json(panel.get(checks.name(win, "window name"), env=env), panel, env))
    names = panel.windows(env)
    return json.dumps({w: window_json(panel.get(w, env=env, flush=False), panel, env) for w in names})


def set_window_data(panel: Panel, data: Any, win: str | None, env: str | None) -> str:
    """Visdom's set_window_data: write back what get_window_data returned (edited): text, plots (line,
    scatter, bar, heatmap, plotly) and their titles. `data` is the JSON string or the dict."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise ValueError(f"visdom set_window_data: data is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise TypeError(f"visdom set_window_data: data must be a window's JSON (a dict), got {type(data).__name__}")
    if win is None:
        if "content" in data and "id" in data:
            return _set_one(panel, data, str(data["id"]), env)
        for name, one in data.items():
            if not isinstance(one, dict):
                raise TypeError(f"visdom set_window_data: window {name!r} must be a dict, got {type(one).__name__}")
            _set_one(panel, one, name, env)
        return ""
    return _set_one(panel, data, checks.name(win, "window name"), env)


def _set_one(panel: Panel, data: dict, win: str, env: str | None) -> str:
    if "content" not in data:
        raise ValueError(f"visdom set_window_data: window {win!r} has no 'content'")
    content, kind = data["content"], data.get("kind") or data.get("type")
    title = data.get("title")
    opts = {"title": str(title)} if title else None
    if kind == "text":
        if not isinstance(content, str):
            raise TypeError(f"visdom set_window_data: a text window's content must be a string, got {content!r:.80}")
        return panel.text(content, win=win, env=env, opts=opts)
    traces = content.get("data") if isinstance(content, dict) else None
    if not isinstance(traces, list):
        raise ValueError(f"visdom set_window_data: window {win!r} of type {kind!r}: content must hold a 'data' list"
                         " (text, line, scatter, bar and heatmap windows can be set)")  # fmt: skip
    if kind == "plotly":
        return panel.plotly({"data": traces, "layout": content.get("layout") or {}}, win=win, env=env, opts=opts)
    if kind == "heatmap" or (traces and traces[0].get("type") == "heatmap"):
        z = np.asarray(traces[0]["z"], dtype=np.float64)
        return panel.heatmap(z, win=win, env=env, opts=opts)
    if kind == "bar" or (traces and all(t.get("type") == "bar" for t in traces)):
        y = np.column_stack([np.asarray(t["y"], dtype=np.float64) for t in traces]) if traces else np.zeros(0)
        labels = [str(v) for v in traces[0]["x"]] if traces and "x" in traces[0] else None
        return panel.bar(y if y.shape[1:] != (1,) else y[:, 0], win=win, env=env, opts=opts, labels=labels)
    if kind not in ("line", "scatter", "plot"):
        raise ValueError(f"visdom set_window_data: windows of type {kind!r} cannot be set; text and plots can")
    kind = kind if kind != "plot" else ("scatter" if traces and "markers" == traces[0].get("mode") else "line")
    panel.close(win, env=env)
    draw = panel.line if kind == "line" else panel.scatter
    for j, t in enumerate(traces):
        if not isinstance(t, dict) or "x" not in t or "y" not in t:
            raise ValueError(f"visdom set_window_data: trace {j} of window {win!r} needs 'x' and 'y'")
        x = np.asarray([np.nan if v is None else v for v in t["x"]], dtype=np.float64)
        y = np.asarray([np.nan if v is None else v for v in t["y"]], dtype=np.float64)
        draw(x, y, win=win, name=str(t.get("name", "")), env=env, update="append", opts=opts)
    return win


def fork_env(panel: Panel, prev_eid: Any, eid: Any) -> str:
    """Copy env `prev_eid` into a new env `eid` on the server, at once (the `fork` op; see fork.py there)."""
    prev_eid, eid = checks.name(prev_eid, "fork_env prev_eid"), checks.name(eid, "fork_env eid")
    if prev_eid == eid:
        raise ValueError(f"visdom fork_env: cannot fork env {prev_eid!r} into itself")
    envs = panel.envs()
    if prev_eid not in envs:
        raise ValueError(f"visdom fork_env: env {prev_eid!r} does not exist")
    if eid in envs:
        raise ValueError(f"visdom fork_env: env {eid!r} exists already; delete it first or pick another name")
    panel._push({"op": "fork", "env": eid, "source": prev_eid})
    if not panel.flush(panel.timeout) or eid not in panel.envs():
        raise RuntimeError(f"visdom fork_env: the server did not fork {prev_eid!r} into {eid!r} (see the log)")
    return eid


# ---------------------------------------------------------------- arguments of line and scatter

TRACE_UPDATES = (None, "append", "insert", "replace", "remove", "new")


def check_update(update: Any, what: str) -> None:
    """Visdom's update modes of line and scatter ('new': a new trace named `name`)."""
    if update not in TRACE_UPDATES:
        raise ValueError(f"visdom {what}: update must be None, 'append', 'insert', 'replace', 'remove' or 'new', "
                         f"got {update!r}")  # fmt: skip


def scatter_columns(x: np.ndarray, y: Any, name: Any) -> np.ndarray:
    """Visdom's scatter of one named trace given as 1-D X (x-values) and 1-D Y (y-values): N x 2 points."""
    if name is None:
        raise ValueError("visdom scatter: with a 1-D X, Y holds the y-values of one trace: give its name too")
    ys = np.asarray(convert.finish_array(convert.numeric(y, "visdom scatter Y", (1, 2))), dtype=np.float64).ravel()
    if len(ys) != len(x):
        raise ValueError(f"visdom scatter: 1-D X and Y must have the same length, got {len(x)} and {len(ys)}")
    return np.column_stack((x, ys))


def captions(batch: Any, opts: dict) -> list[str] | None:
    """Captions of an images() grid: opts `captions` (one per image), or Visdom's one `caption` for the
    grid, shown under its first image."""
    n = len(batch) if isinstance(batch, (list, tuple)) else int(np.shape(batch)[0]) if np.ndim(batch) == 4 else 1
    given = opts.get("captions")
    if given is not None:
        if isinstance(given, str) or len(given) != n:
            raise ValueError(f"visdom images: opts captions must be a list of {n} strings, one per image")
        return [str(c) for c in given]
    caption = opts.get("caption")
    if caption is None:
        return None
    return [str(caption)] + [""] * (n - 1)


def send(vis: Any, msg: Any, endpoint: str) -> str:
    """Visdom's private `_send`, which scripts use to draw a raw Plotly figure ({data, layout, win, eid}):
    sent as a plotly window (panel.plotly); other messages have no meaning here."""
    if not isinstance(msg, dict) or endpoint != "events" or "data" not in msg:
        raise ValueError("visdom _send: only a Plotly figure {'data': [...], 'layout': {...}, 'win', 'eid'} "
                         "to the 'events' endpoint can be sent; use the plotting methods")  # fmt: skip
    plotly = getattr(vis.panel, "plotly", None)
    if plotly is None:
        raise NotImplementedError("visdom _send of a Plotly figure needs panel.plotly, which this livepanel lacks")
    figure = {"data": msg["data"], "layout": msg.get("layout") or {}}
    win = msg.get("win") or vis._win(None)
    return plotly(figure, win=win, env=msg.get("eid"), opts=translate_title(msg.get("opts")))


def translate_title(opts: Any) -> dict | None:
    return {"title": str(opts["title"])} if isinstance(opts, dict) and opts.get("title") else None


def trace_names(panel: Panel, win: str, env: str | None) -> list[str]:
    """The names of a window's traces in order (after what was sent so far); [] when there is no such window.
    Read with the points decimated to one pixel column: a window of millions of points costs a few bytes."""
    env = panel.env if env is None else env
    panel.flush(panel.timeout)
    try:
        state = panel._read("/window", env=env, win=win, width=1)
    except HTTPError as exc:
        if exc.status == 404:
            return []
        raise
    return [t["name"] for t in state.get("traces", [])]


# ---------------------------------------------------------------- embeddings (a native embedding window)

_DATA_IMG = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*["']?data:image/[a-z+]+;base64,([A-Za-z0-9+/=\s]+)""", re.I)


def embedding_labels(labels: Any, n: int) -> list[str]:
    """Visdom's labels (any values, one per point) as the strings its page shows: 3.0 as "3", as in JavaScript."""
    if convert.is_torch(labels):
        labels = labels.detach().cpu().numpy()
    if isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__"):
        raise TypeError(f"visdom embeddings: labels must be a sequence of {n} values, got {type(labels).__name__}")
    values = labels.ravel().tolist() if isinstance(labels, np.ndarray) else list(labels)
    if len(values) != n:
        raise ValueError(f"visdom embeddings: {len(values)} labels for {n} points; give one per point")
    return [str(int(v)) if isinstance(v, float) and v.is_integer() else str(v) for v in values]


def _preview_image(value: Any) -> Any:
    """One preview from Visdom's data_getter as an image, or None when it is not one: an image (array, tensor,
    PIL) as it is, or the first inline `<img src="data:image/...;base64,...">` of an HTML string."""
    if isinstance(value, str):
        found = _DATA_IMG.search(value)
        if found is None:
            return None
        from PIL import Image

        try:
            with Image.open(io.BytesIO(base64.b64decode(re.sub(r"\s", "", found.group(1))))) as im:
                return im.convert("RGBA" if "A" in im.getbands() else "RGB")
        except (ValueError, OSError):
            return None
    if value is None or isinstance(value, (bytes, dict)):
        return None
    try:
        return convert.image_input(value, "visdom embeddings preview")
    except (TypeError, ValueError):
        return None


def embedding_images(data_getter: Any, n: int) -> list[Any] | None:
    """Thumbnails from Visdom's `data_getter(i)` (Visdom calls it on hover, for `data_type="html"`; here it
    is called for each point at once): kept when every preview is an image or an HTML inline image, else
    None (previews of other HTML have no place in the embedding window and are ignored)."""
    if data_getter is None:
        return None
    if not callable(data_getter):
        raise TypeError(f"visdom embeddings: data_getter must be a function of an index, got {data_getter!r:.80}")
    from livepanel.embedding import MAX_THUMB_POINTS

    if n > MAX_THUMB_POINTS:
        log.info("visdom embeddings: no previews for %d points (thumbnails are kept up to %d)", n, MAX_THUMB_POINTS)
        return None
    images = []
    for i in range(n):
        img = _preview_image(data_getter(i))
        if img is None:
            if i:
                log.warning("visdom embeddings: data_getter(%d) is not an image; previews ignored", i)
            return None
        images.append(img)
    return images


def embedding_points(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The latest step of an embedding window as Visdom's points {group, name, label, position, idx}
    (position: the first two PCA components), for get_window_data."""
    steps = state.get("steps") or []
    if not steps:
        return []
    e = steps[-1]
    xy = np.asarray(e["projections"]["pca"])[:, :2].tolist()
    labels = e.get("labels") or [""] * len(xy)
    groups = {v: j for j, v in enumerate(dict.fromkeys(labels))}
    return [{"group": groups[labels[i]], "name": f"Entity {i}", "label": labels[i], "position": p, "idx": i}
            for i, p in enumerate(xy)]  # fmt: skip
