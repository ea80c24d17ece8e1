"""The media window kind: audio, video or an SVG drawing, stored as the bytes the writer sent.

A media op carries `format` (a key of FORMATS) and `data` (the file's bytes, at most MAX_BYTES). The
store keeps one per window (a new one replaces it); viewers get the format and size, and load the bytes
from `/api/v1/media` (served with the format's Content-Type), like images. The page shows audio and video
with the browser's own controls and an SVG only after sanitizing it (frontend/src/views/media.ts).
"""

from __future__ import annotations

from typing import Any

from livepanel.protocol import ProtocolError, quote

FORMATS = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "ogv": "video/ogg",
    "svg": "image/svg+xml",
}
MAX_BYTES = 32 << 20  # one media file


def check_op(op: dict, out: dict) -> None:
    """`format` and `data` of a media op."""
    fmt = op.get("format")
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise ProtocolError(f"media format must be one of {', '.join(FORMATS)}, got {quote(fmt)}")
    data = op.get("data")
    if not isinstance(data, bytes) or not data:
        raise ProtocolError("media data must be non-empty binary (the file's bytes)")
    if len(data) > MAX_BYTES:
        raise ProtocolError(f"media data is {len(data)} bytes; the limit is {MAX_BYTES}")
    if fmt == "svg":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("media svg data must be UTF-8 text") from None
    out["format"], out["data"] = fmt, data


def content(op: dict) -> dict[str, Any]:
    """What the store keeps of a media op."""
    return {"format": op["format"], "data": op["data"], "size": len(op["data"])}


def public(content: dict[str, Any], full: bool = False) -> dict[str, Any]:
    """A media window's content for viewers: format and size (and the bytes when `full`)."""
    out = {"format": content.get("format"), "size": content.get("size", 0)}
    if full:
        out["data"] = content.get("data", b"")
    return out
