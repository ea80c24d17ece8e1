"""panel.audio and panel.video: what the logging call costs, and what the sender spends encoding (by hand).

    python benchmarks/bench_media.py [--repeat 7]

Starts its own `livepanel serve` (SQLite store) on a free loopback port and prints one JSON line per
figure: {"figure", "unit", "median", "min", "max", "runs", ...}.

- video_call_ms: one panel.video call of 64 frames of 128 x 128 x 3 (uint8, smooth moving content);
  the call checks and copies, the sender encodes. Target: returns at once (well under a training step).
- video_encode_ms: the sender's H.264 encoding of that clip (livepanel.video.encode), and its size.
- video_stored_ms: from the call to the clip acknowledged by the server (flush).
- audio_call_ms: one panel.audio call of 1 s of 16 kHz float mono; audio_stored_ms: to its acknowledgement.
"""

from __future__ import annotations

import argparse
import statistics
import time

import common
import numpy as np

from livepanel import Panel, video


def clip() -> np.ndarray:
    t, y, x = np.meshgrid(np.arange(64), np.arange(128), np.arange(128), indexing="ij")
    frames = np.stack([np.sin((x + 2 * t) / 9), np.cos((y - t) / 7), np.sin((x + y + 3 * t) / 13)], axis=-1)
    return ((frames + 1) * 127.5).astype(np.uint8)


def report(figure: str, values: list[float], unit: str = "ms", **extra) -> None:
    line = {"figure": figure, "unit": unit, "median": round(statistics.median(values), 3)}
    line.update(min=round(min(values), 3), max=round(max(values), 3), runs=len(values), **extra)
    common.emit(**line)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    frames = clip()
    sound = np.sin(np.linspace(0, 2000, 16000)).astype(np.float32)
    calls, stored, encodes, acalls, astored = [], [], [], [], []
    size = 0
    for _ in range(args.repeat):
        start = time.perf_counter()
        size = len(video.encode(frames, 25)["data"])
        encodes.append(1000 * (time.perf_counter() - start))
    with common.server() as srv, Panel(srv.url, env="bench", spool_dir=srv.data_dir.parent / "spool") as panel:
        for i in range(args.repeat):
            start = time.perf_counter()
            panel.video(frames, fps=25, win="clip", step=i)
            calls.append(1000 * (time.perf_counter() - start))
            assert panel.flush(60)
            stored.append(1000 * (time.perf_counter() - start))
            start = time.perf_counter()
            panel.audio(sound, 16000, win="sound", step=i)
            acalls.append(1000 * (time.perf_counter() - start))
            assert panel.flush(60)
            astored.append(1000 * (time.perf_counter() - start))
    report("video_call_ms", calls, frames="64x128x128x3")
    report("video_encode_ms", encodes, bytes=size)
    report("video_stored_ms", stored)
    report("audio_call_ms", acalls, samples=16000)
    report("audio_stored_ms", astored)


if __name__ == "__main__":
    main()
