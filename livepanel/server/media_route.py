"""`GET /api/v1/media?env=&win=`: a media window's bytes (audio, video, svg), with the format's type.

Read like images: the page's <audio> and <video> elements load from here (so a window's update message
stays small), and the SVG view fetches the text to sanitize it before showing it. An SVG opened directly
is sandboxed by its Content-Security-Policy (no script runs, nothing loads from elsewhere).
"""

from __future__ import annotations

from livepanel.media import FORMATS
from livepanel.server.handlers import WindowMixin


class MediaHandler(WindowMixin):
    def get(self) -> None:
        _, w = self.window()
        if w.kind != "media" or not w.content.get("data"):
            self.fail(404, f"window {w.win!r} holds no audio, video or svg")
        fmt = w.content["format"]
        self.set_header("Content-Type", FORMATS[fmt])
        self.set_header("Cache-Control", "private, no-cache")
        if fmt == "svg":
            self.set_header("Content-Security-Policy", "sandbox; default-src 'none'; style-src 'unsafe-inline'")
        self.finish(w.content["data"])
