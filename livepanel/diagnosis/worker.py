"""The diagnosis worker: a process of its own that runs the Diagnoser over the server's line appends.

Diagnosis is CPU work in Python, for a young series about as much as storing its points, so the
server hands each accepted batch, as the client sent it (msgpack), to this process and goes on:
ingest pays for the hand-off only, and the detectors use another core. It runs at a lower priority
(NICE): short of cores, ingest and training come first, and the batches that wait meanwhile are then
diagnosed together, with fewer, larger engine calls (Worker.batches): the same alerts as one at a time.

Frames both ways are a 4-byte little-endian length, then that many bytes. To the worker: first
START (msgpack {"known": [alert], "hints": [[env, win, hints]]}, what the store held when the worker
started), then one frame per accepted batch: an 8-byte batch number, then the batch's msgpack body.
From the worker: one msgpack frame [batch number, [alert]] per batch, in order, alerts as
Alert.to_dict() (the server adds id and time). Run as `python -m livepanel.diagnosis.worker`; it
ends when its input does.
"""

from __future__ import annotations

import logging
import os
import select
import struct
import sys
from typing import Any

import msgpack

from livepanel import protocol
from livepanel.diagnosis.alert import Alert
from livepanel.diagnosis.engine import Diagnoser

HINTS = ("role", "diagnose")  # the only opts the engine reads (roles.resolve_role)
FOLLOWED = frozenset(("line", "close", "delete_env", "opts"))  # what diagnosis looks at, once applied
LENGTH = struct.Struct("<I")
NUMBER = struct.Struct("<Q")
GROUP_BYTES = 8 << 20  # batches waiting in the pipe diagnosed together, at most (a behind worker catches up)
NICE = 10  # below ingest's priority (and training's, on one machine): short of cores, diagnosis waits, then catches up

log = logging.getLogger("livepanel.diagnosis")


def frame(payload: bytes) -> bytes:
    return LENGTH.pack(len(payload)) + payload


def frames(buf: bytearray) -> list[bytes]:
    """Take the complete frames at the start of buf (what is left stays in it)."""
    out, off, end = [], 0, len(buf)
    view = memoryview(buf)
    while end - off >= 4:  # bounded by the buffer
        (n,) = LENGTH.unpack_from(buf, off)
        if end - off - 4 < n:
            break
        out.append(bytes(view[off + 4 : off + 4 + n]))
        off += 4 + n
    view.release()
    if off:
        del buf[:off]
    return out


def barrier(op: dict[str, Any]) -> tuple[str, ...] | None:
    """What a close, delete_env, trace replace or remove ends (its alerts until then are about what is
    gone); None for an append or an opts change."""
    kind = op["op"]
    if kind == "delete_env":
        return ("env", op["env"])
    if kind == "close":
        return ("win", op["env"], op["win"])
    if kind == "line" and op["update"] != "append":
        return ("trace", op["env"], op["win"], op["name"])
    return None


def ended_by(env: str, win: str, trace: str) -> tuple[tuple[str, ...], ...]:
    """The barrier keys that end an alert about this trace: its env's deletion, its window's close, or
    the trace's replacement or removal."""
    return ("env", env), ("win", env, win), ("trace", env, win, trace)


