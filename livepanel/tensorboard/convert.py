"""One event file as a stream of ingest batches: which env and window each value goes to, and the seqs.

A batch holds records [a, b) of one file only, sent under that file's own client id with seq = b
(records consumed). Before the first batch of a file, the seq the server has committed for that id
(H) is looked up, and records below H are read but not sent, so no batch ever straddles H: a re-send,
a re-import or a restart applies nothing twice, whatever the batch boundaries were the first time.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from livepanel.protocol import MAX_TEXT
from livepanel.tensorboard import events
from livepanel.tensorboard.events import clean_name
from livepanel.tensorboard.records import RecordReader

log = logging.getLogger("livepanel.tensorboard")
_F32 = struct.Struct("<f").unpack_from
_F64 = struct.Struct("<d").unpack_from
MAX_RECORDS = 50_000  # records per batch
MAX_BYTES = 8 << 20  # payload per batch (images), well below the server's --max-payload
MAX_CHUNKS = 64  # chunks read per call, so one fast-growing file cannot hold the tail


class Names:
    """Window names per env and the kind each holds, so one tag logged as two kinds gets two windows."""

    def __init__(self) -> None:
        self._kinds: dict[tuple[str, str], str] = {}

    def window(self, env: str, tag: str, kind: str) -> str:
        name = clean_name(tag)
        if self._kinds.setdefault((env, name), kind) == kind:
            return name
        name = clean_name(f"{tag} ({kind})")
        self._kinds.setdefault((env, name), kind)
        return name


class Converter:
    """Accumulates the values of one file's events into operations until a batch is taken."""

    def __init__(self, env: str, names: Names, parent: tuple[str, str, str | None, str] | None = None):
        self.env = env
        self.names = names
        # (parent env, run dir name, grandparent env, parent dir name): add_scalars children merge upwards
        self.parent = parent
        self.plugins: dict[str, str] = {}
        self._scalars: dict[str, tuple[list, list, list]] = {}
        self._fast: dict[bytes, tuple[list, list, list]] = {}
        self._lines: dict[tuple[str, str, str], tuple[list, list, list]] = {}
        self._ops: list[dict[str, Any]] = []
        self.pending = 0  # values since the last take
        self.bytes = 0
        self.values = 0  # values taken in total

    def feed(self, payload: bytes, emit: bool = True) -> None:
        """One event; `emit` False only learns plugin metadata (records the server already has)."""
        # Fast path for what add_scalar writes (wall_time, step, one tag with a simple_value): such
        # events of one tag differ only in the time, the step varint and the last 4 bytes (the value),
        # so the bytes between step and value identify the tag; each is checked once by the full parse.
        if len(payload) > 16 and payload[0] == 9 and payload[9] == 16:
            b = payload[10]
            if b < 128:
                j, step = 11, b
            elif payload[11] < 128:
                j, step = 12, (b & 127) | (payload[11] << 7)
            elif payload[12] < 128:
                j, step = 13, (b & 127) | ((payload[11] & 127) << 7) | (payload[12] << 14)
            else:
                j = 0
            if j:
                target = self._fast.get(payload[j:-4])
                if target is not None:
                    if emit:
                        target[0].append(step)
                        target[1].append(_F32(payload, len(payload) - 4)[0])
                        target[2].append(_F64(payload, 1)[0])
                        self.pending += 1
                    return
        ev = events._parse_event(payload)
        values = ev.summary.value
        if not values:
            return
        step = ev.step
        if len(values) == 1 and len(self._fast) < 10_000 and values[0].WhichOneof("value") == "simple_value":
            self._learn_fast(payload, ev)
        for v in values:
            kind = v.WhichOneof("value")
            if kind == "simple_value":
                if emit:
                    xs, ys, ts = self._scalars.get(v.tag) or self._scalar_target(v.tag)
                    xs.append(step)
                    ys.append(v.simple_value)
                    ts.append(ev.wall_time)
                    self.pending += 1
                continue
            if v.HasField("metadata") and v.metadata.plugin_data.plugin_name:
                self.plugins[v.tag] = v.metadata.plugin_data.plugin_name
                if v.metadata.plugin_data.plugin_name == "hparams":  # session_start_info: the run's config
                    config = events.hparams_config(v.metadata.plugin_data.content) if emit else None
                    if config:
                        self._add({"op": "run", "env": self.env, "config": config, "merge": True}, 100 * len(config))
                    continue
            if emit:
                if kind == "histo":
                    self._histogram(v.tag, events.histogram_op(v.histo), step, ev.wall_time)
                elif kind == "image":
                    img = v.image
                    entry = events.image_entry(img.encoded_image_string, img.width, img.height)
                    self._image(v.tag, [entry], step, ev.wall_time)
                elif kind == "tensor":
                    self._tensor(v.tag, v.tensor, step, ev.wall_time)

    def _learn_fast(self, payload: bytes, ev: Any) -> None:
        """Remember the bytes of a plain one-scalar event's middle, if the fast path would decode it exactly."""
        v = ev.summary.value[0]
        if v.HasField("metadata") or not 0 < ev.step < 1 << 21 or ev.SerializeToString() != payload:
            return
        j = 11 + (ev.step >= 1 << 7) + (ev.step >= 1 << 14)
        if payload[0] == 9 and payload[9] == 16 and payload[j - 1] < 128 and payload[-5] == 0x15:
            self._fast[payload[j:-4]] = self._scalars.get(v.tag) or self._scalar_target(v.tag)

    def _scalar_target(self, tag: str) -> tuple[list, list, list]:
        env, trace = self.env, ""
        if self.parent is not None:  # torch writes RUN/TAG_KEY/, tensorboardX RUN/TAG/KEY/ (tag's / as _)
            flat = tag.replace("/", "_")
            parent_env, run, grand_env, parent_name = self.parent
            if run.startswith(flat + "_") and len(run) > len(flat) + 1:
                env, trace = parent_env, clean_name(run[len(flat) + 1 :])
            elif grand_env is not None and parent_name == flat:
                env, trace = grand_env, clean_name(run)
        key = (env, self.names.window(env, tag, "line"), trace)
        target = self._lines.get(key)
        if target is None:
            target = self._lines[key] = ([], [], [])
        self._scalars[tag] = target
        return target

    def _tensor(self, tag: str, tensor: Any, step: int, wall_time: float) -> None:
        plugin = self.plugins.get(tag, "")
        arr = events.tensor_array(tensor)
        if arr is None:
            return
        if plugin == "scalars" or (not plugin and arr.size == 1 and arr.dtype != object and arr.ndim == 0):
            if arr.size == 1 and arr.dtype != object:
                xs, ys, ts = self._scalars.get(tag) or self._scalar_target(tag)
                xs.append(step)
                ys.append(float(arr.reshape(-1)[0]))
                ts.append(wall_time)
                self.pending += 1
        elif plugin == "histograms":
            self._histogram(tag, events.histogram_tensor_op(arr), step, wall_time)
        elif plugin == "images" and arr.dtype == object and arr.ndim == 1 and arr.size >= 3:
            self._image(tag, [events.image_entry(b) for b in arr[2:]], step, wall_time)
        elif plugin == "text" and arr.dtype == object:
            text = events.text_markdown(arr)
            name = tag[: -len(events.TEXT_SUFFIX)] if tag.endswith(events.TEXT_SUFFIX) else tag
            chunk = f"**step {step}**\n\n{text}\n\n"[:MAX_TEXT]
            win = self.names.window(self.env, name, "text")
            self._add({"op": "text", "env": self.env, "win": win, "text": chunk, "update": "append"}, len(chunk))

    def _histogram(self, tag: str, op: dict[str, Any] | None, step: int, wall_time: float) -> None:
        if op is not None:
            win = self.names.window(self.env, tag, "histogram")
            op.update(op="histogram", env=self.env, win=win, step=step, t=wall_time)
            self._add(op, 16 * len(op["counts"]))

    def _image(self, tag: str, images: list[dict[str, Any] | None], step: int, wall_time: float) -> None:
        images = [i for i in images if i is not None]
        if images:
            win = self.names.window(self.env, tag, "image")
            op = {"op": "image", "env": self.env, "win": win, "images": images, "step": step, "t": wall_time}
            self._add(op, sum(len(i["data"]) for i in images))

    def _add(self, op: dict[str, Any], size: int) -> None:
        self._ops.append(op)
        self.pending += 1
        self.bytes += size + 100

    def take(self) -> list[dict[str, Any]]:
        """The operations for everything fed since the last take (line appends grouped per trace)."""
        ops: list[dict[str, Any]] = []
        for (env, win, trace), (xs, ys, ts) in self._lines.items():
            if xs:
                x = np.array(xs, dtype=np.float64)
                y = np.array(ys, dtype=np.float64)
                t = np.array(ts, dtype=np.float64)
                ops.append({"op": "line", "env": env, "win": win, "name": trace, "x": x, "y": y, "t": t})
                xs.clear(), ys.clear(), ts.clear()
        ops += self._ops
        self._ops = []
        self.values += self.pending
        self.pending = self.bytes = 0
        return ops


