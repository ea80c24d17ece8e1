"""HTTP transport on the standard library: one keep-alive connection per user.

The sender thread owns one `Transport`; reads from user threads make their own,
so no connection is ever shared between threads.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import struct
import sys
import urllib.parse
from typing import Any

from livepanel import protocol

DEFAULT_URL = "http://127.0.0.1:8097"
MSGPACK = "application/msgpack"
MAX_HEAD = 64 * 1024  # bytes of an answer's status line and headers


def resolve_url(url: str | None) -> str:
    """The server URL: the argument, else $LIVEPANEL_URL (the first when it lists several), else the local
    default."""
    url = url or os.environ.get("LIVEPANEL_URL", "").split(",")[0].strip() or DEFAULT_URL
    if not isinstance(url, str):
        raise TypeError(f"url must be a string such as {DEFAULT_URL!r}, got {type(url).__name__}")
    if "://" not in url:
        url = "http://" + url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url must look like {DEFAULT_URL!r}, got {url!r}")
    return url.rstrip("/")


def resolve_urls(url: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """The server URLs a client fails over between, in order: a list or tuple of URLs (nodes sharing one
    store), or one URL (a single server, or a balancer in front of several), else $LIVEPANEL_URL (commas
    separate several), else the local default. Every URL is http(s); mixed schemes are refused, since the
    token goes to every URL and must not travel in the clear to one of them."""
    if url is None and "," in os.environ.get("LIVEPANEL_URL", ""):
        url = [u.strip() for u in os.environ["LIVEPANEL_URL"].split(",")]
    if url is None or isinstance(url, str):
        return [resolve_url(url)]
    if not isinstance(url, (list, tuple)):
        raise TypeError(f"url must be a string or a list of strings such as {DEFAULT_URL!r}, got {type(url).__name__}")
    if not url:
        raise ValueError("url: the list of server URLs is empty; give at least one, such as " + repr(DEFAULT_URL))
    urls = []
    for i, one in enumerate(url):
        if not isinstance(one, str) or not one.strip():
            raise ValueError(f"url[{i}] must be a server URL such as {DEFAULT_URL!r}, got {one!r}")
        try:
            urls.append(resolve_url(one.strip()))
        except ValueError as exc:
            raise ValueError(f"url[{i}]: {exc}") from None
    if len(set(urls)) != len(urls):
        raise ValueError(f"url: the same server is listed twice in {urls!r}")
    schemes = {urllib.parse.urlsplit(u).scheme for u in urls}
    if len(schemes) > 1:
        raise ValueError(f"url: mix of http and https in {urls!r}; the token goes to every URL, so use one scheme")
    return urls


def resolve_token(token: str | None) -> str | None:
    """The token: the argument, else $LIVEPANEL_TOKEN, else none."""
    token = token if token is not None else os.environ.get("LIVEPANEL_TOKEN")
    if token is not None and not isinstance(token, str):
        raise TypeError(f"token must be a string, got {type(token).__name__}")
    return token or None


class HTTPError(Exception):
    """An answer other than 200; `status` and the server's `message` say why."""

    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class Transport:
    """A keep-alive HTTP/1.1 connection that reconnects after any failure.

    Why not http.client: this runs on the sender thread, and each of its Python steps waits for the GIL
    behind the training loop and then holds the loop up. http.client's request path (header objects,
    two sends, the email parser for the answer's headers, a poll before each read) cost about 250 µs
    of CPU per request here, all of it taken from the training step (docs/workflow.md, "What watch
    costs"). Here a request is one send of prebuilt bytes, and its answer usually one receive.
    """

    def __init__(self, url: str, token: str | None, timeout: float = 10.0):
        parts = urllib.parse.urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if self.https else 80)
        self.base = parts.path.rstrip("/") + protocol.API
        self.timeout = timeout
        for what, text in (("url path", self.base), ("token", token or "")):
            if any(ord(c) <= 32 or ord(c) >= 127 for c in text):  # would break (or forge) the request's lines
                raise ValueError(f"the {what} must be printable ASCII without spaces, got {text!r}")
        host = f"[{self.host}]" if ":" in self.host else self.host
        headers = {"Host": f"{host}:{self.port}", "Content-Type": MSGPACK, "Accept": MSGPACK}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._headers = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode("latin-1")
        self._sock: socket.socket | None = None
        self._rest = b""  # bytes received past the last answer's end

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.https:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
            elif sys.platform.startswith("linux"):
                # The kernel's timeouts on a blocking socket: one system call (one GIL release) per send
                # or receive, where a Python-level timeout polls before each.
                tv = struct.pack("ll", int(self.timeout), int(self.timeout % 1 * 1e6))
                sock.settimeout(None)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
        except BaseException:
            sock.close()
            raise
        return sock

    def close(self) -> None:
        sock, self._sock, self._rest = self._sock, None, b""
        if sock is not None:
            sock.close()

    def request(
        self, method: str, path: str, body: bytes | None = None, query: dict | None = None
    ) -> tuple[int, bytes]:
        """One request; raises OSError (incl. timeouts and broken answers) on transport failure."""
        target = self.base + path
        if query:
            target += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        head = f"{method} {target} HTTP/1.1\r\n".encode() + self._headers
        if body is not None:
            head += b"Content-Length: %d\r\n" % len(body)
        try:
            if self._sock is None:
                self._sock = self._connect()
            if body is not None and len(body) < 1 << 16:  # one send; a large body goes on its own, not copied
                self._sock.sendall(head + b"\r\n" + body)
            else:
                self._sock.sendall(head + b"\r\n")
                if body:
                    self._sock.sendall(body)
            status, data, keep = self._answer()
        except BaseException as exc:
            self.close()
            if isinstance(exc, BlockingIOError):  # SO_RCVTIMEO/SO_SNDTIMEO ran out
                raise TimeoutError(f"no answer from {self.host}:{self.port} within {self.timeout} s") from None
            raise
        if not keep:
            self.close()
        return status, data

    def _recv(self) -> bytes:
        assert self._sock is not None
        data = self._sock.recv(1 << 16)
        if not data:
            raise ConnectionError("the server closed the connection in the middle of an answer")
        return data

    def _answer(self) -> tuple[int, bytes, bool]:
        """Read one answer: (status, body, whether the connection stays open)."""
        buf = self._rest
        while True:
            end = buf.find(b"\r\n\r\n")
            while end < 0:
                if len(buf) > MAX_HEAD:
                    raise ConnectionError(f"the answer's headers exceed {MAX_HEAD} bytes")
                buf += self._recv()
                end = buf.find(b"\r\n\r\n")
            lines = buf[:end].decode("latin-1").split("\r\n")
            buf = buf[end + 4 :]
            version, _, rest = lines[0].partition(" ")
            code = rest[:3]
            if not version.startswith("HTTP/1.") or not code.isdigit():
                raise ConnectionError(f"not an HTTP answer: {lines[0][:80]!r}")
            status = int(code)
            if not 100 <= status < 200:  # an interim answer (100 Continue) is followed by the real one
                break
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        keep = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        if status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body, buf = self._chunked(buf)
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise ConnectionError(f"bad Content-Length {headers['content-length']!r}") from None
            body, buf = self._exactly(buf, length)
        else:  # the body runs to the end of the connection
            body, buf, keep = buf + self._until_closed(), b"", False
        self._rest = buf
        return status, body, keep

    def _until_closed(self) -> bytes:
        assert self._sock is not None
        parts = []
        while data := self._sock.recv(1 << 16):
            parts.append(data)
        return b"".join(parts)

    def _exactly(self, buf: bytes, length: int) -> tuple[bytes, bytes]:
        """`length` bytes of body (some may be in `buf` already) and what follows them."""
        if len(buf) >= length:
            return buf[:length], buf[length:]
        assert self._sock is not None
        body = bytearray(length)
        body[: len(buf)] = buf
        view, got = memoryview(body), len(buf)
        while got < length:
            n = self._sock.recv_into(view[got:])
            if not n:
                raise ConnectionError(f"the server closed the connection after {got} of {length} bytes")
            got += n
        return bytes(body), b""

    def _chunked(self, buf: bytes) -> tuple[bytes, bytes]:
        """A body in chunked transfer encoding (a proxy may answer so), and what follows it."""
        parts = []
        while True:
            while (end := buf.find(b"\r\n")) < 0:
                buf += self._recv()
            try:
                size = int(buf[:end].split(b";")[0], 16)
            except ValueError:
                raise ConnectionError(f"bad chunk size {buf[:end][:40]!r}") from None
            buf = buf[end + 2 :]
            if size == 0:
                break
            chunk, buf = self._exactly(buf, size + 2)  # the chunk and its CRLF
            parts.append(chunk[:size])
        while True:  # trailer lines (none from our server), up to an empty line
            while (end := buf.find(b"\r\n")) < 0:
                buf += self._recv()
            line, buf = buf[:end], buf[end + 2 :]
            if not line:
                return b"".join(parts), buf

    def call(self, method: str, path: str, body: bytes | None = None, **query: Any) -> Any:
        """A request whose answer must be 200: returns the decoded msgpack body, else raises HTTPError."""
        status, data = self.request(method, path, body, query)
        if status != 200:
            raise HTTPError(status, error_message(data))
        return protocol.decode_arrays(protocol.unpackb(data))


def error_message(data: bytes) -> str:
    """The server's `{"error": msg}` text, or the raw body when it is not that."""
    return error_details(data)[0]


def error_details(data: bytes) -> tuple[str, int | None]:
    """The server's error text, and the index of the refused operation when it names one (`"op"`)."""
    for decode in (json.loads, protocol.unpackb):
        try:
            obj = decode(data)
        except ValueError:
            continue
        if isinstance(obj, dict) and "error" in obj:
            op = obj.get("op")
            return str(obj["error"]), op if type(op) is int and op >= 0 else None
    return data[:500].decode("utf-8", "replace") or "(empty answer)", None
