"""The video window kind: a clip per step, encoded by the writer as H.264 in MP4.

H.264 (yuv420p, High profile) in MP4 with its index at the front (`+faststart`, so playback starts before
the whole file arrived) is the one format that Chromium, Firefox, Safari and Edge all play; VP9 in WebM
does not play in older Safari. The encoder is PyAV's libx264 (the `video` extra: `pip install
livepanel[video]`), run on the Panel's sender thread, so the logging call only checks and copies the
frames. 4:2:0 needs an even width and height: an odd one gets one more column or row that repeats the
edge (`width` and `height` say the clip's own size; the file's is `coded_width` x `coded_height`).

Shapes: T x H x W (gray), T x H x W x C or T x C x H x W with C = 1 or 3 (the last dimension is taken as
C when it can be). uint8 as it is; floats are 0..1 (clipped, NaN refused); other integers must be 0..255.
"""

from __future__ import annotations

import math
import os
import tempfile
from fractions import Fraction
from typing import Any

import numpy as np

from livepanel.protocol import ProtocolError

MAX_BYTES = 32 << 20  # one encoded clip (livepanel/media.py MAX_BYTES)
MAX_SIDE = 4096  # what browsers' H.264 decoders take
MAX_FRAMES = 100_000
MAX_RAW = 1 << 30  # bytes of frames copied in one call
MAX_FPS = 1000
CRF = 18  # x264 quality: about visually lossless
PRESET = "veryfast"  # the sender's time matters more than a few percent of size


# ---------------------------------------------------------------- writer side (the client)


def require_av() -> Any:
    try:
        import av  # type: ignore[import-not-found]
    except ImportError:
        raise ImportError(
            "panel.video encodes H.264 with PyAV, which is not installed: "
            "pip install 'livepanel[video]' (or pip install av)"
        ) from None
    return av


def frames(x: np.ndarray) -> np.ndarray:
    """The clip checked and laid out as T x H x W x C (C = 1 or 3), still in its own dtype; raises saying why."""
    if x.dtype.kind == "b" or x.dtype.kind not in "iuf":
        raise TypeError(f"video: frames must be uint8 or float 0..1, got dtype {x.dtype}")
    if x.ndim == 3:
        x = x[..., None]
    elif x.ndim == 4:
        if x.shape[3] not in (1, 3):
            if x.shape[1] not in (1, 3):
                raise ValueError(
                    f"video: expected T x H x W x C or T x C x H x W with C = 1 or 3 channels, got shape {x.shape}"
                )
            x = x.transpose(0, 2, 3, 1)
    else:
        raise ValueError(f"video: expected T x H x W (x C) frames, got shape {x.shape}")
    t, h, w, _ = x.shape
    if t == 0:
        raise ValueError("video: the clip holds no frames")
    if t > MAX_FRAMES:
        raise ValueError(f"video: {t} frames; the limit is {MAX_FRAMES}")
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise ValueError(f"video: frames of {h} x {w} pixels; each side must be 1 to {MAX_SIDE}")
    if x.nbytes > MAX_RAW:
        raise ValueError(f"video: the frames take {x.nbytes} bytes; the limit is {MAX_RAW}")
    if x.dtype.kind == "f":
        if np.isnan(x).any():
            raise ValueError("video: the frames hold NaN values")
    elif x.dtype != np.uint8:
        lo, hi = int(x.min()), int(x.max())
        if lo < 0 or hi > 255:
            raise ValueError(f"video: integer frames must be 0..255, got values from {lo} to {hi}")
    return x


def check_fps(fps: Any) -> float:
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)):
        raise TypeError(f"video: fps must be a number of frames per second, got {fps!r}")
    if not (math.isfinite(fps) and 0 < fps <= MAX_FPS):
        raise ValueError(f"video: fps must be above 0 and at most {MAX_FPS}, got {fps!r}")
    return float(fps)


def encode(x: np.ndarray, fps: float) -> dict[str, Any]:
    """An MP4 (H.264, yuv420p, +faststart) of T x H x W x C frames; the op's fields. Runs on the sender."""
    av = require_av()
    if x.dtype.kind == "f":
        x = np.rint(np.clip(x, 0, 1) * 255)
    x = x.astype(np.uint8, copy=False)
    t, h, w, c = x.shape
    ph, pw = h % 2, w % 2
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")
    fd, path = tempfile.mkstemp(suffix=".mp4", prefix="livepanel-")
    os.close(fd)
    try:
        # faststart moves the index to the front in a second pass that reopens the file: a file, not BytesIO
        container = av.open(path, "w", "mp4", options={"movflags": "+faststart"})
        try:
            rate = Fraction(fps).limit_denominator(1001)
            stream = container.add_stream("libx264", rate=rate, options={"crf": str(CRF), "preset": PRESET})
            stream.width, stream.height, stream.pix_fmt = w + pw, h + ph, "yuv420p"
            fmt = "gray" if c == 1 else "rgb24"
            for frame in x:
                img = av.VideoFrame.from_ndarray(frame[..., 0] if c == 1 else frame, format=fmt)
                container.mux(stream.encode(img))
            container.mux(stream.encode())
        finally:
            container.close()
        with open(path, "rb") as f:
            data = f.read()
    finally:
        os.unlink(path)
    if len(data) > MAX_BYTES:
        raise ValueError(f"video: the encoded clip is {len(data)} bytes; the limit is {MAX_BYTES}")
    return {
        "format": "mp4",
        "data": data,
        "fps": fps,
        "frames": t,
        "width": w,
        "height": h,
        "coded_width": w + pw,
        "coded_height": h + ph,
    }


# ---------------------------------------------------------------- server side: the op


def check_op(op: dict, out: dict) -> None:
    """`format` (mp4), `data` (the file), `fps`, `frames`, and the clip's sizes."""
    from livepanel.protocol import check_int, quote

    if op.get("format") != "mp4":
        raise ProtocolError(f"video format must be mp4, got {quote(op.get('format'))}")
    data = op.get("data")
    if not isinstance(data, bytes) or len(data) < 12:
        raise ProtocolError("video data must be binary (an MP4 file's bytes)")
    if len(data) > MAX_BYTES:
        raise ProtocolError(f"video data is {len(data)} bytes; the limit is {MAX_BYTES}")
    if data[4:8] != b"ftyp":
        raise ProtocolError("video data is not an MP4 file (no ftyp box at its start)")
    fps = op.get("fps")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not (math.isfinite(fps) and 0 < fps <= MAX_FPS):
        raise ProtocolError(f"video fps must be a number above 0 and at most {MAX_FPS}, got {quote(fps)}")
    out.update(format="mp4", data=data, fps=float(fps))
    out["frames"] = check_int(op.get("frames"), "video frames", 1, MAX_FRAMES)
    for key in ("width", "height", "coded_width", "coded_height"):
        out[key] = check_int(op.get(key), f"video {key}", 1, MAX_SIDE + 1)
