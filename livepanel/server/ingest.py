"""POST /api/v1/ingest: a msgpack batch, acknowledged once committed; and the bound on bodies arriving."""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING, Any, NoReturn

import tornado.web
from tornado.ioloop import IOLoop

from livepanel import embedding, protocol
from livepanel.protocol import quote
from livepanel.server import auth
from livepanel.server.handlers import BaseHandler
from livepanel.server.store import Store, StoreError

if TYPE_CHECKING:
    from livepanel.server.diagnosis import Diagnosis

log = logging.getLogger("livepanel.server")
CHUNKED_LIMIT = 1 << 30  # bodies past this are cut off rather than read to say 413
MSGPACK = "application/msgpack"
_LENGTH = re.compile(r"[0-9]{1,18}")


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
            await embedding.project_ahead(ops)  # a large step's PCA on a thread, not on the event loop
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
