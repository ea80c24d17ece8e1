"""Audio and video steps in the store: what a step keeps, what viewers get, and which old steps go.

An audio or video window keeps a history by step, like an image window (a step sent again replaces that
step). Each step holds one file (WAV, livepanel/audio.py; MP4, livepanel/video.py) and what describes it.
Viewers get the description and the file's size in messages and snapshots; the page loads the bytes from
`/api/v1/media?env=&win=&step=` (livepanel/server/media_route.py). The oldest steps are dropped past
`Limits.max_media_steps` steps or `Limits.max_media_bytes` bytes of files per window (the newest step is
always kept).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

KINDS = ("audio", "video")
FIELDS = {
    "audio": ("format", "data", "peaks", "sample_rate", "channels", "samples", "dtype"),
    "video": ("format", "data", "fps", "frames", "width", "height", "coded_width", "coded_height"),
}
CONTENT_TYPES = {"wav": "audio/wav", "mp4": "video/mp4"}


def entry(kind: str, op: dict, step: int, t: float) -> dict[str, Any]:
    """What the store keeps of one step."""
    out: dict[str, Any] = {"step": step, "t": t}
    out.update((k, op[k]) for k in FIELDS[kind])
    out["size"] = len(op["data"])
    return out


def public(entry: dict[str, Any], full: bool = False) -> dict[str, Any]:
    """A step as viewers get it: without the file's bytes unless `full`."""
    return entry if full else {k: v for k, v in entry.items() if k != "data"}


def to_drop(steps: OrderedDict[int, dict], max_steps: int, max_bytes: int) -> list[int]:
    """The oldest steps to drop so that at most max_steps steps and max_bytes bytes stay (never the newest)."""
    total = sum(e["size"] for e in steps.values())
    out, n = [], len(steps)
    for step, e in steps.items():
        if n <= 1 or (n <= max_steps and total <= max_bytes):
            break
        out.append(step)
        total -= e["size"]
        n -= 1
    return out
