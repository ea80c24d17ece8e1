"""HTTP handlers: the read API, export, and the page (ingest is in ingest.py). Each gets only what it needs."""

from __future__ import annotations

import json
import math
import urllib.parse
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import tornado.web

from livepanel import __version__, protocol
from livepanel.protocol import quote
from livepanel.server import auth, export
from livepanel.server.auth import COOKIE, Guard, clip
from livepanel.server.store import Store, window_state

if TYPE_CHECKING:
    from livepanel.server.diagnosis import Diagnosis
    from livepanel.server.store.model import Window

STATIC = Path(__file__).resolve().parent.parent / "static"


class Secured:
    """The security headers on every answer of a handler (auth.secure); `page` for the app's own files."""

    page = False

    def set_default_headers(self) -> None:
        auth.secure(self, getattr(self, "guard", None), self.page)  # type: ignore[arg-type]

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        auth.log_exception(self.request, typ, value, tb)  # type: ignore[attr-defined]


class BaseHandler(Secured, tornado.web.RequestHandler):
    """Common checks and answers: the guard first, errors as JSON {"error": ...}."""

    def initialize(self, guard: Guard, **kwargs: Any) -> None:
        self.guard = guard
        for key, value in kwargs.items():
            setattr(self, key, value)
        if self.page:
            self.set_default_headers()  # again, with the guard: the page's policy names who may frame it

    def prepare(self) -> Awaitable[None] | None:
        refused = self.guard.refuse(self)
        if refused is not None:
            self.fail(*refused)
        store = getattr(self, "store", None)
        if store is not None and store.shared and self.request.method in ("GET", "HEAD"):
            env = self.get_query_argument("env", None)  # a cluster node reads what the others committed too
            return store.fresh([env] if env else None)  # Tornado awaits it before the method
        return None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        message = self._reason
        exc = kwargs.get("exc_info", (None, None))[1]
        if isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        body: dict[str, Any] = {"error": clip(message)}
        if getattr(exc, "op", None) is not None:
            body["op"] = exc.op
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def fail(self, status: int, message: str, op: int | None = None) -> NoReturn:
        error = tornado.web.HTTPError(status, "%s", message, reason=_reason(status))
        error.op = op  # the refused operation of a batch, for the client (docs/protocol.md, "Errors")
        raise error

    def send(self, obj: Any) -> None:
        """Answer msgpack, or JSON for humans with ?format=json."""
        if self.get_query_argument("format", None) == "json":
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(to_json(obj), allow_nan=False))
        else:
            self.set_header("Content-Type", "application/msgpack")
            self.finish(protocol.packb(obj))

    def arg(self, name: str, parse: Any = str, default: Any = None) -> Any:
        value = self.get_query_argument(name, None)
        if value is None or value == "":
            return default
        try:
            return parse(value)
        except ValueError:
            self.fail(400, f"query argument {name}={quote(value)} is not a valid {parse.__name__}")


def _reason(status: int) -> str:
    return {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        413: "Payload Too Large",
        415: "Unsupported Media Type",
        503: "Service Unavailable",
    }.get(status, "Error")


def to_json(obj: Any) -> Any:
    """Arrays to lists, NaN and Inf to null, binary left out."""
    if isinstance(obj, dict):
        return {k: to_json(v) for k, v in obj.items() if not isinstance(v, (bytes, memoryview))}
    if isinstance(obj, (list, tuple)):
        return [to_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind == "f":
            return [to_json(v) for v in obj.tolist()]
        return obj.tolist()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, np.generic):
        return to_json(obj.item())
    return obj


class EnvsHandler(BaseHandler):
    store: Store

    def get(self) -> None:
        envs = [
            {
                "name": e.name,
                "seq": e.seq,
                "windows": [
                    {"win": w.win, "kind": w.kind, "title": w.opts.get("title", w.win)} for w in e.windows.values()
                ],
            }
            for e in self.store.state.envs.values()
        ]
        self.send({"store": self.store.store_id, "envs": envs})


class AlertsHandler(BaseHandler):
    """GET /api/v1/alerts[?env=E]: the training problems found, oldest first.

    With ?client=ID[&wait=S]: once diagnosis has judged every batch of that client committed so far, the
    alerts those batches raised that no acknowledgement carried yet (each goes to its writer once)."""

    store: Store
    diagnosis: Diagnosis | None

    async def get(self) -> None:
        client = self.arg("client")
        if client is not None:
            wait = self.arg("wait", float, 10.0)
            if not 0 <= wait <= 60:
                self.fail(400, f"wait must be a number of seconds from 0 to 60, got {wait}")
            judged = await self.diagnosis.judged(client, wait) if self.diagnosis is not None else []
            self.send({"alerts": judged})
            return
        env = self.arg("env")
        envs = self.store.state.envs
        if env is not None and env not in envs:
            self.fail(404, f"no env {quote(env)}")
        chosen = [envs[env]] if env is not None else list(envs.values())
        self.send({"alerts": [a for e in chosen for a in e.alerts]})


class ClientHandler(BaseHandler):
    """GET /api/v1/clients?client=ID: the highest batch seq committed for a client id (0 if none).

    Lets a client that numbers its batches from its own records (the TensorBoard importer) know
    where to resume without sending anything.
    """

    store: Store

    async def get(self) -> None:
        client = self.arg("client")
        if client is None:
            self.fail(400, "name the client with ?client=ID")
        self.send({"client": client, "seq": await self.store.client_seq(client)})


