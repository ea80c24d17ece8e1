"""The live state: envs and their windows in memory, and the rule for applying each operation.

`State.apply` changes memory and returns what the outside needs to know: the message for
viewers, and the write actions for persistence. It does no I/O itself. Given an `Undo`, it records
what it is about to change, so that a batch that cannot be stored is taken back whole.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from livepanel import clips, embedding, heatmap_update, media, plotly_figure, trace_style
from livepanel.properties import PropertyError, edited
from livepanel.protocol import ProtocolError
from livepanel.server.decimate import decimate
from livepanel.server.store import fork, record
from livepanel.server.store.series import Series

RAW_APPEND_LIMIT = 50_000  # larger appends reach viewers as a decimated window
PUSH_WIDTH = 2048  # pixel columns for windows pushed to every viewer
TRACE_KINDS = ("line", "scatter")
STEP_KINDS = ("histogram", "image", "embedding")
STEP_KINDS += clips.KINDS  # audio, video (livepanel/clips.py)
TEXT_DROPPED = "… (older text dropped)\n\n"  # starts a text window whose oldest appends were dropped
TEXT_PART = 4096  # appends to a text window are kept in parts of at least this many characters (or max_text/16)


@dataclass
class Window:
    win: str
    kind: str
    opts: dict[str, Any] = field(default_factory=dict)
    seq: int = 0
    traces: dict[str, Series] = field(default_factory=dict)  # line, scatter
    steps: OrderedDict[int, dict] = field(default_factory=OrderedDict)  # histogram, image
    content: dict[str, Any] = field(default_factory=dict)  # bar: y, labels; heatmap: z; text: text
    # text: (part number, characters) of each stored part, oldest first; and whether older text was dropped
    text_parts: list[tuple[int, int]] = field(default_factory=list)
    text_dropped: bool = False

    def text_body(self) -> str:
        """A text window's text without the marker of dropped text."""
        text = self.content.get("text", "")
        return text[len(TEXT_DROPPED) :] if self.text_dropped else text

    def last_step(self) -> int:
        return next(reversed(self.steps)) if self.steps else -1


@dataclass
class Env:
    name: str
    seq: int = 0
    windows: dict[str, Window] = field(default_factory=dict)
    layout: dict[str, Any] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)  # training problems found, oldest first
    mute: list[str] = field(default_factory=list)  # alert kinds muted in the whole env (a window's: opts["mute"])
    run: dict[str, Any] = field(default_factory=record.empty)  # config, summary, status, color (store/record.py)
    created: float | None = None  # wall time of its first change (None: unknown, data of an older livepanel)
    updated: float | None = None  # of its last change by a writer (record.QUIET_OPS do not count)

    def muted(self, kind: str, win: str) -> bool:
        """Whether alerts of this kind on this window are muted (in the env, or by the window's opts)."""
        if kind in self.mute:
            return True
        w = self.windows.get(win)
        return w is not None and kind in (w.opts.get("mute") or ())


@dataclass
class Limits:
    max_image_steps: int = 200
    max_histogram_steps: int = 2000
    max_embedding_steps: int = 100  # per window; and at most max_embedding_bytes of them (the latest always kept)
    max_embedding_bytes: int = 1 << 30
    max_media_steps: int = 100  # audio and video steps per window; and at most max_media_bytes of files
    max_media_bytes: int = 256 << 20
    max_text: int = 1 << 20  # characters kept per text window


