"""HTTP handlers: ingest, the read API, export, and the page. Each gets only what it needs."""

from __future__ import annotations

import json
import logging
import math
import re
import time
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import tornado.web
from tornado.ioloop import IOLoop

from livepanel import __version__, protocol
from livepanel.protocol import quote
from livepanel.server import auth, export
from livepanel.server.auth import COOKIE, Guard, clip
from livepanel.server.store import Store, StoreError, window_state

if TYPE_CHECKING:
    from livepanel.server.diagnosis import Diagnosis

STATIC = Path(__file__).resolve().parent.parent / "static"
log = logging.getLogger("livepanel.server")
CHUNKED_LIMIT = 1 << 30  # bodies past this are cut off rather than read to say 413
MSGPACK = "application/msgpack"
_LENGTH = re.compile(r"[0-9]{1,18}")


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

    def prepare(self) -> None:
        refused = self.guard.refuse(self)
        if refused is not None:
            self.fail(*refused)

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


class Pending:
    """Ingest bodies still arriving, all connections of one server together: their bytes (--max-pending)
    and their time (--body-timeout).

    A body with a declared length reserves it before any of it is read, so headers alone hold nothing
    and the total never passes the limit; a chunked body reserves its chunks as they come. One body is
    always let in when nothing else is pending, so a limit below --max-payload still takes the largest.

    A body that takes longer than the timeout has its connection closed. Tornado's own body_timeout
    (which the other routes keep) costs every request a timer, about 5% of the CPU of a small ingest;
    here one sweep every few seconds looks at the bodies arriving, oldest first.
    """

    def __init__(self, limit: int, timeout: float):
        self.limit = limit
        self.held = 0
        self.timeout = timeout
        self._arriving: dict[IngestHandler, float] = {}  # by when each began: oldest first
        self._sweep_scheduled = False

    def arriving(self, handler: IngestHandler, began: float) -> None:
        self._arriving[handler] = began
        if not self._sweep_scheduled:
            self._schedule()

    def arrived(self, handler: IngestHandler) -> None:
        self._arriving.pop(handler, None)

    def _schedule(self) -> None:
        self._sweep_scheduled = True
        IOLoop.current().call_later(min(max(self.timeout / 4, 0.05), 5.0), self._sweep)

    def _sweep(self) -> None:
        late = time.monotonic() - self.timeout
        while self._arriving:
            handler, began = next(iter(self._arriving.items()))
            if began > late:
                break
            del self._arriving[handler]
            handler.too_slow()
        self._sweep_scheduled = False
        if self._arriving:
            self._schedule()

    def take(self, n: int, own: int = 0) -> bool:
        """Reserve n more bytes for a body that holds `own` already."""
        if self.held > own and self.held + n > self.limit:
            return False
        self.held += n
        return True

    def give(self, n: int) -> None:
        self.held -= n


def declared_length(headers: Any) -> int | None:
    """The Content-Length of a request (None without one); ValueError naming what is wrong with it."""
    value = headers.get("Content-Length")  # several are joined with commas
    if (
        value is not None
        and value.isdigit()
        and value.isascii()
        and len(value) <= 18
        and "Transfer-Encoding" not in headers
    ):
        return int(value)  # the usual case, quickly
    values = headers.get_list("Content-Length")
    if not values:
        return None
    if "Transfer-Encoding" in headers:
        raise ValueError("a request with both Transfer-Encoding and Content-Length is ambiguous; send one of them")
    parts = [v.strip() for value in values for v in value.split(",")]
    if not all(_LENGTH.fullmatch(v) for v in parts):
        raise ValueError(f"Content-Length {quote(', '.join(values))} is not a number of bytes")
    if len(set(map(int, parts))) > 1:
        raise ValueError(f"Content-Length is given twice with different values ({quote(', '.join(values))})")
    return int(parts[0])