class WindowMixin(BaseHandler):
    store: Store

    def window(self):
        env, win = self.arg("env"), self.arg("win")
        if env is None or win is None:
            self.fail(400, "name the window with ?env=ENV&win=WIN")
        w = self.store.state.window(env, win)
        if w is None:
            self.fail(404, f"no window {quote(win)} in env {quote(env)}")
        return env, w

    def step_entry(self, kind: str, holds: str) -> tuple[str, Window, int, dict[str, Any]]:
        """The window named by ?env=&win=, of `kind` and keeping one entry per step, and the entry of the step
        asked for (`step=`, the latest by default): 404 when it holds none or not that step."""
        env, w = self.window()
        if w.kind != kind:
            self.fail(404, f"window {w.win!r} holds no {holds}")
        step, entry = self.entry_at_step(w, holds)
        return env, w, step, entry

    def entry_at_step(self, w: Window, holds: str) -> tuple[int, dict[str, Any]]:
        """The entry of the step asked for (`step=`, the latest by default) of a window keeping one per step."""
        if not w.steps:
            self.fail(404, f"window {w.win!r} holds no {holds}")
        step = self.arg("step", int, w.last_step())
        entry = w.steps.get(step)
        if entry is None:
            self.fail(404, f"window {w.win!r} has no step {step} (it has {len(w.steps)} step(s))")
        return step, entry


class WindowHandler(WindowMixin):
    def get(self) -> None:
        _, w = self.window()
        width = self.arg("width", int)
        if width is not None and not 1 <= width <= 100_000:
            self.fail(400, f"width must be between 1 and 100000 pixels, got {width}")
        full = self.arg("full", str, "0") in ("1", "true", "yes")
        self.send(window_state(w, width, self.arg("x0", float), self.arg("x1", float), full=full))


class ImageHandler(WindowMixin):
    def get(self) -> None:
        _, w, step, entry = self.step_entry("image", "images")
        index = self.arg("i", int, 0)
        if not 0 <= index < len(entry["images"]):
            self.fail(404, f"step {step} of window {w.win!r} has {len(entry['images'])} image(s), not {index + 1}")
        image = entry["images"][index]
        self.set_header("Content-Type", f"image/{image['format']}")
        self.set_header("Cache-Control", "private, max-age=3600")
        self.finish(image["data"])


class ExportHandler(WindowMixin):
    def get(self) -> None:
        env, w = self.window()
        fmt = self.arg("format", str, "csv")
        if fmt not in ("csv", "json"):
            self.fail(400, f"format must be csv or json, got {quote(fmt)}")
        name = urllib.parse.quote(f"{env}-{w.win}".replace("/", "_"))
        if fmt == "json":
            state = window_state(w, full=w.kind == "embedding")  # an embedding's points, features too
            if w.kind == "embedding":  # not its thumbnails (bytes)
                state["steps"] = [{k: v for k, v in st.items() if k != "thumbs"} for st in state["steps"]]
            body, ctype = json.dumps(to_json(state), allow_nan=False), "application/json"
        else:
            body, ctype = export.to_csv(w), "text/csv; charset=utf-8"
            if body is None:
                self.fail(400, f"{w.kind} windows export as JSON only")
        self.set_header("Content-Type", ctype)
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{name}.{fmt}")
        self.finish(body)


class HealthHandler(Secured, tornado.web.RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"ok": True, "version": __version__}))


class PageHandler(BaseHandler):
    """The app page; a ?token= becomes a cookie, then the URL is cleaned. The only route that takes ?token=."""

    page = True

    def prepare(self) -> None:
        refused = self.guard.refuse(self, page=True)
        if refused is not None:
            self.fail(*refused)

    def get(self) -> None:
        token = self.get_query_argument("token", None)
        if token is not None and self.guard.matches(token):
            # No Path and a relative redirect: behind a proxy that strips a prefix (/livepanel/ -> /), the
            # browser's own default path (the page's directory, /livepanel) keeps the cookie to this app, and
            # "./" stays under the prefix, where an absolute "/" would leave it (docs/deploy.md).
            self.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path=None)  # type: ignore[arg-type]
            query = [(k, v) for k, vs in self.request.query_arguments.items() if k != "token" for v in vs]
            rest = urllib.parse.urlencode([(k, v.decode()) for k, v in query])
            self.redirect("./" + ("?" + rest if rest else ""))
            return
        index = STATIC / "index.html"
        self.set_header("Cache-Control", "no-cache")
        if not index.exists():
            self.set_status(503)
            self.finish(
                "<!doctype html><p>The livepanel browser app is not built. Run: pip install -e . (needs npm)</p>"
            )
            return
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(index.read_bytes())


class NotFoundHandler(BaseHandler):
    """Unknown paths: a JSON 404 that says which path, like every other error."""

    def prepare(self) -> None:
        self.fail(404, f"no such path {quote(self.request.path)}; the API lives under /api/v1/ (see docs/protocol.md)")


class StaticHandler(Secured, tornado.web.StaticFileHandler):
    """The app's script (and its page), with the page's headers."""

    page = True

    def initialize(self, guard: Guard, **kwargs: Any) -> None:  # type: ignore[override]
        self.guard = guard
        super().initialize(**kwargs)
        self.set_default_headers()


class RedirectHandler(Secured, tornado.web.RedirectHandler):
    """BASE to BASE/ under --base-url."""