class Undo:
    """What a batch found in memory, recorded as `State.apply` first touches each thing, so that
    `rollback` leaves memory as it was before the batch (one that could not be prepared for storage)."""

    def __init__(self, state: State):
        self.state = state
        self.envs: dict[str, tuple] = {}
        self.windows: dict[int, tuple] = {}
        self.series: dict[int, tuple] = {}

    def env(self, name: str) -> None:
        if name not in self.envs:
            e = self.state.envs.get(name)
            saved = None
            if e is not None:
                saved = (e.seq, e.layout, e.alerts, len(e.alerts), dict(e.windows), e.mute, e.run, e.created, e.updated)
            self.envs[name] = (self.state.seqs.get(name), e, saved)

    def window(self, w: Window) -> None:
        if id(w) not in self.windows:
            steps = OrderedDict(w.steps) if w.kind in STEP_KINDS else None
            parts, dropped = w.text_parts, w.text_dropped
            self.windows[id(w)] = (w, w.seq, dict(w.opts), dict(w.traces), steps, w.content, parts, len(parts), dropped)

    def trace(self, series: Series) -> None:
        if id(series) not in self.series:
            self.series[id(series)] = (series, series.mark())

    def rollback(self) -> None:
        for series, mark in self.series.values():
            series.rollback(mark)
        for w, seq, opts, traces, steps, content, parts, n, dropped in self.windows.values():
            w.seq, w.opts, w.traces, w.content, w.text_dropped = seq, opts, traces, content, dropped
            if steps is not None:
                w.steps = steps
            del parts[n:]  # text parts are only ever appended in place (dropping makes a new list)
            w.text_parts = parts
        for name, (seq, e, saved) in self.envs.items():
            if seq is None:
                self.state.seqs.pop(name, None)
            else:
                self.state.seqs[name] = seq
            if e is None:
                self.state.envs.pop(name, None)
                continue
            self.state.envs[name] = e
            e.seq, e.layout, e.alerts, n, e.windows, e.mute, e.run, e.created, e.updated = saved
            del e.alerts[n:]  # alerts are appended in place (a close or a dismiss makes a new list)


