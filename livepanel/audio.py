"""The audio window kind: a waveform per step, stored losslessly as a WAV file with its peaks beside it.

Samples keep their type: int16 and int32 become PCM WAV of 16 and 32 bits, floats become 32-bit float WAV
(IEEE format 3; float64 is rounded to float32, nothing else is changed: values beyond -1..1 are stored as
they are and clip only when played). FLAC was not chosen: it cannot hold float samples. The sender also
computes the min/max of each of PEAK_COLUMNS columns per channel, so the page draws the waveform at once
without downloading and decoding the file. The server reads sample rate, channels and length from the WAV
header itself (never from the writer's word) and keeps the steps like images (livepanel/stepmedia.py).

Shapes: N samples (mono), N x C or C x N with C = 1 or 2 (N x C when both dimensions could be channels).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from livepanel.protocol import ProtocolError

MAX_BYTES = 32 << 20  # one WAV file (livepanel/media.py MAX_BYTES)
MAX_RATE = 768_000
PEAK_COLUMNS = 1024  # peaks per channel (at most one per sample)
_TYPES = {"int16": (1, 16), "int32": (1, 32), "float32": (3, 32)}  # WAV format tag, bits per sample
_HEADER = 12 + 8 + 16 + 8 + 12  # RIFF, fmt, fact (float only), data


# ---------------------------------------------------------------- writer side (the client)


def samples(x: np.ndarray) -> np.ndarray:
    """The waveform checked and laid out as N x C (a copy the caller owns), in the dtype it is stored in.

    Raises ValueError or TypeError saying what is wrong; called in the logging call."""
    if x.dtype.kind == "b" or x.dtype.kind not in "iuf":
        raise TypeError(f"audio: samples must be float (-1..1), int16 or int32, got dtype {x.dtype}")
    if x.dtype.kind in "iu" and x.dtype not in (np.int16, np.int32):
        raise TypeError(
            f"audio: integer samples must be int16 or int32 (stored as 16- or 32-bit PCM), got {x.dtype}; "
            "convert them, e.g. x.astype(np.int16), or pass floats in -1..1"
        )
    if x.ndim == 1:
        x = x[:, None]
    elif x.ndim == 2:
        if x.shape[1] in (1, 2):
            pass
        elif x.shape[0] in (1, 2):
            x = x.T
        else:
            raise ValueError(f"audio: expected N samples, N x C or C x N with 1 or 2 channels, got shape {x.shape}")
    else:
        raise ValueError(f"audio: expected a 1-D or 2-D waveform (mono or stereo), got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError("audio: the waveform holds no samples")
    if x.dtype.kind == "f":
        if not np.isfinite(x).all():
            raise ValueError("audio: the waveform holds NaN or infinite samples")
        x = x.astype(np.float32)
    size = x.size * x.dtype.itemsize + _HEADER
    if size > MAX_BYTES:
        n, c = x.shape
        raise ValueError(f"audio: {n} samples x {c} channel(s) make a {size}-byte file; the limit is {MAX_BYTES}")
    return np.ascontiguousarray(x)


def check_rate(rate: Any) -> int:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or not 1 <= int(rate) <= MAX_RATE:
        raise ValueError(f"audio: sample_rate must be an integer from 1 to {MAX_RATE} (per second), got {rate!r}")
    return int(rate)


def wav(x: np.ndarray, rate: int) -> bytes:
    """A WAV file of N x C samples (int16, int32 or float32), bit for bit."""
    tag, bits = _TYPES[str(x.dtype)]
    channels, n = x.shape[1], x.shape[0]
    block = channels * bits // 8
    data = x.astype(x.dtype.newbyteorder("<"), copy=False).tobytes()
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    chunks = [b"fmt ", struct.pack("<I", len(fmt)), fmt]
    if tag == 3:  # a non-PCM format carries a fact chunk: the number of sample frames
        chunks += [b"fact", struct.pack("<II", 4, n)]
    chunks += [b"data", struct.pack("<I", len(data)), data]
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def peaks(x: np.ndarray, columns: int = PEAK_COLUMNS) -> np.ndarray:
    """Min and max of each column of samples, per channel, scaled to -1..1: shape (C, 2, columns), float32."""
    f = x.astype(np.float32)
    if x.dtype == np.int16:
        f /= 32768.0
    elif x.dtype == np.int32:
        f /= 2147483648.0
    n = f.shape[0]
    cols = min(columns, n)
    starts = (np.arange(cols, dtype=np.int64) * n) // cols
    lo, hi = np.minimum.reduceat(f, starts, axis=0), np.maximum.reduceat(f, starts, axis=0)
    return np.ascontiguousarray(np.stack([lo.T, hi.T], axis=1), dtype=np.float32)


# ---------------------------------------------------------------- reading a WAV file


def info(data: bytes) -> dict[str, Any]:
    """sample_rate, channels, samples and dtype of a WAV file as `wav` writes it; ValueError if it is not one.

    Also returns `offset`, where the samples start."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a WAV file (no RIFF/WAVE header)")
    pos, fmt = 12, None
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if cid == b"fmt ":
            if size < 16:
                raise ValueError("WAV fmt chunk is too short")
            fmt = struct.unpack_from("<HHIIHH", data, body)
        elif cid == b"data":
            if fmt is None:
                raise ValueError("WAV data chunk comes before its fmt chunk")
            tag, channels, rate, _, block, bits = fmt
            dtype = {(1, 16): "int16", (1, 32): "int32", (3, 32): "float32"}.get((tag, bits))
            if dtype is None:
                raise ValueError(f"WAV samples of format {tag} with {bits} bits are not 16/32-bit PCM or 32-bit float")
            if not 1 <= channels <= 2 or block != channels * bits // 8 or not 1 <= rate <= MAX_RATE:
                raise ValueError(f"WAV header is inconsistent ({channels} channels, {rate} Hz, block {block})")
            if size == 0 or size % block or body + size > len(data):
                raise ValueError(f"WAV data chunk of {size} bytes does not hold whole sample frames")
            return {"sample_rate": rate, "channels": channels, "samples": size // block, "dtype": dtype, "offset": body}
        pos = body + size + (size & 1)
    raise ValueError("WAV file has no data chunk")


def read(data: bytes) -> tuple[np.ndarray, int]:
    """The samples (N x C, in the stored dtype) and sample rate of a WAV file that `wav` wrote."""
    meta = info(data)
    n, c = meta["samples"], meta["channels"]
    x = np.frombuffer(data, np.dtype(meta["dtype"]).newbyteorder("<"), n * c, meta["offset"])
    return x.reshape(n, c), meta["sample_rate"]


# ---------------------------------------------------------------- server side: the op


def check_op(op: dict, out: dict) -> None:
    """`format` (wav), `data` (the WAV file) and `peaks` of an audio op; fields read from the file go to `out`."""
    from livepanel.protocol import decode_array, quote

    if op.get("format", "wav") != "wav":
        raise ProtocolError(f"audio format must be wav, got {quote(op.get('format'))}")
    data = op.get("data")
    if not isinstance(data, bytes) or not data:
        raise ProtocolError("audio data must be non-empty binary (a WAV file's bytes)")
    if len(data) > MAX_BYTES:
        raise ProtocolError(f"audio data is {len(data)} bytes; the limit is {MAX_BYTES}")
    try:
        meta = info(data)
    except (ValueError, struct.error) as exc:
        raise ProtocolError(f"audio data: {exc}") from None
    p = decode_array(op.get("peaks"), "audio peaks")
    if p.dtype != np.float32 or p.ndim != 3 or p.shape[:2] != (meta["channels"], 2) or not 1 <= p.shape[2] <= 4096:
        want = f"({meta['channels']}, 2, columns)"
        raise ProtocolError(f"audio peaks must be float32 of shape {want}, got {p.dtype} {list(p.shape)}")
    if not np.isfinite(p).all():
        raise ProtocolError("audio peaks must be finite")
    del meta["offset"]
    out.update(format="wav", data=data, peaks=p, **meta)