@tornado.web.stream_request_body
class IngestHandler(BaseHandler):
    """POST /api/v1/ingest: a msgpack batch, acknowledged once committed.

    Nothing is allocated before bytes arrive: a single chunk (most batches) is the body as it came, a
    longer body grows as it arrives. Only msgpack is taken (no web page can send that type to us).
    """

    store: Store
    diagnosis: Diagnosis | None
    max_payload: int
    pending: Pending

    def prepare(self) -> None:
        self._reserved = 0
        self._complete = False
        # Until the checks below pass, Tornado's own check of the length must not fail after a refusal
        # here (it would send a bare 400 after ours): a refused body is left unread, the connection closed.
        self.request.connection.set_max_body_size(1 << 62)
        self.request.connection.set_body_timeout(None)  # type: ignore[arg-type]  # Pending times bodies out
        super().prepare()
        self._arrived = time.monotonic()  # its headers came
        self._body: bytes | bytearray = b""
        self._size = 0
        self._too_big = self._busy = False
        media = self.request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if media != MSGPACK:
            self.fail(
                415,
                f"send the batch as 'Content-Type: {MSGPACK}', not {quote(media or 'none')} (the server takes no "
                "other type, so that no web page can write to it)",
            )
        try:
            length = declared_length(self.request.headers)
        except ValueError as exc:
            self.fail(400, str(exc))
        self._declared = length is not None
        if length is not None and length > self.max_payload:
            self._too_big = True
            if length > CHUNKED_LIMIT:
                self.fail(413, f"body of {length} bytes is larger than the limit of {self.max_payload}")
        elif length and not self._reserve(length):
            self._refuse_busy(length)
        # Read up to the declared length (discarding what is past the limit) so the 413 reaches the client.
        self.request.connection.set_max_body_size(max(length, self.max_payload) if length else CHUNKED_LIMIT)
        self.pending.arriving(self, self._arrived)

    def _reserve(self, n: int) -> bool:
        if not self.pending.take(n, self._reserved):
            return False
        self._reserved += n
        return True

    def _give_back(self) -> None:
        reserved, self._reserved = getattr(self, "_reserved", 0), 0
        if reserved:
            self.pending.give(reserved)

    def _release(self) -> None:
        self.pending.arrived(self)
        self._give_back()

    def too_slow(self) -> None:
        """Its body took longer than --body-timeout: the connection is closed (as Tornado's timeout does)."""
        log.info(
            "%s took more than %g s to send its body; connection closed",
            auth.summary(self.request),
            self.pending.timeout,
        )
        self.request.connection.close()

    def _refuse_busy(self, size: int) -> NoReturn:
        self._release()
        self.fail(
            503,
            f"the server is receiving {self.pending.held} bytes of other request bodies, and {size} more would "
            f"pass its limit (--max-pending {self.pending.limit}); send again in a moment",
        )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if not getattr(self, "_complete", False):  # refused before its body was read: Tornado closes after
            self.set_header("Connection", "close")  # this answer, and says so, so a client does not reuse it
        super().write_error(status_code, **kwargs)

    def on_finish(self) -> None:
        self._release()

    def on_connection_close(self) -> None:
        self._release()
        super().on_connection_close()

    def data_received(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._too_big or self._busy:
            return
        if self._size > self.max_payload:
            self._too_big = True
        elif not self._declared and not self._reserve(len(chunk)):
            self._busy = True
        else:
            if not self._body:
                self._body = chunk  # most bodies come in one chunk: taken as it is, no copy
            else:
                if isinstance(self._body, bytes):
                    self._body = bytearray(self._body)
                self._body += chunk  # grows in place (realloc), no join copy at the end
            return
        self._body = b""  # the rest is read and dropped, to answer 413 or 503 once it is all in
        self._give_back()

    async def post(self) -> None:
        self._complete = True
        self.pending.arrived(self)
        if self._too_big:
            self.fail(413, f"body of {self._size} bytes is larger than the limit of {self.max_payload} (--max-payload)")
        if self._busy:
            self._refuse_busy(self._size)
        body, self._body = self._body, b""
        if not body:
            self.fail(400, "empty body: send a msgpack batch {client, seq, ops}")
        try:
            client, seq, ops = protocol.validate_batch(protocol.unpackb(body))
            duplicate = await self.store.ingest(client, seq, ops, body)
        except protocol.ProtocolError as exc:
            self.fail(400, str(exc), exc.op)
        except StoreError as exc:
            self.fail(503, str(exc))
        self.set_header("Content-Type", "application/msgpack")
        ack = {"ok": True, "seq": seq, "duplicate": duplicate}
        # the stored alerts this writer's earlier batches raised, if any are there now (never waited for)
        alerts = self.diagnosis.mail_for(client) if self.diagnosis is not None else None
        if alerts:
            ack["alerts"] = alerts
        self.finish(protocol.packb(ack))


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

    def get(self) -> None:
        client = self.arg("client")
        if client is None:
            self.fail(400, "name the client with ?client=ID")
        self.send({"client": client, "seq": self.store.clients.get(client, 0)})


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
        _, w = self.window()
        if w.kind != "image" or not w.steps:
            self.fail(404, f"window {w.win!r} holds no images")
        step = self.arg("step", int, w.last_step())
        entry = w.steps.get(step)
        if entry is None:
            self.fail(404, f"window {w.win!r} has no step {step}")
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
            body, ctype = json.dumps(to_json(window_state(w)), allow_nan=False), "application/json"
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
            self.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path=self.base_url + "/")
            query = [(k, v) for k, vs in self.request.query_arguments.items() if k != "token" for v in vs]
            rest = urllib.parse.urlencode([(k, v.decode()) for k, v in query])
            self.redirect(self.base_url + "/" + ("?" + rest if rest else ""))
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