class State:
    """Every env's windows. Env seq counters outlive a deleted env so viewers never go back."""

    def __init__(self, limits: Limits | None = None):
        self.envs: dict[str, Env] = {}
        self.seqs: dict[str, int] = {}
        self.limits = limits or Limits()

    # ------------------------------------------------------------ checks before a batch is accepted

    def check(self, ops: list[dict]) -> None:
        """Refuse operations that contradict the state (a line drawn into a histogram window)."""
        planned: dict[tuple[str, str], str | None] = {}
        shapes: dict[tuple[str, str], tuple[int, int]] = {}  # heatmaps' shapes after the batch's ops so far
        forks: set[str] = set()
        for i, op in enumerate(ops):
            kind, env = op["op"], op["env"]
            if kind == "delete_env":
                for key in [k for k in planned if k[0] == env]:
                    planned[key] = None
                for win in self.envs.get(env, Env(env)).windows:
                    planned[(env, win)] = None
                continue
            if kind == "fork":
                fork.check(self, op, i, forks)
                continue
            if kind in ("layout", "run") or (kind == "mute" and "win" not in op):
                continue
            if kind == "dismiss":
                e = self.envs.get(env)
                if e is None or not any(a["id"] == op["id"] for a in e.alerts):
                    raise ProtocolError(f"operation {i}: env {env!r} has no alert {op['id']} (dismiss id)", op=i)
                continue
            key = (env, op["win"])
            if key in planned:
                existing = planned[key]
            else:
                w = self.envs.get(env, Env(env)).windows.get(op["win"])
                existing = w.kind if w else None
            if kind == "close":
                planned[key] = None
            elif kind == "property":
                self._check_edit(i, op, existing)
            elif kind in ("opts", "mute"):
                if existing is None:
                    raise ProtocolError(f"operation {i}: window {op['win']!r} in env {env!r} does not exist", op=i)
            elif existing is not None and existing != kind:
                raise ProtocolError(
                    f"operation {i}: window {op['win']!r} in env {env!r} is a {existing} window; "
                    f"cannot put a {kind} in it (close it first or use another window name)",
                    op=i,
                )
            elif kind in TRACE_KINDS and op["update"] == "remove" and existing is None:
                continue
            elif kind == "heatmap":  # rows or columns added must fit (livepanel/heatmap_update.py)
                w = self.window(env, op["win"])
                stored = w.content["z"].shape if w is not None and w.kind == "heatmap" and "z" in w.content else None
                before = None if existing is None else shapes.get(key, stored)
                shapes[key] = heatmap_update.check_shape(before, op, i)
                planned[key] = kind
            else:
                planned[key] = kind

    def _check_edit(self, i: int, op: dict, existing: str | None) -> None:
        """A viewer's edit of a properties pane: the pane exists and the value fits its item."""
        if existing != "properties":
            raise ProtocolError(f"operation {i}: window {op['win']!r} in env {op['env']!r} is no properties pane", op=i)
        w = self.window(op["env"], op["win"])
        if w is not None and w.kind == "properties":  # a pane made in this batch is checked when applied
            try:
                edited(w.content["items"], op["id"], op["value"])
            except PropertyError as exc:
                raise ProtocolError(f"operation {i}: {exc}", op=i) from None

    # ------------------------------------------------------------ applying

    def noop(self, op: dict) -> bool:
        """Whether an operation changes nothing and is left out: a run's status sent to an env that does not
        exist (a Panel that closes after its env was deleted must not make it again)."""
        return op["op"] == "run" and op["env"] not in self.envs and not ({"config", "summary", "color"} & op.keys())

    def reopening(self, op: dict) -> dict | None:
        """The run op to apply before `op` when it brings data to a finished (or failed) run: running again,
        a change of its own that viewers get like any other."""
        env = self.envs.get(op["env"])
        if env is not None and record.reopens(env.run, op["op"]):
            return {"op": "run", "env": op["env"], "status": "running", "merge": True}
        return None

    def apply(self, op: dict, now: float | None = None, undo: Undo | None = None) -> tuple[dict, list[tuple]]:
        """Apply one checked operation; return (message for viewers, write actions).

        The write actions may hold the state's own dicts (opts): encode them before the next change."""
        now = time.time() if now is None else now
        name = op["env"]
        if undo is not None:
            undo.env(name)
        seq = self.seqs.get(name, 0) + 1
        self.seqs[name] = seq
        env = self.envs.get(name)
        if env is None:
            env = self.envs[name] = Env(name, created=now)
        env.seq = seq
        kind = op["op"]
        if not record.quiet(op):
            env.updated = now
        writes: list[tuple] = [("env", name, seq, env.created, env.updated)]
        message: dict[str, Any] = {"type": "change", "env": name, "seq": seq, "op": op}
        if kind == "run":  # viewers get the whole record, as a snapshot holds it
            env.run = record.merged(env.run, op)
            writes.append(("run", name, env.run))
            message["op"] = {"op": "run", "env": name, "run": env.run}
            return message, writes
        if kind == "delete_env":
            del self.envs[name]
            writes.append(("delete_env", name))
            return message, writes
        if kind == "layout":
            env.layout = op["layout"]
            writes.append(("layout", name, env.layout))
            return message, writes
        if kind == "alert":  # made by the server's diagnosis, never sent by clients
            env.alerts.append(op["alert"])
            writes.append(("alert", name, op["alert"]))
            return message, writes
        if kind == "dismiss":  # kept, marked: alerts() still lists it, and its key is not raised again
            alerts, number = [], op["id"]
            for a in env.alerts:
                if a["id"] == number and not a.get("dismissed"):
                    a = dict(a, dismissed=True)  # a new dict and list: the old ones may be in messages sent
                    writes.append(("dismiss", name, number, a))
                alerts.append(a)
            env.alerts = alerts
            return message, writes
        if kind == "mute" and "win" not in op:
            env.mute = _toggled(env.mute, op["kind"], op["muted"])
            writes.append(("mute", name, env.mute))
            return message, writes
        win = op["win"]
        if kind == "close":
            env.windows.pop(win, None)
            env.alerts = [a for a in env.alerts if a["win"] != win]
            writes.append(("close", name, win))
            return message, writes
        w = env.windows.get(win)
        if w is None:
            w = env.windows[win] = Window(win, kind)
        if undo is not None:
            undo.window(w)
        w.seq = seq
        writes.append(("win", name, win, seq))
        if kind == "projection":  # made by the server's projector (t-SNE, UMAP): progress, or a result stored
            message["op"], stored = embedding.projected(w, op)
            if stored is not None:  # the step again, with the new projection
                writes.append(("step", name, win, w.kind, w.opts, stored, []))
            return message, writes
        if kind == "mute":  # a window's mute is its `mute` option
            mute = _toggled(w.opts.get("mute") or [], op["kind"], op["muted"])
            w.opts = {k: v for k, v in w.opts.items() if k != "mute"} | ({"mute": mute} if mute else {})
            writes.append(("opts", name, win, w.kind, w.opts))
            return message, writes
        if op.get("opts"):
            if kind in TRACE_KINDS and op["update"] == "append":  # per-point styles extend (trace_style.py)
                start = w.traces[op["name"]].n if op["name"] in w.traces else 0
                op = message["op"] = dict(op, opts=trace_style.appended(op["opts"], w.opts, op["name"], start))
            for key, value in op["opts"].items():
                if value is None:
                    w.opts.pop(key, None)
                else:
                    w.opts[key] = value
            writes.append(("opts", name, win, w.kind, w.opts))
        if kind in TRACE_KINDS:
            message = self._trace(env, w, op, now, message, writes, undo)
        elif kind in STEP_KINDS:
            message = self._step(env, w, op, now, message, writes)
        elif kind == "text":
            message = self._text(env, w, op, message, writes)
        elif kind == "properties":  # livepanel/properties.py: the writer's pane, replaced whole
            w.content = {"items": op["items"], "pane": op["pane"]}
            writes.append(("content", name, win, kind, w.opts, w.content))
        elif kind == "property":  # a viewer's edit: viewers and the writer's downlink get the whole pane
            w.content = {"items": edited(w.content["items"], op["id"], op["value"]), "pane": w.content["pane"]}
            writes.append(("content", name, win, w.kind, w.opts, w.content))
            edit = {"id": op["id"], "value": op["value"]}
            message["op"] = {"op": "properties", "env": name, "win": win, **w.content, "edit": edit}
        elif kind == "heatmap" and op.get("update", "replace") != "replace":  # livepanel/heatmap_update.py
            z, labels = heatmap_update.applied(w.content.get("z"), w.opts, op)
            w.opts.update(labels)
            w.content = {"z": z}
            writes.append(("content", name, win, kind, w.opts, w.content))
            message["op"] = dict(op, labels=None, opts={**op["opts"], **labels})  # viewers join the block too
        elif kind == "media":  # livepanel/media.py: viewers get format and size, and load the bytes
            w.content = media.content(op)
            writes.append(("content", name, win, kind, w.opts, w.content))
            message["op"] = {k: v for k, v in op.items() if k != "data"} | {"size": w.content["size"]}
        elif kind in ("bar", "heatmap"):
            w.content = {"y": np.array(op["y"]), "labels": op["labels"]} if kind == "bar" else {"z": np.array(op["z"])}
            writes.append(("content", name, win, kind, w.opts, w.content))
        elif kind == "plotly":  # livepanel/plotly_figure.py: replace, or append traces by name
            figure = op["figure"]
            if op["update"] == "append" and w.content.get("figure") is not None:
                figure = plotly_figure.appended(w.content["figure"], figure)
                message["op"] = dict(op, figure=figure, update="replace")  # viewers get the whole figure
            w.content = {"figure": figure}
            writes.append(("content", name, win, kind, w.opts, w.content))
        elif kind == "graph":  # livepanel/model_graph.py: one graph per window, a new one replaces it
            w.content = {"graph": op["graph"]}
            writes.append(("content", name, win, kind, w.opts, w.content))
        return message, writes

    def _text(self, env: Env, w: Window, op: dict, message: dict, writes: list) -> dict:
        """Replace or extend a text window, keeping at most `max_text` characters of it.

        The text is stored as parts (an append adds one, or extends a last part shorter than TEXT_PART),
        so an append writes about its own size. Past `max_text`, the oldest parts are dropped until
        three quarters of it are left, so that drops (and the full text they send to viewers) are rare;
        the text then starts with TEXT_DROPPED."""
        limit, piece = self.limits.max_text, op["text"]
        if op["update"] == "replace":
            parts, body, dropped, clear = [], "", False, True
        else:
            parts, body, dropped, clear = w.text_parts, w.text_body(), w.text_dropped, False
            if not piece and parts:  # nothing to store (a new window still gets its empty part)
                return message
        drop_below = None
        if len(piece) > limit:
            piece, parts, body, dropped, clear = piece[-limit:], [], "", True, True
        elif len(body) + len(piece) > limit:
            cut, keep, target = 0, 0, limit * 3 // 4
            while keep < len(parts) and len(body) - cut + len(piece) > target:
                cut += parts[keep][1]
                keep += 1
            drop_below = parts[keep][0] if keep < len(parts) else (parts[-1][0] + 1 if parts else 0)
            parts, body, dropped = parts[keep:], body[cut:], True
        if parts and parts[-1][1] < min(TEXT_PART, limit // 16):  # extend a short last part (rewritten whole)
            number, length = parts[-1]
            stored = body[len(body) - length :] + piece
            parts = parts if drop_below is not None else list(parts)  # the state's list is only appended to
            parts[-1] = (number, len(stored))
        else:
            number = parts[-1][0] + 1 if parts else 0
            stored = piece
            parts.append((number, len(stored)))
        w.text_parts, w.text_dropped = parts, dropped
        text = (TEXT_DROPPED if dropped else "") + body + piece
        w.content = {"text": text}
        writes.append(("text", env.name, w.win, w.kind, w.opts, clear, drop_below, number, stored, dropped))
        if dropped and (clear or drop_below is not None):  # viewers hold the dropped text: send it all
            message["op"] = dict(op, text=text, update="replace")
        return message

    def _trace(self, env: Env, w: Window, op: dict, now: float, message: dict, writes: list, undo: Undo | None) -> dict:
        name, update = op["name"], op["update"]
        if update == "remove":
            w.traces.pop(name, None)
            writes.append(("remove_trace", env.name, w.win, name))
            return message
        x, y = op["x"], op["y"]
        t = op["t"] if op["t"] is not None else np.array([now])  # one time may stand for all points
        series = w.traces.get(name)
        if update == "replace" or series is None:
            if series is not None or update == "replace":
                writes.append(("remove_trace", env.name, w.win, name))
            series = Series(Series.y_dtype_for(y))
            w.traces[name] = series
            order = list(w.traces).index(name)
            writes.append(("trace", env.name, w.win, w.kind, w.opts, name, str(series.ydtype), order))
        elif undo is not None:
            undo.trace(series)
        start = series.n
        xs, ys, ts = series.append(x, y, t)
        if len(x):
            writes.append(("points", env.name, w.win, name, start, series.t0, xs, ys, ts))
        message["op"] = dict(op, t=t)
        return message

    def _step(self, env: Env, w: Window, op: dict, now: float, message: dict, writes: list) -> dict:
        step = op["step"] if op["step"] is not None else w.last_step() + 1
        t = op["t"] if op.get("t") is not None else now
        if w.kind == "histogram":
            entry = {"step": step, "t": t, "counts": op["counts"], "edges": op["edges"], "stats": op["stats"]}
            limit = self.limits.max_histogram_steps
        elif w.kind in clips.KINDS:  # livepanel/clips.py: a WAV or an MP4 and what describes it
            entry = clips.entry(w.kind, op, step, t)
            limit = self.limits.max_media_steps
        elif w.kind == "embedding":  # livepanel/embedding.py: the data and its PCA projection
            entry = embedding.entry(op, step, t)
            limit = self.limits.max_embedding_steps
        else:
            entry = {"step": step, "t": t, "images": op["images"]}
            limit = self.limits.max_image_steps
        last = w.last_step()  # before this one: a step below it is put in order (as they load from disk)
        w.steps.pop(step, None)
        w.steps[step] = entry
        if step < last:
            w.steps = OrderedDict(sorted(w.steps.items()))
        dropped = []
        while len(w.steps) > limit:
            dropped.append(w.steps.popitem(last=False)[0])
        if w.kind == "embedding":
            dropped += embedding.over_budget(w.steps, self.limits.max_embedding_bytes)
        elif w.kind in clips.KINDS:
            for old in clips.to_drop(w.steps, limit, self.limits.max_media_bytes):
                dropped.append(w.steps.pop(old)["step"])
        writes.append(("step", env.name, w.win, w.kind, w.opts, entry, dropped))
        public = {k: v for k, v in entry.items() if k != "images"}
        if w.kind == "embedding":
            public = embedding.meta(entry)
        elif w.kind in clips.KINDS:
            public = clips.public(entry)
        elif w.kind == "image":
            public["images"] = [_image_meta(img) for img in entry["images"]]
        message["op"] = {"op": w.kind, "env": env.name, "win": w.win, "opts": op["opts"], **public}
        if dropped:
            message["op"]["dropped"] = dropped
        return message

    # ------------------------------------------------------------ reading

    def window(self, env: str, win: str) -> Window | None:
        e = self.envs.get(env)
        return e.windows.get(win) if e else None

    def summary(self) -> list[dict[str, Any]]:
        return [
            {"name": e.name, "seq": e.seq, "windows": len(e.windows), "updated": e.updated} for e in self.envs.values()
        ]

    def snapshot(self, env: str, width: int | None) -> dict[str, Any]:
        e = self.envs.get(env)
        seq = self.seqs.get(env, 0)
        windows = [window_state(w, width) for w in e.windows.values()] if e else []
        return {
            "type": "snapshot",
            "env": env,
            "seq": seq,
            "windows": windows,
            "layout": e.layout if e else {},
            "alerts": e.alerts if e else [],
            "mute": e.mute if e else [],
            "run": e.run if e else record.empty(),
        }


def _toggled(kinds: list[str], kind: str, on: bool) -> list[str]:
    """A new list of muted kinds with `kind` muted or not (the old list may be in messages sent)."""
    rest = [k for k in kinds if k != kind]
    return rest + [kind] if on else rest


def public_message(message: dict) -> dict:
    """The message as viewers get it: a large trace update is decimated (the op's own points only)."""
    op = message.get("op")
    if op is None or op["op"] not in TRACE_KINDS or op.get("x") is None:
        return message
    x, y, t = op["x"], op["y"], op["t"]
    if len(x) <= RAW_APPEND_LIMIT:
        return message if len(t) == len(x) else dict(message, op=dict(op, t=np.full(len(x), t[0])))
    keep = decimate(x, y, PUSH_WIDTH)
    t = t[keep] if len(t) == len(x) else np.full(len(keep), t[0])
    return dict(message, op=dict(op, x=x[keep], y=y[keep], t=t, n=len(x), decimated=True))


def _image_meta(img: dict) -> dict:
    return {k: img[k] for k in ("format", "width", "height", "caption")}


def window_state(
    w: Window, width: int | None = None, x0: float | None = None, x1: float | None = None, full: bool = False
) -> dict[str, Any]:
    """A window as viewers and readers see it (docs/protocol.md, 'Window state')."""
    out: dict[str, Any] = {"win": w.win, "kind": w.kind, "opts": w.opts, "seq": w.seq}
    if w.kind in TRACE_KINDS:
        traces = []
        for name, series in w.traces.items():
            x, y, t = series.arrays(x0, x1)
            decimated = False
            if width and len(x) > 2 * width:
                keep = decimate(x, y, width)
                x, y, t = x[keep], y[keep], t[keep]
                decimated = True
            traces.append({"name": name, "n": series.n, "x": x, "y": y, "t": t, "decimated": decimated})
        out["traces"] = traces
    elif w.kind == "histogram":
        out["steps"] = list(w.steps.values())
    elif w.kind == "image":
        out["steps"] = [
            {"step": s["step"], "t": s["t"], "images": s["images"] if full else [_image_meta(i) for i in s["images"]]}
            for s in w.steps.values()
        ]
    elif w.kind == "media":
        out.update(media.public(w.content, full))
    elif w.kind in clips.KINDS:  # steps without their files (GET /api/v1/media), or with them when full
        out["steps"] = [clips.public(s, full) for s in w.steps.values()]
    elif w.kind == "embedding":  # steps without their points (GET /api/v1/embedding), or everything when full
        out["steps"] = [embedding.full(s) if full else embedding.meta(s) for s in w.steps.values()]
    else:
        out.update(w.content)
    return out