class Worker:
    """The worker's state: the engine, and the role hints of line windows (mirrored from the ops)."""

    def __init__(self, known: list[dict[str, Any]], hints: list[list[Any]]) -> None:
        self.engine = Diagnoser()
        self.engine.known(Alert.from_dict(a) for a in known)
        self.hints: dict[tuple[str, str], dict[str, Any]] = {(env, win): h for env, win, h in hints}

    def batch(self, body: bytes | memoryview) -> list[dict[str, Any]]:
        """Diagnose one applied batch; the alerts it raises."""
        return self.batches([body])[0]

    def batches(self, bodies: list[bytes | memoryview]) -> list[list[dict[str, Any]]]:
        """Diagnose applied batches, in order, op by op as the store applied them; each batch's alerts.

        A trace's appends are one engine call until an op that ends or re-hints something. When there
        are several batches (the worker fell behind), all but the last are one pass (fewer, larger calls:
        the engine's verdicts do not depend on how the points are cut), settled once; the last batch then
        goes on its own and is settled, so a judgement that waited for a series of the same steps is made
        (Diagnoser.settle). An alert goes with the last batch that appended to the trace it came from."""
        found: list[tuple[int, Alert]] = []
        if len(bodies) > 1:
            found = self._diagnose(bodies[:-1], 0, found)
        found = self._diagnose(bodies[-1:], len(bodies) - 1, found)
        out: list[list[dict[str, Any]]] = [[] for _ in bodies]
        for j, a in found:
            out[j].append(a.to_dict())
        return out

    def _diagnose(
        self, bodies: list[bytes | memoryview], first: int, found: list[tuple[int, Alert]]
    ) -> list[tuple[int, Alert]]:
        """One pass over batches (numbered from `first`), then Diagnoser.settle(): `found` (the alerts so
        far, with their batch; those about what an op here ends are dropped) and the alerts the pass raises."""
        # trace -> its appends waiting: (batch, x dtype, x data, y dtype, y data), read at the trace's call
        waiting: dict[tuple[str, str, str], list[tuple[int, str, bytes, str, bytes]]] = {}
        engine, hints = self.engine, self.hints
        for i, body in enumerate(bodies, first):
            for op in protocol.unpackb(body)["ops"]:
                kind = op["op"]
                if kind not in FOLLOWED:
                    continue
                env = op["env"]
                opts = op.get("opts")
                hinted = bool(opts) and any(k in opts for k in HINTS)
                if kind == "line":  # the usual op: read as the store accepted it, not checked again
                    if op.get("update", "append") == "append" and not hinted:
                        x, y = op["x"], op["y"]  # kept as bytes: no array, no container held per op
                        points = (i, x["dtype"], x["data"], y["dtype"], y["data"])
                        waiting.setdefault((env, op["win"], op.get("name", "")), []).append(points)
                        continue
                    name, update, x, y = protocol.read_line(op)
                    key = None if update == "append" else ("trace", env, op["win"], name)
                elif kind == "opts" and not hinted:
                    continue
                else:
                    key = barrier(op)
                if waiting:
                    found += self._observe(waiting)
                if key is not None and found:  # an alert about what this op ends is dropped
                    found = [(j, a) for j, a in found if key not in ended_by(a.env, a.win, a.trace)]
                if kind == "delete_env":
                    engine.forget(env)
                    for k in [k for k in hints if k[0] == env]:
                        del hints[k]
                    continue
                win = op["win"]
                if kind == "close":
                    engine.forget(env, win)
                    hints.pop((env, win), None)
                    continue
                self._hints(env, win, opts)
                if kind == "opts":
                    continue
                if update != "append":
                    engine.forget(env, win, name)
                    if update == "remove":
                        continue
                found += [(i, a) for a in engine.observe(env, win, name, x, y, hints.get((env, win)))]
        if waiting:
            found += self._observe(waiting)
        return found + [(first + len(bodies) - 1, a) for a in engine.settle()]

    def _observe(
        self, waiting: dict[tuple[str, str, str], list[tuple[int, str, bytes, str, bytes]]]
    ) -> list[tuple[int, Alert]]:
        """Feed the engine the appends waiting, one call per trace (emptying `waiting`); the alerts, each
        with the batch that last appended to its trace."""
        found = []
        for (env, win, name), appends in waiting.items():
            x, y = protocol.read_joined(appends, 1), protocol.read_joined(appends, 3)
            alerts = self.engine.observe(env, win, name, x, y, self.hints.get((env, win)))
            found += [(appends[-1][0], a) for a in alerts]
        waiting.clear()
        return found

    def _hints(self, env: str, win: str, opts: dict[str, Any] | None) -> None:
        """Merge an op's role hints into its window's, as the store merges opts (None removes)."""
        if not opts or not any(k in opts for k in HINTS):
            return
        h = dict(self.hints.get((env, win), {}))
        for k in HINTS:
            if k in opts:
                if opts[k] is None:
                    h.pop(k, None)
                else:
                    h[k] = opts[k]
        if h:
            self.hints[(env, win)] = h
        else:
            self.hints.pop((env, win), None)


def main() -> None:
    logging.basicConfig(format="livepanel diagnosis worker: %(message)s")
    inp, out = sys.stdin.fileno(), os.dup(sys.stdout.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not corrupt the answers
    try:
        os.nice(NICE)
    except (AttributeError, OSError):  # not POSIX, or not allowed: the default priority
        pass
    buf = bytearray()
    worker: Worker | None = None
    ended = False
    while not ended:  # bounded by the input: it ends when the server closes it
        data = os.read(inp, 1 << 20)
        ended = not data
        buf += data
        # all that waits in the pipe (GROUP_BYTES at most) is diagnosed together: see Worker.batches
        while not ended and len(buf) < GROUP_BYTES and select.select([inp], [], [], 0)[0]:  # bounded by it
            data = os.read(inp, 1 << 20)
            ended = not data
            buf += data
        numbers, bodies = [], []
        for payload in frames(buf):
            if worker is None:
                start = msgpack.unpackb(payload, raw=False)
                worker = Worker(start["known"], start["hints"])
                continue
            numbers.append(NUMBER.unpack_from(payload)[0])
            bodies.append(memoryview(payload)[NUMBER.size :])
        if not bodies:
            continue
        try:
            answers = worker.batches(bodies)
        except Exception:  # a bug must not stop diagnosis of the batches after these
            log.exception("batches %d to %d could not be diagnosed", numbers[0], numbers[-1])
            answers = [[] for _ in bodies]
        data = b"".join(frame(msgpack.packb([n, a], use_bin_type=True)) for n, a in zip(numbers, answers, strict=True))
        while data:  # bounded: each write takes at least a byte
            data = data[os.write(out, data) :]


if __name__ == "__main__":
    main()
