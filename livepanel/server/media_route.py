"""`GET /api/v1/media?env=&win=[&step=]`: a window's audio, video or svg file, with the format's type.

Read like images: the page's <audio> and <video> elements load from here (so a window's update message
stays small), and the SVG view fetches the text to sanitize it before showing it. An SVG opened directly
is sandboxed by its Content-Security-Policy (no script runs, nothing loads from elsewhere).

A `media` window (Visdom's calls) holds one file; an `audio` or `video` window one per step: `step=`
picks it (the latest by default). Single byte ranges are served (206), because a browser seeks in a
video or audio element only in a file whose server answers ranges.
"""

from __future__ import annotations

import re

from livepanel import clips
from livepanel.media import FORMATS
from livepanel.server.handlers import WindowMixin

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class MediaHandler(WindowMixin):
    def get(self) -> None:
        _, w = self.window()
        if w.kind in clips.KINDS:
            _, entry = self.entry_at_step(w, f"{w.kind} yet")
            data, ctype = entry["data"], clips.CONTENT_TYPES[entry["format"]]
        elif w.kind == "media" and w.content.get("data"):
            fmt = w.content["format"]
            data, ctype = w.content["data"], FORMATS[fmt]
            if fmt == "svg":
                self.set_header("Content-Security-Policy", "sandbox; default-src 'none'; style-src 'unsafe-inline'")
        else:
            self.fail(404, f"window {w.win!r} holds no audio, video or svg")
        self.set_header("Content-Type", ctype)
        self.set_header("Cache-Control", "private, no-cache")
        self.set_header("Accept-Ranges", "bytes")
        self._send(data)

    def _send(self, data: bytes) -> None:
        """The file, or the one byte range asked for (206; 416 when it lies outside the file)."""
        asked = self.request.headers.get("Range")
        found = _RANGE.fullmatch(asked.strip()) if asked else None
        if found is None or found.group(1) == found.group(2) == "":
            self.finish(data)
            return
        size = len(data)
        first, last = found.group(1), found.group(2)
        if first == "":  # the last N bytes
            start, end = max(0, size - int(last)), size - 1
        else:
            start, end = int(first), size - 1 if last == "" else min(int(last), size - 1)
        if start >= size or start > end:
            self.set_status(416)
            self.set_header("Content-Range", f"bytes */{size}")
            self.finish()
            return
        self.set_status(206)
        self.set_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.finish(data[start : end + 1])