def client_id(env: str, path: Path) -> str:
    """The file's own client id: the same file imported into the same env always gets the same one."""
    return "tb-" + hashlib.sha256(f"{env}\0{path.name}".encode("utf-8", "surrogateescape")).hexdigest()[:40]


class EventFile:
    """One event file being imported: its reader, converter, client id and committed seq."""

    def __init__(self, path: Path, env: str, names: Names, parent: tuple[str, str, str | None, str] | None = None):
        self.path = path
        self.env = env
        self.client = client_id(env, path)
        self.reader = RecordReader(path)
        self.converter = Converter(env, names, parent)
        self.committed: int | None = None  # the server's seq for our client id, once looked up
        self.unreadable = 0

    def batches(
        self, final: bool = False, stop: Callable[[], bool] | None = None
    ) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        """(seq, ops) for the records completed on disk since the last call; call after setting committed."""
        conv, reader = self.converter, self.reader
        done = self.committed or 0
        for _ in range(MAX_CHUNKS):
            if stop is not None and stop():
                return
            index, records = reader.read(final)
            for payload in records:
                if payload is not None:
                    try:
                        conv.feed(payload, index >= done)
                    except Exception as exc:  # a record with a good CRC but not an event we understand
                        self.unreadable += 1
                        if self.unreadable == 1:
                            log.warning(
                                "livepanel: %s: record %d is not a readable event (%s); skipped", self.path, index, exc
                            )
                index += 1
                if conv.pending >= MAX_RECORDS or conv.bytes >= MAX_BYTES:
                    ops = conv.take()
                    if ops:
                        yield index, ops
            if not reader.more:
                break
        ops = conv.take()
        if ops:
            yield reader.index, ops
